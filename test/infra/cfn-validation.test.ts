import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { build, cdkJsonContext } from './synth';

/**
 * aws-cdk-lib checks every synthesized template against CloudFormation's resource schemas (its built-in
 * validation, run in WebAssembly). It costs about 6 CPU-seconds a synth, so the rest of the suite turns it off
 * (`CDK_VALIDATION=false` in vitest.config.ts); this file runs it on the real stack. cdk.json makes its findings
 * errors (`@aws-cdk/core:validateAgainstDefaultRules`), so `cdk synth` and `cdk deploy` stop on a template
 * CloudFormation would refuse instead of printing a warning.
 */
const FLAG = '@aws-cdk/core:validateAgainstDefaultRules';

let saved: string | undefined;
beforeEach(() => {
  saved = process.env.CDK_VALIDATION;
  delete process.env.CDK_VALIDATION;
});
afterEach(() => {
  if (saved === undefined) delete process.env.CDK_VALIDATION;
  else process.env.CDK_VALIDATION = saved;
});

describe("CloudFormation's own template checks at synth", () => {
  it('are errors, not warnings: cdk.json sets the flag', () => {
    expect(cdkJsonContext()[FLAG]).toBe(true);
  });

  it('pass for the stack', () => {
    const { app } = build();
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations?: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
  });

  it('stop the synth of a template CloudFormation would refuse', () => {
    const { app, stack } = build();
    const fn = stack.node
      .findAll()
      .find((c) => (c as { cfnResourceType?: string }).cfnResourceType === 'AWS::Lambda::Function') as
      | CfnFunction
      | undefined;
    if (!fn) throw new Error('The stack has no Lambda function');
    fn.addPropertyOverride('MemorySize', 'a lot');
    expect(() => app.synth()).toThrow(/MemorySize/);
  });
});
