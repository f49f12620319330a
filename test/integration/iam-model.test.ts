import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_NAME } from '../../lib/construct-ids.js';
import { LocalIam } from '../../local/iam/authorizer.js';
import { buildIamModel, type IamModel, servicePrincipal } from '../../local/iam/model.js';
import { type FunctionName, type LocalAssembly, loadAssembly } from '../../local/template.js';
import { synth } from '../infra/synth.js';

// The IAM model local mode reads from the synthesized template, judged call by call as AWS would.

let dir: string;
let assembly: LocalAssembly;
let model: IamModel;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'iam-model-'));
  writeFileSync(
    join(dir, `${STACK_NAME}.template.json`),
    JSON.stringify(synth({ 'aws:cdk:enable-path-metadata': true }).template.toJSON()),
  );
  assembly = loadAssembly(dir, STACK_NAME, 'http://127.0.0.1:9');
  model = buildIamModel(assembly);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const judge = (call: Parameters<LocalIam['check']>[0]) =>
  new LocalIam(model, { mode: 'enforce' }).check(call);
const bucket = (which: 'input' | 'output', key = '') =>
  `arn:aws:s3:::${which === 'input' ? assembly.names.inputBucket : assembly.names.outputBucket}${key ? `/${key}` : ''}`;
const table = () => `arn:aws:dynamodb:us-east-1:000000000000:table/${assembly.names.tableName}`;

describe('the principals of the synthesized template', () => {
  it('gives each function its own role session, as Lambda does', () => {
    expect(model.functions.submit.arn).toMatch(
      /^arn:aws:sts::000000000000:assumed-role\/AvatarPipeline-PipelineSubmitFunctionRole[0-9A-F]+\/avatar-pipeline-submit$/,
    );
    const keys = new Set(Object.values(model.functions).map((f) => f.accessKeyId));
    expect(keys.size).toBe(9);
    for (const key of keys) expect(key).toMatch(/^ASIA[A-Z0-9]{16}$/);
  });

  it.each<[FunctionName, string, () => string]>([
    ['ingest', 'states:StartExecution', () => assembly.names.stateMachineArn],
    ['ingest', 'dynamodb:PutItem', table],
    ['validate', 's3:GetObject', () => bucket('input', 'inbox/promo/anna.png')],
    ['validate', 's3:PutObject', () => bucket('input', 'normalized/x/anna.png')],
    ['submit', 's3:GetObject', () => bucket('input', 'normalized/x/anna.png')],
    ['submit', 'secretsmanager:GetSecretValue', () => assembly.names.webhookSecretArn],
    ['submit', 'states:SendTaskSuccess', () => assembly.names.stateMachineArn],
    // A retried Submit step that finds Runware already reported an error fails its own token (notifyIfDone).
    ['submit', 'states:SendTaskFailure', () => assembly.names.stateMachineArn],
    ['webhook', 'states:SendTaskFailure', () => assembly.names.stateMachineArn],
    ['deliver', 's3:PutObject', () => bucket('output', 'promo/anna.mp4')],
    ['deliver', 's3:DeleteObject', () => bucket('output', 'promo/anna.error.json')],
    ['fail', 'events:PutEvents', () => 'arn:aws:events:us-east-1:000000000000:event-bus/default'],
    ['fail', 's3:PutObject', () => bucket('output', 'promo/anna.error.json')],
    ['sweep', 'dynamodb:DeleteItem', table],
  ])('lets %s call %s', (fn, action, resource) => {
    expect(judge({ principal: model.functions[fn], action, resource: resource() })).toEqual({
      allowed: true,
    });
  });

  it.each<[FunctionName, string, () => string]>([
    ['validate', 's3:PutObject', () => bucket('input', 'inbox/promo/anna.png')],
    ['validate', 'dynamodb:DeleteItem', table],
    ['submit', 's3:GetObject', () => bucket('output', 'archive/x.mp4')],
    ['record', 'states:SendTaskFailure', () => assembly.names.stateMachineArn],
    ['deliver', 's3:DeleteObject', () => bucket('output', 'promo/anna.json')],
    ['webhook', 'states:StartExecution', () => assembly.names.stateMachineArn],
    ['poll', 'secretsmanager:GetSecretValue', () => assembly.names.webhookSecretArn],
  ])('refuses %s a call to %s, in AWS words', (fn, action, resource) => {
    const verdict = judge({ principal: model.functions[fn], action, resource: resource() });
    expect(verdict).toEqual({
      allowed: false,
      message: `User: ${model.functions[fn].arn} is not authorized to perform: ${action} on resource: ${resource()} because no identity-based policy allows the ${action} action`,
    });
  });

  it('lets the state machine invoke the step functions and not ingest', () => {
    const invoke = (fn: FunctionName) =>
      judge({
        principal: model.stateMachine,
        action: 'lambda:InvokeFunction',
        resource: assembly.functions[fn].arn,
      }).allowed;
    expect(invoke('validate')).toBe(true);
    expect(invoke('fail')).toBe(true);
    expect(invoke('ingest')).toBe(false);
  });

  it('lets the rules invoke their targets only from their own rule, through the function policies', () => {
    const rule = (id: string) => assembly.rules.find((r) => r.id === id)?.arn ?? '';
    const fromRule = (fn: FunctionName, sourceArn: string) =>
      judge({
        principal: servicePrincipal('events.amazonaws.com'),
        action: 'lambda:InvokeFunction',
        resource: assembly.functions[fn].arn,
        resourcePolicy: model.functionPolicies.get(assembly.functions[fn].arn) ?? [],
        context: { 'aws:SourceArn': sourceArn },
      }).allowed;
    expect(fromRule('ingest', rule('InputObjectCreated'))).toBe(true);
    expect(fromRule('ingest', rule('OrphanSweepSchedule'))).toBe(false);
    expect(fromRule('sweep', rule('OrphanSweepSchedule'))).toBe(true);
    expect(fromRule('validate', rule('InputObjectCreated'))).toBe(false);
  });

  it('refuses the buckets over plain HTTP even to the administrator (their TLS-only policies)', () => {
    const put = (secure: string) =>
      judge({
        principal: model.admin,
        action: 's3:PutObject',
        resource: bucket('input', 'inbox/a.png'),
        resourcePolicy: model.bucketPolicies.get(assembly.names.inputBucket) ?? [],
        context: { 'aws:SecureTransport': secure },
      }).allowed;
    expect(put('true')).toBe(true);
    expect(put('false')).toBe(false);
  });
});
