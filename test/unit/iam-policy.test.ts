import { describe, expect, it } from 'vitest';
import {
  evaluate,
  type Principal,
  type Request,
  refusalMessage,
  type SourcedStatement,
  type Statement,
  wildcardMatch,
} from '../../local/iam/policy.js';

// Cases from AWS's documented evaluation logic and policy element reference:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

const ROLE = 'arn:aws:iam::000000000000:role/AvatarPipeline-SubmitRole';
const sourced = (statements: Statement[], prefix = 'P'): SourcedStatement[] =>
  statements.map((statement, i) => ({ statement, id: `${prefix}#${i}` }));
const role = (statements: Statement[]): Principal => ({
  arn: 'arn:aws:sts::000000000000:assumed-role/AvatarPipeline-SubmitRole/avatar-pipeline-submit',
  kind: 'AWS',
  names: [ROLE, 'arn:aws:iam::000000000000:root', '000000000000'],
  identity: sourced(statements),
});
const request = (action: string, resource: string, context: Request['context'] = {}): Request => ({
  action,
  resource,
  context: { 'aws:SecureTransport': 'true', ...context },
});

describe('wildcards', () => {
  it.each([
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket/inbox/a.png', true],
    ['arn:aws:s3:::bucket/inbox/*', 'arn:aws:s3:::bucket/normalized/a.png', false],
    ['arn:aws:s3:::bucket/*.mp4', 'arn:aws:s3:::bucket/promo/anna.mp4', true],
    ['arn:aws:s3:::bucket/*.mp4', 'arn:aws:s3:::bucket/promo/anna.mp4.json', false],
    [
      'arn:aws:secretsmanager:us-east-1:1:secret:key-??????',
      'arn:aws:secretsmanager:us-east-1:1:secret:key-AbCdEf',
      true,
    ],
    [
      'arn:aws:secretsmanager:us-east-1:1:secret:key-??????',
      'arn:aws:secretsmanager:us-east-1:1:secret:key-AbCdE',
      false,
    ],
    ['arn:aws:s3:::bucket/a.b', 'arn:aws:s3:::bucket/aXb', false],
  ])('%s matches %s: %s', (pattern, value, expected) => {
    expect(wildcardMatch(pattern, value)).toBe(expected);
  });

  it('matches action names without regard to case, resources with it', () => {
    const principal = role([{ Effect: 'Allow', Action: 'S3:getobject', Resource: 'arn:aws:s3:::b/*' }]);
    expect(evaluate(principal, request('s3:GetObject', 'arn:aws:s3:::b/k')).allowed).toBe(true);
    expect(evaluate(principal, request('s3:GetObject', 'arn:aws:s3:::B/k')).allowed).toBe(false);
  });
});

describe('evaluation logic within one account', () => {
  it('denies implicitly what no statement allows, in AWS words', () => {
    const principal = role([{ Effect: 'Allow', Action: 'states:SendTaskSuccess', Resource: 'arn:sm' }]);
    const req = request('states:SendTaskFailure', 'arn:sm');
    const decision = evaluate(principal, req);
    expect(decision).toEqual({
      allowed: false,
      reason: 'because no identity-based policy allows the states:SendTaskFailure action',
    });
    if (decision.allowed) return;
    expect(refusalMessage(principal, req, decision.reason)).toBe(
      'User: arn:aws:sts::000000000000:assumed-role/AvatarPipeline-SubmitRole/avatar-pipeline-submit is not authorized to perform: states:SendTaskFailure on resource: arn:sm because no identity-based policy allows the states:SendTaskFailure action',
    );
  });

  it('lets an explicit deny win over any allow, and names the statement', () => {
    const principal = role([
      { Effect: 'Allow', Action: 's3:*', Resource: '*' },
      { Effect: 'Deny', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::b/inbox/*' },
    ]);
    expect(evaluate(principal, request('s3:DeleteObject', 'arn:aws:s3:::b/inbox/x'))).toEqual({
      allowed: false,
      reason: 'with an explicit deny in an identity-based policy',
      by: 'P#1',
    });
    expect(evaluate(principal, request('s3:DeleteObject', 'arn:aws:s3:::b/out/x'))).toEqual({
      allowed: true,
      by: ['P#0'],
    });
  });

  it('allows through a resource policy that names the principal, without an identity allow', () => {
    const bucket = sourced([{ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 's3:GetObject' }], 'B');
    expect(evaluate(role([]), request('s3:GetObject', 'arn:aws:s3:::b/k'), bucket)).toEqual({
      allowed: true,
      by: ['B#0'],
    });
    const other = sourced([{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::1:role/x' }, Action: 's3:*' }]);
    expect(evaluate(role([]), request('s3:GetObject', 'arn:aws:s3:::b/k'), other).allowed).toBe(false);
  });

  it('refuses every S3 call over plain HTTP under the TLS-only bucket policy, and none over TLS', () => {
    // The statement CDK's enforceSSL writes into each bucket policy.
    const tlsOnly = sourced([
      {
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 's3:*',
        Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b/*'],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
    const principal = role([{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/*' }]);
    expect(evaluate(principal, request('s3:PutObject', 'arn:aws:s3:::b/k'), tlsOnly).allowed).toBe(true);
    expect(
      evaluate(
        principal,
        request('s3:PutObject', 'arn:aws:s3:::b/k', { 'aws:SecureTransport': 'false' }),
        tlsOnly,
      ),
    ).toMatchObject({ allowed: false, reason: 'with an explicit deny in a resource-based policy' });
  });

  it('needs a resource policy for a service principal, with its source ARN condition', () => {
    const permission = sourced([
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'lambda:InvokeFunction',
        Resource: 'arn:aws:lambda:us-east-1:0:function:ingest',
        Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:events:us-east-1:0:rule/InputObjectCreated' } },
      },
    ]);
    const events: Principal = {
      arn: 'events.amazonaws.com',
      kind: 'Service',
      names: ['events.amazonaws.com'],
      identity: [],
    };
    const invoke = (sourceArn: string) =>
      evaluate(
        events,
        request('lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:0:function:ingest', {
          'aws:SourceArn': sourceArn,
        }),
        permission,
      );
    expect(invoke('arn:aws:events:us-east-1:0:rule/InputObjectCreated').allowed).toBe(true);
    expect(invoke('arn:aws:events:us-east-1:0:rule/Other')).toEqual({
      allowed: false,
      reason: 'because no resource-based policy allows the lambda:InvokeFunction action',
    });
    const apigateway: Principal = {
      ...events,
      arn: 'apigateway.amazonaws.com',
      names: ['apigateway.amazonaws.com'],
    };
    expect(
      evaluate(
        apigateway,
        request('lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:0:function:ingest', {
          'aws:SourceArn': 'arn:aws:events:us-east-1:0:rule/InputObjectCreated',
        }),
        permission,
      ).allowed,
    ).toBe(false);
  });
});

describe('conditions', () => {
  const allowWhen = (condition: Statement['Condition']) =>
    role([{ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::b', Condition: condition }]);
  const list = (context: Request['context']) => request('s3:ListBucket', 'arn:aws:s3:::b', context);

  it('ORs the values of one key and ANDs keys and operators', () => {
    const principal = allowWhen({
      StringLike: { 's3:prefix': ['inbox/*', 'normalized/*'] },
      StringEquals: { 'aws:PrincipalAccount': '000000000000' },
    });
    expect(
      evaluate(principal, list({ 's3:prefix': 'normalized/x', 'aws:PrincipalAccount': '000000000000' }))
        .allowed,
    ).toBe(true);
    expect(
      evaluate(principal, list({ 's3:prefix': 'archive/x', 'aws:PrincipalAccount': '000000000000' })).allowed,
    ).toBe(false);
    expect(evaluate(principal, list({ 's3:prefix': 'inbox/x', 'aws:PrincipalAccount': '1' })).allowed).toBe(
      false,
    );
  });

  it('fails a condition on a missing key, unless IfExists or Null says otherwise', () => {
    expect(evaluate(allowWhen({ StringLike: { 's3:prefix': 'inbox/*' } }), list({})).allowed).toBe(false);
    expect(evaluate(allowWhen({ StringLikeIfExists: { 's3:prefix': 'inbox/*' } }), list({})).allowed).toBe(
      true,
    );
    expect(evaluate(allowWhen({ Null: { 's3:prefix': 'true' } }), list({})).allowed).toBe(true);
    expect(evaluate(allowWhen({ Null: { 's3:prefix': 'true' } }), list({ 's3:prefix': 'x' })).allowed).toBe(
      false,
    );
  });

  it('treats a negated operator as true only when the value matches none of the listed ones', () => {
    const principal = allowWhen({ StringNotEquals: { 's3:prefix': ['a', 'b'] } });
    expect(evaluate(principal, list({ 's3:prefix': 'c' })).allowed).toBe(true);
    expect(evaluate(principal, list({ 's3:prefix': 'b' })).allowed).toBe(false);
  });

  it('matches ArnLike part by part, condition keys without regard to case', () => {
    const principal = allowWhen({
      ArnLike: { 'AWS:SourceArn': 'arn:aws:states:us-east-1:0:stateMachine:*' },
    });
    expect(
      evaluate(principal, list({ 'aws:SourceArn': 'arn:aws:states:us-east-1:0:stateMachine:A' })).allowed,
    ).toBe(true);
    expect(
      evaluate(principal, list({ 'aws:SourceArn': 'arn:aws:states:eu-west-1:0:stateMachine:A' })).allowed,
    ).toBe(false);
  });

  it('refuses to guess an operator it does not implement', () => {
    const principal = allowWhen({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } });
    expect(() => evaluate(principal, list({ 'aws:SourceIp': '10.0.0.1' }))).toThrow(
      /IpAddress is not supported/,
    );
  });
});
