import type { CfnResource } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Synthesized, synth } from './synth';

/**
 * Least privilege, read from the synthesized template: what each function's role may do, on what, as the
 * complete list. The expected table below is written out from lib/pipeline.ts so that any widening (a new
 * action, a new resource, a new function) fails here and has to be stated on purpose. The properties after it
 * (who may read inputs, delete outputs, read secrets, complete task tokens...) read the same grants from another
 * angle, so that the table cannot be widened together with the code by accident. IAM is asserted only here.
 */

interface CfnResourceJson {
  Type: string;
  Properties?: Record<string, unknown>;
}
interface StatementJson {
  Effect?: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
/** resource label -> actions allowed on it. */
type Grants = Record<string, string[]>;

let s: Synthesized;
let resources: Record<string, CfnResourceJson>;
/** logical id -> readable label (`table`, `inputBucket`, `submitFunction`, `submitLogGroup`, ...). */
let labels: Map<string, string>;

const asList = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === undefined ? [] : [value];
const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  s.stack.getLogicalId(construct.node.defaultChild as CfnResource);

/** A CloudFormation value as a readable string: `{Fn::GetAtt: [<input bucket>, Arn]}/inbox/*` -> `inputBucket/inbox/*`. */
function render(node: unknown): string {
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'] as [string, unknown[]] | undefined;
    if (join) return join[1].map(render).join(join[0]);
    if (typeof record.Ref === 'string') {
      return record.Ref.startsWith('AWS::') ? `<${record.Ref}>` : label(record.Ref);
    }
    const getAtt = record['Fn::GetAtt'] as [string, string] | undefined;
    if (getAtt) return getAtt[1] === 'Arn' ? label(getAtt[0]) : `${label(getAtt[0])}.${getAtt[1]}`;
  }
  return `<unsupported ${JSON.stringify(node)}>`;
}
const label = (id: string) => labels.get(id) ?? `<unknown ${id}>`;

/** The functions of the pipeline, by name, as the template has them. */
function functionIds(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(s.stack.pipeline.functions).map(([name, fn]) => [name, logicalId(fn)]),
  );
}

/** The role a function runs with, read from the function resource itself. */
function roleOf(functionId: string): string {
  const role = resources[functionId]?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const id = role?.['Fn::GetAtt']?.[0];
  if (!id) throw new Error(`${functionId} has no role of this stack`);
  return id;
}

/** Every statement of every policy (inline, managed or AWS::IAM::Policy) attached to a role. */
function statementsOf(roleId: string): StatementJson[] {
  const out: StatementJson[] = [];
  const role = resources[roleId]?.Properties ?? {};
  for (const policy of asList(role.Policies) as { PolicyDocument: { Statement: StatementJson[] } }[]) {
    out.push(...policy.PolicyDocument.Statement);
  }
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const roles = asList(resource.Properties?.Roles) as { Ref?: string }[];
    if (!roles.some((r) => r.Ref === roleId)) continue;
    const document = resource.Properties?.PolicyDocument as { Statement: StatementJson[] };
    out.push(...document.Statement);
  }
  return out;
}

/** What a role may do: resource label -> sorted actions. */
function grantsOf(roleId: string): Grants {
  const grants: Record<string, Set<string>> = {};
  for (const st of statementsOf(roleId)) {
    for (const resource of asList(st.Resource).map(render)) {
      grants[resource] ??= new Set();
      for (const action of asList(st.Action)) grants[resource].add(String(action));
    }
  }
  return Object.fromEntries(
    Object.entries(grants)
      .map(([resource, actions]): [string, string[]] => [resource, [...actions].sort()])
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

const grantsOfFunction = (name: string) => grantsOf(roleOf(functionIds()[name] ?? `<no ${name}>`));

interface Grant {
  fn: string;
  action: string;
  resource: string;
}

/** Every (function, action, resource) of the pipeline's functions. */
function allGrants(): Grant[] {
  return Object.keys(functionIds()).flatMap((fn) =>
    Object.entries(grantsOfFunction(fn)).flatMap(([resource, actions]) =>
      actions.map((action) => ({ fn, action, resource })),
    ),
  );
}

/** The grants `keep` selects, per function (`<action> on <resource>`, sorted); functions with none left out. */
function grantsWhere(keep: (grant: Grant) => boolean): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const g of allGrants().filter(keep))
    out[g.fn] = [...(out[g.fn] ?? []), `${g.action} on ${g.resource}`];
  return Object.fromEntries(Object.entries(out).map(([fn, grants]) => [fn, grants.sort()]));
}

/** IAM resource wildcards (`*` matches any run of characters, `/` included; `?` one character). */
function arnMatches(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(value);
}

/** IAM action wildcards: does `granted` (e.g. `s3:Get*`) allow `action`? */
function actionAllows(granted: string, action: string): boolean {
  return arnMatches(granted.toLowerCase(), action.toLowerCase());
}

// ------------------------------------------------------------------------------------------ expectations

/** Single-item reads and writes and queries: no scans, batch writes or stream reads. */
const DYNAMODB_READ_WRITE = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'];
/** Ingest and sweep also delete orphan watches. */
const DYNAMODB_READ_WRITE_DELETE = [...DYNAMODB_READ_WRITE, 'dynamodb:DeleteItem'].sort();
const SECRET_READ = ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'];
const RUNWARE_API_KEY =
  'arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:avatar-pipeline/runware-api-key-??????';

/** Every function: its own log group, X-Ray (no resource type, hence `*`), and the job table with its indexes. */
const base = (fn: string, table = DYNAMODB_READ_WRITE): Grants => ({
  [`${fn}LogGroup`]: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  '*': ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
  table,
  'table/index/*': table,
});
/** The account's default EventBridge bus, where the pipeline's events go. */
const DEFAULT_EVENT_BUS = 'arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default';

/** Lambda's asynchronous-invocation destination (functions invoked asynchronously with `onFailure`). */
const DEAD_LETTERS: Grants = {
  deadLetterQueue: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
};

/**
 * Putting one job's outputs in place of another's (deliver, and ingest's restore): read the archived videos (the
 * source of a server-side copy), delete the stem's videos and error file; never a record or an archived copy.
 */
const OUTPUT_REPLACEMENT: Grants = {
  'outputBucket/archive/*': ['s3:GetObject'],
  'outputBucket/*.error.json': ['s3:DeleteObject'],
  'outputBucket/*.mp4': ['s3:DeleteObject'],
  'outputBucket/*.webm': ['s3:DeleteObject'],
  'outputBucket/*.mov': ['s3:DeleteObject'],
};

/** The complete permissions of each function (lib/pipeline.ts), resource -> actions. */
const EXPECTED: Record<string, Grants> = {
  ingest: {
    ...base('ingest', DYNAMODB_READ_WRITE_DELETE),
    ...DEAD_LETTERS,
    'outputBucket/*': ['s3:PutObject'],
    ...OUTPUT_REPLACEMENT,
    stateMachine: ['states:StartExecution'],
  },
  validate: {
    ...base('validate'),
    'inputBucket/inbox/*': ['s3:GetObject'],
    inputBucket: ['s3:ListBucket'],
    'inputBucket/normalized/*': ['s3:PutObject'],
  },
  submit: {
    ...base('submit'),
    'inputBucket/inbox/*': ['s3:GetObject'],
    'inputBucket/normalized/*': ['s3:GetObject'],
    [RUNWARE_API_KEY]: SECRET_READ,
    webhookSecret: SECRET_READ,
    // Its own token's failure too: a retried Submit step that finds Runware already reported an error.
    stateMachine: ['states:SendTaskFailure', 'states:SendTaskSuccess'],
  },
  webhook: {
    ...base('webhook'),
    webhookSecret: SECRET_READ,
    stateMachine: ['states:SendTaskFailure', 'states:SendTaskSuccess'],
  },
  poll: {
    ...base('poll'),
    [RUNWARE_API_KEY]: SECRET_READ,
  },
  record: { ...base('record'), stateMachine: ['states:SendTaskSuccess'] },
  deliver: {
    ...base('deliver'),
    'outputBucket/*': ['s3:AbortMultipartUpload', 's3:PutObject'],
    ...OUTPUT_REPLACEMENT,
  },
  fail: {
    ...base('fail'),
    ...DEAD_LETTERS,
    'outputBucket/*': ['s3:PutObject'],
    [DEFAULT_EVENT_BUS]: ['events:PutEvents'],
    stateMachine: ['states:SendTaskSuccess'],
  },
  sweep: {
    ...base('sweep', DYNAMODB_READ_WRITE_DELETE),
    'outputBucket/*': ['s3:PutObject'],
    stateMachine: ['states:SendTaskSuccess'],
  },
};

/** Functions the state machine runs (Task states); ingest, webhook and sweep are started by other triggers. */
const STEP_FUNCTIONS = ['validate', 'submit', 'poll', 'record', 'deliver', 'fail'];

beforeAll(() => {
  s = synth();
  resources = s.template.toJSON().Resources;
  const { storage, secrets, pipeline, workflow, webhookApi } = s.stack;
  labels = new Map<string, string>([
    [logicalId(storage.table), 'table'],
    [logicalId(storage.inputBucket), 'inputBucket'],
    [logicalId(storage.outputBucket), 'outputBucket'],
    [logicalId(storage.accessLogBucket), 'accessLogBucket'],
    [logicalId(secrets.webhookSigningSecret), 'webhookSecret'],
    [logicalId(workflow.stateMachine), 'stateMachine'],
    [logicalId(pipeline.deadLetterQueue), 'deadLetterQueue'],
    [logicalId(webhookApi.api), 'webhookApi'],
  ]);
  for (const [name, fn] of Object.entries(pipeline.functions)) {
    labels.set(logicalId(fn), `${name}Function`);
    labels.set(logicalId(fn.ownLogGroup), `${name}LogGroup`);
  }
});

// ----------------------------------------------------------------------------------------------- tests

describe('each function reaches only its own resources', () => {
  it('has exactly the functions of the expected table (a new function must declare its permissions here)', () => {
    expect(Object.keys(functionIds()).sort()).toEqual(Object.keys(EXPECTED).sort());
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(
      Object.keys(EXPECTED).length,
    );
  });

  it.each(Object.keys(EXPECTED))('gives %s exactly the permissions of the expected table', (name) => {
    expect(grantsOfFunction(name)).toEqual(
      Object.fromEntries(
        Object.entries(EXPECTED[name] ?? {})
          .map(([resource, actions]): [string, string[]] => [resource, [...actions].sort()])
          .sort(([a], [b]) => a.localeCompare(b)),
      ),
    );
  });

  it('gives every function a role of its own, with no managed or inline policies besides the ones read here', () => {
    const roles = Object.values(functionIds()).map(roleOf);
    expect(new Set(roles).size).toBe(roles.length);
    for (const role of roles) {
      expect(resources[role]?.Properties?.ManagedPolicyArns, role).toBeUndefined();
      expect(resources[role]?.Properties?.Policies, role).toBeUndefined();
      expect(resources[role]?.Properties?.AssumeRolePolicyDocument).toMatchObject({
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ],
      });
    }
  });

  it('writes every statement as a plain Allow of named actions on named resources (no Not*, no wildcard action)', () => {
    const roles = [
      ...Object.values(functionIds()).map(roleOf),
      logicalId(s.stack.workflow.stateMachine.role),
    ];
    for (const role of roles) {
      for (const st of statementsOf(role)) {
        expect(st.Effect, role).toBe('Allow');
        expect(st.NotAction, role).toBeUndefined();
        expect(st.NotResource, role).toBeUndefined();
        for (const action of asList(st.Action))
          expect(String(action), role).toMatch(/^[a-z0-9-]+:[A-Za-z]+$/);
      }
    }
  });

  it('has no IAM role besides the functions’ and the state machine’s', () => {
    const roles = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Role')
      .map(([id]) => id)
      .sort();
    expect(roles).toEqual(
      [...Object.values(functionIds()).map(roleOf), logicalId(s.stack.workflow.stateMachine.role)].sort(),
    );
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::IAM::User')).toEqual([]);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::IAM::ManagedPolicy')).toEqual([]);
  });
});

describe('no way out of the stack', () => {
  it('grants no function an IAM, STS, KMS or Lambda action (nothing to escalate or hop with)', () => {
    expect(grantsWhere((g) => /^(iam|sts|kms|lambda):/.test(g.action))).toEqual({});
  });

  it('lets functions reach only this stack’s resources, the Runware API key secret, the default event bus, and "*" for X-Ray', () => {
    const own = new Set([...labels.values(), RUNWARE_API_KEY, DEFAULT_EVENT_BUS, '*']);
    const foreign = allGrants().filter(
      (g) => !own.has(g.resource.replace(/\/.*$/, '')) && !own.has(g.resource),
    );
    expect(foreign).toEqual([]);
  });

  it('lets no function touch the access log bucket, which only S3 server access logging writes', () => {
    expect(grantsWhere((g) => g.resource.startsWith('accessLogBucket'))).toEqual({});
  });
});

describe('S3: inputs are never lost, outputs are never read', () => {
  it('lets no function read or list the output bucket, but deliver and ingest read the archived videos they copy into place', () => {
    const reads = allGrants().filter(
      (g) =>
        g.resource.startsWith('outputBucket') &&
        ['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions'].some((a) =>
          actionAllows(g.action, a),
        ),
    );
    expect(reads.sort((a, b) => a.fn.localeCompare(b.fn))).toEqual([
      { fn: 'deliver', action: 's3:GetObject', resource: 'outputBucket/archive/*' },
      { fn: 'ingest', action: 's3:GetObject', resource: 'outputBucket/archive/*' },
    ]);
    for (const key of ['promo/anna.mp4', 'promo/anna.json', 'promo/anna.error.json']) {
      expect(
        reads.filter((g) => arnMatches(g.resource, `outputBucket/${key}`)),
        key,
      ).toEqual([]);
    }
  });

  it('lets only validate and submit read the input bucket, and only its inbox/* objects (submit also the normalized/* images it presigns); only validate lists it (a missing sidecar is then a 404)', () => {
    const reads = allGrants().filter(
      (g) => g.resource.startsWith('inputBucket') && actionAllows(g.action, 's3:GetObject'),
    );
    expect(reads).toEqual([
      { fn: 'validate', action: 's3:GetObject', resource: 'inputBucket/inbox/*' },
      { fn: 'submit', action: 's3:GetObject', resource: 'inputBucket/inbox/*' },
      { fn: 'submit', action: 's3:GetObject', resource: 'inputBucket/normalized/*' },
    ]);
    const lists = allGrants().filter(
      (g) => g.resource.startsWith('inputBucket') && g.action.startsWith('s3:List'),
    );
    expect(lists).toEqual([{ fn: 'validate', action: 's3:ListBucket', resource: 'inputBucket' }]);
  });

  it("lets no function delete, overwrite or reconfigure anything in the input bucket; only validate writes, and only the normalized/* copies beside the user's files", () => {
    const onInput = allGrants().filter((g) => g.resource.startsWith('inputBucket'));
    const writes = onInput.filter((g) => !['s3:GetObject', 's3:ListBucket'].includes(g.action));
    expect(writes).toEqual([
      { fn: 'validate', action: 's3:PutObject', resource: 'inputBucket/normalized/*' },
    ]);
    for (const key of ['inbox/promo/anna.jpg', 'inbox/anna.mp3', 'inbox/promo/anna.json', 'anna.jpg']) {
      expect(
        writes.filter((g) => arnMatches(g.resource, `inputBucket/${key}`)),
        key,
      ).toEqual([]);
    }
    for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutLifecycleConfiguration']) {
      expect(
        onInput.filter((g) => actionAllows(g.action, action)),
        action,
      ).toEqual([]);
    }
  });

  it("lets no function delete a job record or an archived video; only deliver and ingest's restore delete a stem's videos and error file", () => {
    const deletes = allGrants().filter((g) => g.action.startsWith('s3:Delete'));
    const replaceable = ['*.error.json', '*.mp4', '*.webm', '*.mov'].map((p) => `outputBucket/${p}`);
    for (const fn of ['deliver', 'ingest']) {
      const own = deletes.filter((g) => g.fn === fn);
      expect(own.every((g) => g.action === 's3:DeleteObject')).toBe(true);
      expect(own.map((g) => g.resource).sort(), fn).toEqual([...replaceable].sort());
    }
    expect(deletes).toHaveLength(2 * replaceable.length);
    // Every delivered video stays in its job's archive, and the records stay: none of them can be deleted.
    for (const key of [
      'promo/anna.json',
      'promo/anna.mp4.json',
      'archive/0123456789abcdef0123456789abcdef/video-1.mp4.archived',
      'archive/0123456789abcdef0123456789abcdef/video-2.webm.archived',
    ]) {
      expect(
        deletes.filter((g) => arnMatches(g.resource, `outputBucket/${key}`)),
        key,
      ).toEqual([]);
    }
    for (const key of ['promo/anna.error.json', 'promo/anna.mp4', 'promo/anna-2.webm', 'promo/anna.mov']) {
      expect(
        deletes.filter((g) => g.fn === 'deliver' && arnMatches(g.resource, `outputBucket/${key}`)),
        key,
      ).toHaveLength(1);
    }
  });

  it('lets fail and sweep only put objects in the output bucket; deliver also aborts its uploads; deliver and ingest read only the archive', () => {
    const put = ['s3:PutObject on outputBucket/*'];
    const replacement = [
      's3:DeleteObject on outputBucket/*.error.json',
      's3:DeleteObject on outputBucket/*.mov',
      's3:DeleteObject on outputBucket/*.mp4',
      's3:DeleteObject on outputBucket/*.webm',
      's3:GetObject on outputBucket/archive/*',
    ];
    expect(grantsWhere((g) => g.resource.startsWith('outputBucket'))).toEqual({
      ingest: [...put, ...replacement].sort(),
      deliver: ['s3:AbortMultipartUpload on outputBucket/*', ...put, ...replacement].sort(),
      fail: put,
      sweep: put,
    });
  });

  it('gives webhook, poll and record no S3 access at all', () => {
    const s3 = grantsWhere((g) => g.action.startsWith('s3:'));
    for (const name of ['webhook', 'poll', 'record']) expect(s3[name], name).toBeUndefined();
    expect(Object.keys(s3).sort()).toEqual(['deliver', 'fail', 'ingest', 'submit', 'sweep', 'validate']);
  });

  it("never grants wildcard or destructive S3 actions (deliver and ingest may delete only a stem's videos and error files)", () => {
    const deletes = ['*.error.json', '*.mov', '*.mp4', '*.webm'].map(
      (p) => `s3:DeleteObject on outputBucket/${p}`,
    );
    expect(
      grantsWhere(
        (g) =>
          g.action.startsWith('s3:') &&
          (g.action.includes('*') || /Delete|PutBucket|Acl|Tagging/.test(g.action)),
      ),
    ).toEqual({ deliver: deletes, ingest: deletes });
  });

  it('denies requests without TLS on every bucket, objects included', () => {
    const buckets = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket');
    expect(buckets.map(([id]) => label(id)).sort()).toEqual([
      'accessLogBucket',
      'inputBucket',
      'outputBucket',
    ]);
    for (const [id] of buckets) {
      const policy = Object.values(resources).find(
        (r) =>
          r.Type === 'AWS::S3::BucketPolicy' &&
          (r.Properties?.Bucket as { Ref?: string } | undefined)?.Ref === id,
      );
      const statements = (policy?.Properties?.PolicyDocument as { Statement: StatementJson[] } | undefined)
        ?.Statement;
      const deny = statements?.find((st) => st.Effect === 'Deny');
      expect(deny, label(id)).toMatchObject({
        Action: 's3:*',
        Principal: { AWS: '*' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
      expect(asList(deny?.Resource).map(render).sort(), label(id)).toEqual([label(id), `${label(id)}/*`]);
    }
  });

  it('allows nothing to anyone through a bucket policy except S3 server access logging into the log bucket', () => {
    const allows = Object.values(resources)
      .filter((r) => r.Type === 'AWS::S3::BucketPolicy')
      .flatMap(
        (r) => (r.Properties?.PolicyDocument as { Statement?: StatementJson[] } | undefined)?.Statement ?? [],
      )
      .filter((st) => st.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(0);
    for (const st of allows) {
      expect(st).toMatchObject({
        Action: 's3:PutObject',
        Principal: { Service: 'logging.s3.amazonaws.com' },
      });
      expect(render(st.Resource)).toMatch(/^accessLogBucket\/(input|output)\/\*$/);
      expect(st.Condition?.ArnLike?.['aws:SourceArn']).toBeDefined();
    }
  });
});

describe('Step Functions, DynamoDB, logs and the dead-letter queue', () => {
  it('lets only webhook and the functions that give slots back complete task tokens, only webhook and submit fail them', () => {
    // record, fail and sweep give Runware slots back and wake a waiter; submit and webhook complete the Submit
    // step's token with Runware's result or failure (submit also wakes waiters, on a 429).
    const wakes = ['states:SendTaskSuccess on stateMachine'];
    const completes = ['states:SendTaskFailure on stateMachine', 'states:SendTaskSuccess on stateMachine'];
    expect(grantsWhere((g) => g.action.startsWith('states:SendTask'))).toEqual({
      submit: completes,
      record: wakes,
      fail: wakes,
      sweep: wakes,
      webhook: completes,
    });
  });

  it('lets only fail put events (JobCancelled), and only on the default bus', () => {
    expect(grantsWhere((g) => g.action.startsWith('events:'))).toEqual({
      fail: [`events:PutEvents on ${DEFAULT_EVENT_BUS}`],
    });
  });

  it('lets only ingest start executions, of this state machine only', () => {
    expect(grantsWhere((g) => actionAllows(g.action, 'states:StartExecution'))).toEqual({
      ingest: ['states:StartExecution on stateMachine'],
    });
  });

  it('scopes every function’s DynamoDB access to the job table and its indexes', () => {
    const dynamo = grantsWhere((g) => g.action.startsWith('dynamodb:'));
    expect(Object.keys(dynamo).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, grants] of Object.entries(dynamo)) {
      expect([...new Set(grants.map((g) => g.slice(g.indexOf(' on ') + 4)))].sort(), name).toEqual([
        'table',
        'table/index/*',
      ]);
    }
  });

  it('lets every function write logs only to its own log group', () => {
    const logs = grantsWhere((g) => g.action.startsWith('logs:'));
    expect(Object.keys(logs).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, grants] of Object.entries(logs)) {
      expect(grants, name).toEqual([
        `logs:CreateLogStream on ${name}LogGroup`,
        `logs:PutLogEvents on ${name}LogGroup`,
      ]);
    }
  });

  it('uses a "*" resource only for X-Ray actions, which have no resource type', () => {
    const star = grantsWhere((g) => g.resource === '*');
    expect(Object.keys(star).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, grants] of Object.entries(star)) {
      expect(grants, name).toEqual(['xray:PutTelemetryRecords on *', 'xray:PutTraceSegments on *']);
    }
  });

  it('lets only ingest and fail, invoked asynchronously with a failure destination, send to the dead-letter queue', () => {
    const sqs = grantsWhere((g) => g.action.startsWith('sqs:'));
    const dlq = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].map(
      (a) => `${a} on deadLetterQueue`,
    );
    expect(sqs).toEqual({ ingest: dlq, fail: dlq });
  });
});

describe('secrets', () => {
  const readersOf = (secret: string) =>
    [
      ...new Set(
        allGrants()
          .filter((g) => g.resource === secret && g.action === 'secretsmanager:GetSecretValue')
          .map((g) => g.fn),
      ),
    ].sort();

  it('lets only submit and poll read the Runware API key', () => {
    expect(readersOf(RUNWARE_API_KEY)).toEqual(['poll', 'submit']);
  });

  it('lets only submit and webhook read the webhook signing secret', () => {
    expect(readersOf('webhookSecret')).toEqual(['submit', 'webhook']);
  });

  it('grants Secrets Manager actions on these two secrets only', () => {
    const resourcesRead = new Set(
      allGrants()
        .filter((g) => g.action.startsWith('secretsmanager:'))
        .map((g) => g.resource),
    );
    expect([...resourcesRead].sort()).toEqual([RUNWARE_API_KEY, 'webhookSecret'].sort());
  });

  /** What each environment variable may hold: never a secret value. */
  const ENV_KINDS: Record<string, (value: unknown) => boolean> = {
    NODE_OPTIONS: (v) => v === '--enable-source-maps',
    POWERTOOLS_SERVICE_NAME: (v) => v === 'avatar-pipeline',
    POWERTOOLS_LOG_LEVEL: (v) => typeof v === 'string' && /^(DEBUG|INFO|WARN|ERROR)$/.test(v),
    TABLE_NAME: (v) => render(v) === 'table',
    INPUT_BUCKET: (v) => render(v) === 'inputBucket',
    OUTPUT_BUCKET: (v) => render(v) === 'outputBucket',
    STATE_MACHINE_ARN: (v) => render(v) === 'stateMachine',
    WEBHOOK_SECRET_ARN: (v) => render(v) === 'webhookSecret',
    WEBHOOK_URL: (v) => render(v) === 'webhookApi.ApiEndpoint/runware',
    RUNWARE_API_URL: (v) => typeof v === 'string' && /^https:\/\/[a-z0-9.-]+(\/[\w.-]*)*$/.test(v),
    RUNWARE_API_KEY_SECRET: (v) => v === 'avatar-pipeline/runware-api-key',
    DEFAULT_MODEL: (v) => typeof v === 'string' && /^klingai:avatar@[\w.-]+$/.test(v),
    ACCEPT_OGG_AUDIO: (v) => v === 'true' || v === 'false',
    // The price table (numbers per model name) and budget limits in USD: settings, not secrets.
    MODEL_PRICES_USD_PER_SECOND: (v) =>
      typeof v === 'string' && Object.values(JSON.parse(v)).every((p) => typeof p === 'number'),
    DAILY_BUDGET_USD: (v) => typeof v === 'string' && /^\d+(\.\d+)?$/.test(v),
    MONTHLY_BUDGET_USD: (v) => typeof v === 'string' && /^\d+(\.\d+)?$/.test(v),
    ALLOWED_VIDEO_HOSTS: (v) => typeof v === 'string' && /^[a-z0-9.*-]+(,[a-z0-9.*-]+)*$/.test(v),
    ...Object.fromEntries(
      [
        'ORPHAN_AFTER_SECONDS',
        'JOB_RECORD_RETENTION_DAYS',
        'MAX_IMAGE_BYTES',
        'MAX_AUDIO_BYTES',
        'HARD_DEADLINE_SECONDS',
        'PRESIGN_TTL_SECONDS',
        'RESULT_TTL_SECONDS',
        'MIN_RESULT_TTL_SECONDS',
        'MAX_CONCURRENT_TASKS',
        'WAITER_LAPSE_SECONDS',
      ].map((k) => [k, (v: unknown) => typeof v === 'string' && /^\d+$/.test(v)]),
    ),
  };

  it('puts no secret value in any function environment: only names, ARNs, URLs, numbers and settings', () => {
    for (const [name, id] of Object.entries(functionIds())) {
      const env =
        (resources[id]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
          ?.Variables ?? {};
      for (const [key, value] of Object.entries(env)) {
        const kind = ENV_KINDS[key];
        expect(kind, `${name}.${key} is not a known kind of variable`).toBeDefined();
        expect(kind?.(value), `${name}.${key} = ${JSON.stringify(value)}`).toBe(true);
      }
      expect(JSON.stringify(env), name).not.toMatch(/resolve:secretsmanager|SecretString|resolve:ssm-secure/);
    }
  });

  it('hands Runware presigned URLs valid for an hour by default (Runware queues tasks), no longer', () => {
    const submit = resources[functionIds().submit ?? '']?.Properties?.Environment as {
      Variables: Record<string, string>;
    };
    const ttl = Number(submit.Variables.PRESIGN_TTL_SECONDS);
    expect(ttl).toBe(3600);
    expect(ttl).toBeLessThanOrEqual(3600);
  });
});

describe('webhook API and state machine', () => {
  it('keeps the path and query string (which carries the token) out of the API access log', () => {
    const stages = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const format =
      (stages[0]?.Properties?.AccessLogSettings as { Format?: string } | undefined)?.Format ?? '';
    const variables = format.match(/\$context\.[\w.]+/g) ?? [];
    expect(variables.length).toBeGreaterThan(0);
    for (const variable of variables) {
      expect(variable).not.toMatch(/path|query|uri|token|authorizer|header/i);
    }
    expect(format).not.toMatch(/\$input|\$request|\$stageVariables/);
  });

  it('lets API Gateway invoke the webhook function only through its one route, and nothing else be invoked publicly', () => {
    const permissions = Object.values(resources)
      .filter((r) => r.Type === 'AWS::Lambda::Permission')
      .map((r) => ({
        fn: render(r.Properties?.FunctionName),
        principal: r.Properties?.Principal,
        source: render(r.Properties?.SourceArn),
      }))
      .sort((a, b) => a.fn.localeCompare(b.fn));
    for (const p of permissions) {
      expect(p.principal, p.fn).toMatch(/^(events|apigateway)\.amazonaws\.com$/);
      expect(p.source, p.fn).not.toMatch(/^<unsupported/);
    }
    expect(permissions.filter((p) => p.principal === 'apigateway.amazonaws.com')).toEqual([
      {
        fn: 'webhookFunction',
        principal: 'apigateway.amazonaws.com',
        source:
          'arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:webhookApi/*/*/runware/{taskUUID}',
      },
    ]);
    expect(permissions.filter((p) => p.principal === 'events.amazonaws.com').map((p) => p.fn)).toEqual([
      'failFunction',
      'ingestFunction',
      'sweepFunction',
    ]);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Url')).toEqual([]);
  });

  it('lets the state machine invoke only the pipeline functions it runs, and put events only on the default bus', () => {
    const grants = grantsOf(logicalId(s.stack.workflow.stateMachine.role));
    const invoked = Object.entries(grants)
      .filter(([, actions]) => actions.includes('lambda:InvokeFunction'))
      .map(([resource, actions]) => {
        expect(actions, resource).toEqual(['lambda:InvokeFunction']);
        return resource;
      })
      .sort();
    expect(invoked).toEqual(STEP_FUNCTIONS.flatMap((fn) => [`${fn}Function`, `${fn}Function:*`]).sort());
    expect(grants['arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default']).toEqual([
      'events:PutEvents',
    ]);
    // On "*" only what has no resource type: X-Ray and CloudWatch Logs delivery.
    for (const action of grants['*'] ?? [])
      expect(action).toMatch(/^(xray:|logs:[A-Za-z]*(LogDelivery|LogDeliveries|LogGroups|ResourcePolic))/);
    expect(Object.keys(grants).length).toBe(invoked.length + 2);
  });
});
