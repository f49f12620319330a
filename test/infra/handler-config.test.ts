import type { CfnResource } from 'aws-cdk-lib';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PIPELINE_FUNCTION_NAMES, type PipelineFunctionName } from '../../lib/function-names';
import { type Synthesized, synth } from './synth';

/** Set by the house function for Node and Powertools, not read by the handlers' config. */
const HOUSE = new Set(['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_LOG_LEVEL']);

let s: Synthesized;
beforeAll(() => {
  s = synth();
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

/** Stand-ins for deploy-time references, shaped like what CloudFormation puts there (ARNs, URLs). */
function resolve(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  const node = value as Record<string, unknown>;
  if ('Ref' in node) return `arn:aws:local:us-east-1:123456789012:${String(node.Ref)}`;
  if ('Fn::GetAtt' in node) return `https://${String((node['Fn::GetAtt'] as string[])[0])}.example.com`;
  if ('Fn::Join' in node) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(resolve).join(separator);
  }
  throw new Error(`unsupported value ${JSON.stringify(value)}`);
}

/** The settings a function receives from the stack, references resolved. */
function settingsOf(name: PipelineFunctionName): Record<string, string> {
  const fn = s.stack.pipeline.functions[name];
  const id = s.stack.getLogicalId(fn.node.defaultChild as CfnResource);
  const variables = (
    s.template.toJSON().Resources[id] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }
  ).Properties.Environment.Variables;
  return Object.fromEntries(
    Object.entries(variables)
      .filter(([key]) => !HOUSE.has(key))
      .map(([key, value]) => [key, resolve(value)]),
  );
}

function stubEnvironment(settings: Record<string, string>, without?: string): void {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  for (const [key, value] of Object.entries(settings)) vi.stubEnv(key, key === without ? undefined : value);
}

const load = (name: PipelineFunctionName) => import(`../../lambdas/${name}/handler.ts`);

describe.each(PIPELINE_FUNCTION_NAMES)('the %s function', (name) => {
  it('starts with the environment the stack gives it', async () => {
    stubEnvironment(settingsOf(name));
    await expect(load(name)).resolves.toHaveProperty('handler');
  });

  it('fails at start, naming it, without any one variable the stack sets (no fallback values)', async () => {
    const settings = settingsOf(name);
    expect(Object.keys(settings).length).toBeGreaterThan(0);
    for (const key of Object.keys(settings)) {
      vi.resetModules();
      vi.unstubAllEnvs();
      stubEnvironment(settings, key);
      await expect(load(name), key).rejects.toThrow(new RegExp(`Invalid function configuration \\(${key}:`));
    }
  });
});
