import { describe, expect, it } from 'vitest';
import { buildReport, renderReport, type UsageFile, unusedGrants } from '../../local/iam/report.js';

const catalog: UsageFile['catalog'] = [
  {
    id: 'SubmitPolicy#0',
    owner: 'AvatarPipeline-SubmitRole',
    statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::in/inbox/*' },
  },
  {
    id: 'SubmitPolicy#1',
    owner: 'AvatarPipeline-SubmitRole',
    statement: { Effect: 'Allow', Action: ['xray:PutTraceSegments'], Resource: '*' },
  },
  {
    id: 'SubmitPolicy#2',
    owner: 'AvatarPipeline-SubmitRole',
    statement: { Effect: 'Allow', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::in/*' },
  },
];

describe('the least-privilege report', () => {
  it('adds the calls of every stack per statement and names the grants that allowed nothing', () => {
    const report = buildReport([
      { usage: { 'SubmitPolicy#0': 3 }, catalog, refusals: [] },
      { usage: { 'SubmitPolicy#0': 2 }, catalog, refusals: [] },
    ]);
    expect(report.rows.map((r) => [r.id, r.calls, r.notExercised !== undefined])).toEqual([
      ['SubmitPolicy#0', 5, false],
      ['SubmitPolicy#1', 0, true],
      ['SubmitPolicy#2', 0, false],
    ]);
    expect(unusedGrants(report).map((r) => r.id)).toEqual(['SubmitPolicy#2']);
    expect(renderReport(report)).toContain('| SubmitPolicy#2 | s3:DeleteObject | in/* | **0: unused** |');
  });

  it('counts refusals only from stacks that did not cut a permission on purpose', () => {
    const refusal = {
      principal: 'p',
      action: 's3:GetObject',
      resource: 'r',
      message: 'User: p is not authorized',
    };
    const report = buildReport([
      { usage: {}, catalog, refusals: [refusal], deliberate: true },
      { usage: {}, catalog, refusals: [{ ...refusal, message: 'unexpected' }] },
    ]);
    expect(report.unexpectedRefusals.map((r) => r.message)).toEqual(['unexpected']);
  });
});
