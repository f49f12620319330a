import { beforeAll, describe, expect, it } from 'vitest';
import { CONSTRUCT_IDS, CONSTRUCT_PATHS, STACK_NAME } from '../../lib/construct-ids';
import { functionConstructId, PIPELINE_FUNCTION_NAMES } from '../../lib/function-names';
import { type Synthesized, synth } from './synth';

let s: Synthesized;
let paths: Map<string, string>;
beforeAll(() => {
  // The CLI turns path metadata on; local mode reads it from cdk.out.
  s = synth({ 'aws:cdk:enable-path-metadata': true });
  const resources = s.template.toJSON().Resources as Record<
    string,
    { Type: string; Metadata?: Record<string, unknown> }
  >;
  paths = new Map(Object.values(resources).map((r) => [String(r.Metadata?.['aws:cdk:path'] ?? ''), r.Type]));
});

describe('the names local mode and monitoring look up', () => {
  it.each(Object.entries(CONSTRUCT_PATHS))('finds %s at its construct path', (_name, path) => {
    expect(paths.get(`${STACK_NAME}/${path}/Resource`)).toBeDefined();
  });

  it.each(PIPELINE_FUNCTION_NAMES)(
    'finds the %s function at its construct id, with an error alarm named after it',
    (name) => {
      expect(
        paths.get(`${STACK_NAME}/${CONSTRUCT_IDS.functions.id}/${functionConstructId(name)}/Resource`),
      ).toBe('AWS::Lambda::Function');
      expect(
        paths.get(`${STACK_NAME}/${CONSTRUCT_IDS.monitoring.id}/${functionConstructId(name)}Errors/Resource`),
      ).toBe('AWS::CloudWatch::Alarm');
    },
  );
});
