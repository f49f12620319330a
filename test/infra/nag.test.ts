import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Built, build } from './synth';

/**
 * cdk-nag 3 is a CDK validation plugin: registered with `Validations.of(app).addPlugins(...)` before synthesis (as
 * bin/app.ts does), it fails synthesis on any unacknowledged finding. `validateScope` runs the same rules directly
 * and returns the findings, which makes a failure readable.
 */
describe('cdk-nag AwsSolutions', () => {
  let built: Built;
  beforeAll(() => {
    built = build();
  });

  const findings = (severity: 'error' | 'warning') =>
    new AwsSolutionsChecks(undefined, { verbose: true })
      .validateScope(built.stack)
      .violations.filter((v) => v.severity === severity)
      .map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);

  it('reports no error', () => {
    expect(findings('error')).toEqual([]);
  });

  it('reports no warning', () => {
    expect(findings('warning')).toEqual([]);
  });

  it('lets synthesis pass with the plugin registered as in bin/app.ts, leaving no annotation', () => {
    Validations.of(built.app).addPlugins(new AwsSolutionsChecks(built.app, { verbose: true }));
    const annotations = Annotations.fromStack(built.stack); // synthesizes the app: the plugin runs here
    expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    expect(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
  });

  it('acknowledges each finding separately, with a reason', () => {
    const acknowledged: { path: string; id: string; reason: unknown }[] = [];
    const visit = (scope: IConstruct) => {
      for (const entry of scope.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
          acknowledged.push({ path: scope.node.path, id, reason });
        }
      }
      for (const child of scope.node.children) visit(child);
    };
    visit(build().stack);
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { path, id, reason } of acknowledged) {
      expect(typeof reason === 'string' && reason.length > 40, `${path} ${id}`).toBe(true);
      expect(id, path).toMatch(/AwsSolutions-[A-Z]+[0-9]+(\[.+\])?$/);
    }
  });

  it('would fail synthesis on an unacknowledged finding (the check is not vacuous)', () => {
    const careless = build();
    new s3.Bucket(careless.stack, 'Careless');
    const rules = new AwsSolutionsChecks().validateScope(careless.stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
    Validations.of(careless.app).addPlugins(new AwsSolutionsChecks(careless.app));
    expect(() => Annotations.fromStack(careless.stack)).toThrow(/AwsSolutions-S10/);
  });
});
