/**
 * The pipeline's functions: each lives in `lambdas/<name>/handler.ts` and exports `handler`. One list for the
 * CDK app, local mode and the tests. No imports, so local mode can read it without loading aws-cdk-lib.
 */
export const PIPELINE_FUNCTION_NAMES = [
  'ingest',
  'validate',
  'submit',
  'webhook',
  'poll',
  'record',
  'deliver',
  'fail',
  'sweep',
] as const;
export type PipelineFunctionName = (typeof PIPELINE_FUNCTION_NAMES)[number];

/** Construct id of a function (`IngestFunction`); its log group and role are `<id>LogGroup` and `<id>Role`. */
export function functionConstructId(name: PipelineFunctionName): string {
  return `${name.charAt(0).toUpperCase()}${name.slice(1)}Function`;
}
