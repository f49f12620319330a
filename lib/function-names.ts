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
