import type { CfnResource } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../lambdas/core/contract/defaults';
import { defaultResultTtlSeconds } from '../../lib/delivery-window';
import { PIPELINE_FUNCTION_NAMES, type PipelineFunctionName } from '../../lib/function-names';
import { parseSettings } from '../../lib/settings';
import { slotWait } from '../../lib/slot-wait';
import { type AslDefinition, definitionOf, isLambdaTask, stateOf } from './definition';
import { type Synthesized, synth } from './synth';

/**
 * The synthesized stack's configuration: functions, state machine, triggers, storage, API, monitoring, settings.
 * What each role may do (least privilege) is asserted in one place, security.test.ts.
 */

const text = (value: unknown): string => JSON.stringify(value);

let s: Synthesized;
let template: Template;
let definition: AslDefinition;
let resources: Record<
  string,
  { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }
>;

const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  s.stack.getLogicalId(construct.node.defaultChild as CfnResource);

/** The environment variables of a function, as synthesized (values are strings or CloudFormation tokens). */
function environmentOf(name: PipelineFunctionName, from: Synthesized = s): Record<string, unknown> {
  const id = from.stack.getLogicalId(from.stack.pipeline.functions[name].node.defaultChild as CfnResource);
  const fn = from.template.findResources('AWS::Lambda::Function')[id] as
    | { Properties: { Environment?: { Variables?: Record<string, unknown> } } }
    | undefined;
  const env = fn?.Properties.Environment?.Variables;
  if (!env) throw new Error(`no environment on ${name}`);
  return env;
}

const FUNCTIONS: readonly PipelineFunctionName[] = PIPELINE_FUNCTION_NAMES;

beforeAll(() => {
  s = synth();
  template = s.template;
  resources = template.toJSON().Resources;
  definition = definitionOf(template);
});

describe('function configuration', () => {
  it('runs every function on arm64 nodejs22.x with active tracing, JSON logs in its own log group', () => {
    for (const name of FUNCTIONS) {
      const fn = resources[logicalId(s.stack.pipeline.functions[name])];
      expect(fn?.Properties, name).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: {
          LogFormat: 'JSON',
          LogGroup: { Ref: logicalId(s.stack.pipeline.functions[name].ownLogGroup) },
        },
      });
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it.each([
    ['ingest', 30, 512],
    ['validate', 60, 1024],
    ['submit', 120, 512],
    ['webhook', 15, 256],
    ['poll', 60, 512],
    ['record', 15, 512],
    ['deliver', 900, 1024],
    ['fail', 30, 512],
  ] as const)('gives %s a %i s timeout and %i MB', (name, timeout, memory) => {
    const fn = resources[logicalId(s.stack.pipeline.functions[name])];
    expect(fn?.Properties).toMatchObject({ Timeout: timeout, MemorySize: memory });
  });

  it('retries failed async invocations of ingest and fail twice, then keeps them in the DLQ', () => {
    const dlqArn = { 'Fn::GetAtt': [logicalId(s.stack.pipeline.deadLetterQueue), 'Arn'] };
    for (const name of ['ingest', 'fail'] as const) {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: logicalId(s.stack.pipeline.functions[name]) },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: dlqArn } },
      });
    }
  });

  it('reserves no concurrency', () => {
    for (const name of FUNCTIONS) {
      const fn = resources[logicalId(s.stack.pipeline.functions[name])];
      expect(fn?.Properties?.ReservedConcurrentExecutions, name).toBeUndefined();
    }
  });
});

describe('function environment (the contract with lambdas/*)', () => {
  const HOUSE = ['NODE_OPTIONS', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_SERVICE_NAME'];
  it.each([
    [
      'ingest',
      [
        'TABLE_NAME',
        'STATE_MACHINE_ARN',
        'OUTPUT_BUCKET',
        'ORPHAN_AFTER_SECONDS',
        'JOB_RECORD_RETENTION_DAYS',
      ],
    ],
    [
      'validate',
      [
        'TABLE_NAME',
        'INPUT_BUCKET',
        'MAX_IMAGE_BYTES',
        'MAX_AUDIO_BYTES',
        'ACCEPT_OGG_AUDIO',
        'DEFAULT_MODEL',
        'HARD_DEADLINE_SECONDS',
        'RESULT_TTL_SECONDS',
        'MIN_RESULT_TTL_SECONDS',
        'MODEL_PRICES_USD_PER_SECOND',
      ],
    ],
    [
      'submit',
      [
        'TABLE_NAME',
        'INPUT_BUCKET',
        'RUNWARE_API_URL',
        'RUNWARE_API_KEY_SECRET',
        'WEBHOOK_SECRET_ARN',
        'WEBHOOK_URL',
        'PRESIGN_TTL_SECONDS',
        'MAX_CONCURRENT_TASKS',
        'WAITER_LAPSE_SECONDS',
        'DAILY_BUDGET_USD',
        'MONTHLY_BUDGET_USD',
      ],
    ],
    ['webhook', ['TABLE_NAME', 'WEBHOOK_SECRET_ARN']],
    ['poll', ['TABLE_NAME', 'RUNWARE_API_URL', 'RUNWARE_API_KEY_SECRET']],
    ['record', ['TABLE_NAME', 'MAX_CONCURRENT_TASKS', 'WAITER_LAPSE_SECONDS']],
    ['deliver', ['TABLE_NAME', 'OUTPUT_BUCKET', 'ALLOWED_VIDEO_HOSTS']],
    ['fail', ['TABLE_NAME', 'OUTPUT_BUCKET', 'MAX_CONCURRENT_TASKS', 'WAITER_LAPSE_SECONDS']],
  ] as const)('gives %s exactly its variables', (name, expected) => {
    expect(Object.keys(environmentOf(name)).sort()).toEqual([...HOUSE, ...expected].sort());
  });

  it('sets the house defaults and the settings defaults', () => {
    expect(environmentOf('record')).toMatchObject({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'avatar-pipeline',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    const d = DEFAULT_SETTINGS;
    expect(environmentOf('validate')).toMatchObject({
      MAX_IMAGE_BYTES: String(d.maxImageBytes),
      MAX_AUDIO_BYTES: String(d.maxAudioBytes),
      ACCEPT_OGG_AUDIO: String(d.acceptOggAudio),
      DEFAULT_MODEL: d.model,
      HARD_DEADLINE_SECONDS: String(d.hardDeadlineSeconds),
    });
    expect(environmentOf('submit')).toMatchObject({
      RUNWARE_API_URL: d.runwareApiUrl,
      PRESIGN_TTL_SECONDS: String(d.presignTtlSeconds),
      WEBHOOK_URL: {
        'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(s.stack.webhookApi.api), 'ApiEndpoint'] }, '/runware']],
      },
    });
    expect(environmentOf('ingest')).toMatchObject({
      ORPHAN_AFTER_SECONDS: String(d.orphanAfterSeconds),
      JOB_RECORD_RETENTION_DAYS: String(d.jobRecordRetentionDays),
      STATE_MACHINE_ARN: { Ref: logicalId(s.stack.workflow.stateMachine) },
    });
    expect(environmentOf('deliver')).toMatchObject({ ALLOWED_VIDEO_HOSTS: d.allowedVideoHosts.join(',') });
  });

  it('passes secrets by name or ARN, never by value', () => {
    const webhookSecretRef = { Ref: logicalId(s.stack.secrets.webhookSigningSecret) };
    for (const name of ['submit', 'poll'] as const) {
      expect(environmentOf(name).RUNWARE_API_KEY_SECRET).toBe('avatar-pipeline/runware-api-key');
    }
    for (const name of ['submit', 'webhook'] as const) {
      expect(environmentOf(name).WEBHOOK_SECRET_ARN).toEqual(webhookSecretRef);
    }
    for (const name of FUNCTIONS) {
      const env = environmentOf(name);
      expect(text(env), name).not.toMatch(/resolve:secretsmanager|SecretString|GenerateSecretString/);
      for (const [key, value] of Object.entries(env)) {
        if (typeof value !== 'string') continue;
        // A 32+ character run of letters and digits is what a key or a generated secret looks like.
        expect(value, `${name}.${key}`).not.toMatch(/[A-Za-z0-9]{32,}/);
        if (/KEY|SECRET|TOKEN|PASSWORD/.test(key)) expect(key, `${name}.${key}`).toMatch(/_SECRET(_ARN)?$/);
      }
    }
  });
});

describe('state machine definition', () => {
  it('is a Standard workflow with tracing, ALL logging without execution data, and a deadline backstop', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
    expect(definition.TimeoutSeconds).toBe(7200 + 1800);
  });

  it('runs Settle -> Validate -> IsRefused -> WaitForSlot -> Submit -> Record -> Deliver -> PublishSucceeded', () => {
    expect(definition.StartAt).toBe('Settle');
    expect(stateOf(definition, 'Settle')).toMatchObject({ Type: 'Wait', Seconds: 10, Next: 'Validate' });
    expect(stateOf(definition, 'Validate')).toMatchObject({ Next: 'IsRefused', ResultPath: '$.validated' });
    expect(stateOf(definition, 'IsRefused')).toMatchObject({ Type: 'Choice', Default: 'WaitForSlot' });
    expect(stateOf(definition, 'WaitForSlot')).toMatchObject({ Next: 'Submit', ResultPath: null });
    expect(stateOf(definition, 'Submit')).toMatchObject({ Next: 'Record', ResultPath: '$.generation' });
    expect(stateOf(definition, 'Record')).toMatchObject({ Next: 'Deliver', ResultPath: '$.recorded' });
    expect(stateOf(definition, 'Deliver')).toMatchObject({
      Next: 'PublishSucceeded',
      ResultPath: '$.delivery',
    });
    expect(stateOf(definition, 'PublishSucceeded')).toMatchObject({ Next: 'Succeeded' });
    expect(stateOf(definition, 'Succeeded').Type).toBe('Succeed');
  });

  it('sends input validate refused to Fail with $.error shaped as a Catch would, not as a Lambda error', () => {
    expect(stateOf(definition, 'IsRefused')).toMatchObject({
      Choices: [{ Variable: '$.validated.refused', IsPresent: true, Next: 'Refused' }],
    });
    expect(stateOf(definition, 'Refused')).toEqual({
      Type: 'Pass',
      Parameters: { 'Error.$': '$.validated.refused.Error', 'Cause.$': '$.validated.refused.Cause' },
      ResultPath: '$.error',
      Next: 'Fail',
    });
  });

  it('gives every Lambda step a timeout, a retry of transient errors with backoff and jitter, and a catch', () => {
    const lambdaSteps = Object.entries(definition.States).filter(([, st]) => isLambdaTask(st));
    expect(lambdaSteps.map(([name]) => name).sort()).toEqual(
      ['Deliver', 'Fail', 'Poll', 'Record', 'Submit', 'Validate', 'WaitForSlot'].sort(),
    );
    for (const [name, st] of lambdaSteps) {
      expect(st.TimeoutSeconds, name).toBeGreaterThan(0);
      // Submit and WaitForSlot first have their waits (asserted below); the transient retry comes after them.
      const waits = name === 'Submit' || name === 'WaitForSlot';
      expect(waits ? st.Retry?.slice(1) : st.Retry, name).toEqual([
        {
          ErrorEquals: [
            'Lambda.ServiceException',
            'Lambda.Unknown',
            'Sandbox.Timedout',
            'Runtime.ExitError',
            'Lambda.AWSLambdaException',
            'Lambda.SdkClientException',
            'Lambda.TooManyRequestsException',
            'TransientError',
          ],
          IntervalSeconds: 2,
          BackoffRate: 2,
          MaxAttempts: 4,
          JitterStrategy: 'FULL',
        },
      ]);
      if (name === 'Fail') {
        expect(st.Catch, 'the fail step must not catch into itself').toBeUndefined();
      } else {
        expect(st.Catch?.at(-1), name).toEqual({
          ErrorEquals: ['States.ALL'],
          ResultPath: '$.error',
          Next: 'Fail',
        });
      }
    }
  });

  it('invokes functions directly (payload only) with explicit payloads, except Submit', () => {
    const fnArn = (name: PipelineFunctionName) =>
      `arn:aws:lambda:us-east-1:123456789012:function:${logicalId(s.stack.pipeline.functions[name])}`;
    const job = { 'jobId.$': '$.jobId', 'attempt.$': '$.attempt' };
    expect(stateOf(definition, 'Validate')).toMatchObject({
      Resource: fnArn('validate'),
      Parameters: { ...job, 'stem.$': '$.stem' },
      TimeoutSeconds: 90,
    });
    expect(stateOf(definition, 'Poll')).toMatchObject({ Resource: fnArn('poll'), Parameters: job });
    expect(stateOf(definition, 'Record')).toMatchObject({ Resource: fnArn('record'), Parameters: job });
    expect(stateOf(definition, 'Deliver')).toMatchObject({
      Resource: fnArn('deliver'),
      Parameters: job,
      TimeoutSeconds: 930,
    });
    expect(stateOf(definition, 'Fail')).toMatchObject({
      Resource: fnArn('fail'),
      Parameters: { ...job, 'stem.$': '$.stem', 'error.$': '$.error' },
      ResultPath: '$.failure',
    });
  });

  it('waits for the task token in Submit, then falls back to polling on States.Timeout', () => {
    const submit = stateOf(definition, 'Submit');
    expect(submit.Resource).toMatch(/lambda:invoke\.waitForTaskToken$/);
    expect(submit.TimeoutSeconds).toBe(1800);
    expect(submit.Parameters).toMatchObject({
      FunctionName: `arn:aws:lambda:us-east-1:123456789012:function:${logicalId(s.stack.pipeline.functions.submit)}`,
      Payload: { 'jobId.$': '$.jobId', 'attempt.$': '$.attempt', 'taskToken.$': '$$.Task.Token' },
    });
    expect(submit.Catch).toEqual([
      { ErrorEquals: ['NoSlotError'], ResultPath: null, Next: 'WaitForSlot' },
      { ErrorEquals: ['States.Timeout'], ResultPath: '$.waitTimedOut', Next: 'Poll' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Fail' },
    ]);
    expect(submit.Retry?.flatMap((r) => r.ErrorEquals)).not.toContain('States.Timeout');
  });

  it('makes WaitForSlot wait for a Runware slot on its task token, asking again after each timeout', () => {
    const waitForSlot = stateOf(definition, 'WaitForSlot');
    expect(waitForSlot.Resource).toMatch(/lambda:invoke\.waitForTaskToken$/);
    expect(waitForSlot.Parameters).toMatchObject({
      FunctionName: `arn:aws:lambda:us-east-1:123456789012:function:${logicalId(s.stack.pipeline.functions.submit)}`,
      Payload: {
        'jobId.$': '$.jobId',
        'attempt.$': '$.attempt',
        'taskToken.$': '$$.Task.Token',
        waitForSlot: true,
      },
    });
    expect(waitForSlot.TimeoutSeconds).toBe(60);
    const [timeout] = waitForSlot.Retry ?? [];
    expect(timeout).toEqual({
      ErrorEquals: ['States.Timeout'],
      IntervalSeconds: 1,
      BackoffRate: 1,
      MaxAttempts: 250,
    });
    expect(waitForSlot.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Fail' }]);
    // About five history events per round: even a 7-day deadline stays far inside a Standard workflow's 25,000.
    const longest = slotWait(604_800);
    expect((604_800 / longest.wakeTimeoutSeconds) * 5).toBeLessThan(6_000);
    expect(longest.wakeMaxAttempts * 5).toBeLessThan(12_500);
  });

  it('makes Submit wait while Runware is busy, with backoff and full jitter', () => {
    const [wait] = stateOf(definition, 'Submit').Retry ?? [];
    expect(wait).toEqual({
      ErrorEquals: ['RunwareBusyError'],
      IntervalSeconds: 2,
      BackoffRate: 1.5,
      MaxDelaySeconds: 60,
      MaxAttempts: 3000,
      JitterStrategy: 'FULL',
    });
    // About five history events per retry: the backstop stays well inside a Standard workflow's 25,000.
    expect((wait?.MaxAttempts ?? 0) * 5).toBeLessThan(25_000);
    // The job's own deadline ends the wait long before: on average a retry waits MaxDelaySeconds / 2.
    const longest = 604_800;
    const { maxDelaySeconds } = slotWait(longest);
    expect((longest / (maxDelaySeconds / 2)) * 5).toBeLessThan(12_500);
    expect(environmentOf('submit')).toMatchObject({
      MAX_CONCURRENT_TASKS: String(DEFAULT_SETTINGS.maxConcurrentTasks),
      WAITER_LAPSE_SECONDS: String(3 * 60 + 120),
    });
  });

  it('polls until done: Poll -> IsGenerated -> Record, or WaitBeforePoll ($.poll.waitSeconds) -> Poll', () => {
    expect(stateOf(definition, 'Poll')).toMatchObject({ Next: 'IsGenerated', ResultPath: '$.poll' });
    expect(stateOf(definition, 'IsGenerated')).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.poll.done', BooleanEquals: true, Next: 'Record' }],
      Default: 'WaitBeforePoll',
    });
    expect(stateOf(definition, 'WaitBeforePoll')).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.poll.waitSeconds',
      Next: 'Poll',
    });
  });

  it('ends a failed job with Fail -> IsCancelled -> PublishFailed -> Failed (JobFailed, detail version 1)', () => {
    expect(stateOf(definition, 'Fail').Next).toBe('IsCancelled');
    expect(stateOf(definition, 'IsCancelled').Default).toBe('PublishFailed');
    expect(stateOf(definition, 'PublishFailed')).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::events:putEvents',
      Next: 'Failed',
      TimeoutSeconds: 30,
      Parameters: {
        Entries: [
          {
            Source: 'avatar-pipeline',
            DetailType: 'JobFailed',
            Detail: {
              version: '1',
              'jobId.$': '$.jobId',
              'attempt.$': '$.attempt',
              'stem.$': '$.stem',
              'code.$': '$.failure.code',
              'message.$': '$.failure.message',
              'stage.$': '$.failure.stage',
              'errorKey.$': '$.failure.errorKey',
            },
          },
        ],
      },
    });
    expect(stateOf(definition, 'Failed')).toMatchObject({ Type: 'Fail', Error: 'JobFailed' });
  });

  it('ends an attempt the fail step found cancelled in Cancelled, without JobFailed (a step superseded by the cancel mark)', () => {
    expect(stateOf(definition, 'IsCancelled')).toMatchObject({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.failure.cancelled', IsPresent: true },
            { Variable: '$.failure.cancelled', BooleanEquals: true },
          ],
          Next: 'Cancelled',
        },
      ],
      Default: 'PublishFailed',
    });
    expect(stateOf(definition, 'Cancelled')).toMatchObject({ Type: 'Fail', Error: 'JobCancelled' });
  });

  it('publishes JobSucceeded (detail version 1) with the outputs and the record key to the default bus', () => {
    const publish = stateOf(definition, 'PublishSucceeded');
    expect(publish.Parameters).toEqual({
      Entries: [
        {
          Source: 'avatar-pipeline',
          DetailType: 'JobSucceeded',
          Detail: {
            version: '1',
            'jobId.$': '$.jobId',
            'attempt.$': '$.attempt',
            'stem.$': '$.stem',
            'outputs.$': '$.delivery.outputs',
            'recordKey.$': '$.delivery.recordKey',
            'shown.$': '$.delivery.shown',
            'outputCheck.$': '$.delivery.outputCheck',
          },
        },
      ],
    });
    expect(publish.TimeoutSeconds).toBe(30);
  });

  it('sends timed-out and aborted executions of this state machine to the fail function', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['TIMED_OUT', 'ABORTED'],
          stateMachineArn: [{ Ref: logicalId(s.stack.workflow.stateMachine) }],
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(s.stack.pipeline.functions.fail), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(s.stack.pipeline.deadLetterQueue), 'Arn'] } },
        }),
      ],
    });
  });
});

describe('ingest trigger', () => {
  it('sends S3 Object Created events under inbox/ of the input bucket to ingest, with retries and a DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created', 'Object Deleted'],
        detail: {
          bucket: { name: [{ Ref: logicalId(s.stack.storage.inputBucket) }] },
          object: { key: [{ prefix: 'inbox/' }] },
        },
      },
      Targets: [
        {
          Id: Match.anyValue(),
          Arn: { 'Fn::GetAtt': [logicalId(s.stack.pipeline.functions.ingest), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(s.stack.pipeline.deadLetterQueue), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 },
        },
      ],
    });
  });

  it('encrypts the dead-letter queue and refuses plain-HTTP access to it', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('storage', () => {
  const buckets = () => [
    s.stack.storage.inputBucket,
    s.stack.storage.outputBucket,
    s.stack.storage.accessLogBucket,
  ];

  it('encrypts every bucket, blocks all public access and keeps them on stack deletion', () => {
    for (const bucket of buckets()) {
      const resource = resources[logicalId(bucket)];
      expect(resource?.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
      expect(resource?.DeletionPolicy).toBe('Retain');
    }
  });

  it('denies requests without TLS on every bucket', () => {
    for (const bucket of buckets()) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logicalId(bucket) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('versions the input bucket, sends its events to EventBridge and cleans up after itself', () => {
    expect(resources[logicalId(s.stack.storage.inputBucket)]?.Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(s.stack.storage.accessLogBucket) } },
      LifecycleConfiguration: {
        Rules: [
          expect.objectContaining({
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            Status: 'Enabled',
          }),
          // The normalized images: past the default 2-hour deadline and 1-hour URLs, plus 7 days (see retention.ts).
          {
            Id: 'expire-normalized-images',
            Prefix: 'normalized/',
            Status: 'Enabled',
            ExpirationInDays: 8,
            NoncurrentVersionExpiration: { NoncurrentDays: 1 },
          },
        ],
      },
    });
  });

  it('keeps normalized images longer when the hard deadline and the presigned URLs are longer', () => {
    const long = synth({ hardDeadlineSeconds: String(7 * 86_400), presignTtlSeconds: '86400' });
    const bucket =
      long.template.toJSON().Resources[
        long.stack.getLogicalId(long.stack.storage.inputBucket.node.defaultChild as CfnResource)
      ];
    expect(bucket?.Properties.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ Id: 'expire-normalized-images', ExpirationInDays: 7 + 1 + 7 }),
    );
  });

  it('logs output bucket access, aborts its incomplete uploads and moves archived videos to Glacier Instant Retrieval', () => {
    expect(resources[logicalId(s.stack.storage.outputBucket)]?.Properties).toMatchObject({
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(s.stack.storage.accessLogBucket) } },
      LifecycleConfiguration: {
        Rules: [
          expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
          // Never expired: a job's outputs come back from here whenever its inputs are dropped again.
          {
            Id: 'archived-videos-to-glacier-instant-retrieval',
            Prefix: 'archive/',
            Status: 'Enabled',
            Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }],
          },
        ],
      },
    });
  });

  it('keeps the job table on demand, encrypted, with point-in-time recovery, TTL on expiresAt, retained', () => {
    const table = resources[logicalId(s.stack.storage.table)];
    expect(table?.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    expect(table?.DeletionPolicy).toBe('Retain');
  });

  it('generates the webhook signing secret and imports the API key secret by name', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasOutput('RunwareApiKeySecretName', { Value: 'avatar-pipeline/runware-api-key' });
  });
});

describe('stack outputs', () => {
  it('publishes the budgets and the cap on tasks in flight, for the review console', () => {
    const { template: limited } = synth({
      dailyBudgetUsd: '25',
      monthlyBudgetUsd: '400',
      maxConcurrentTasks: '3',
    });
    limited.hasOutput('DailyBudgetUsd', { Value: '25' });
    limited.hasOutput('MonthlyBudgetUsd', { Value: '400' });
    limited.hasOutput('MaxConcurrentTasks', { Value: '3' });
    template.hasOutput('DailyBudgetUsd', { Value: '0' });
  });
});

describe('webhook API', () => {
  it('has exactly one route, POST /runware/{taskUUID}, to the webhook function', () => {
    const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    expect(routes.map((r) => r.Properties?.RouteKey)).toEqual(['POST /runware/{taskUUID}']);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [logicalId(s.stack.pipeline.functions.webhook), 'Arn'] },
      PayloadFormatVersion: '2.0',
    });
  });

  it('throttles the default stage and keeps the token (query string) and path out of the access log', () => {
    const stages = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const stage = stages[0]?.Properties ?? {};
    expect(stage).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingBurstLimit: 50, ThrottlingRateLimit: 20 },
    });
    const format = (stage.AccessLogSettings as { Format: string }).Format;
    const fields = Object.values(JSON.parse(format) as Record<string, string>).sort();
    expect(fields).toEqual(
      [
        '$context.requestId',
        '$context.identity.sourceIp',
        '$context.requestTime',
        '$context.httpMethod',
        '$context.routeKey',
        '$context.status',
        '$context.responseLength',
        '$context.integrationErrorMessage',
      ].sort(),
    );
    expect(format).not.toMatch(/path|querystring|queryString|token/i);
  });

  it('outputs the webhook base URL', () => {
    template.hasOutput('WebhookUrl', {
      Value: {
        'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(s.stack.webhookApi.api), 'ApiEndpoint'] }, '/runware']],
      },
    });
  });
});

describe('monitoring', () => {
  it('alarms on timed-out executions, jobs failed not by their input, DLQ depth, function errors and the queue', () => {
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    const metrics = alarms.map((a) => `${a.Properties?.Namespace}/${a.Properties?.MetricName}`).sort();
    expect(metrics).toEqual(
      [
        'AWS/States/ExecutionsTimedOut',
        'AvatarPipeline/JobsFailed',
        'AvatarPipeline/JobsFailed',
        'AWS/SQS/ApproximateNumberOfMessagesVisible',
        ...FUNCTIONS.map(() => 'AWS/Lambda/Errors'),
        'AvatarPipeline/WebhookRefused',
        'AvatarPipeline/OldestSlotWaitSeconds',
      ].sort(),
    );
    // Refused input is not an execution failure worth an alarm: the executions' own Failed metric is not watched.
    expect(metrics).not.toContain('AWS/States/ExecutionsFailed');
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Period: 300,
        AlarmActions: [{ Ref: logicalId(s.stack.monitoring.topic) }],
      });
    }
  });

  it('encrypts the alarm topic with a key CloudWatch may use, and subscribes no one by default', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('AlarmTopicKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } }),
        ]),
      },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('settings from context', () => {
  let custom: Synthesized;
  let customDefinition: AslDefinition;
  beforeAll(() => {
    custom = synth({
      waitTimeoutSeconds: '600',
      hardDeadlineSeconds: '3600',
      settleSeconds: '0',
      allowedVideoHosts: 'vm.runware.ai, cdn.example.com',
      defaultPrompt: 'A friendly presenter',
      model: 'klingai:avatar@2.0-standard',
      alarmEmail: 'ops@example.com',
      logRetentionDays: '7',
      maxConcurrentTasks: '2',
      dailyBudgetUsd: '25.5',
      monthlyBudgetUsd: '400',
      modelPricesUsdPerSecond: '{"klingai:avatar@2.0-pro":0.1}',
    });
    customDefinition = definitionOf(custom.template);
  });

  it('changes the definition: Submit timeout, settle wait and the deadline backstop', () => {
    expect(stateOf(customDefinition, 'Submit').TimeoutSeconds).toBe(600);
    expect(stateOf(customDefinition, 'Settle').Seconds).toBe(0);
    expect(customDefinition.TimeoutSeconds).toBe(3600 + 1800);
  });

  it("bounds ttl by the synthesized Record and Deliver retries: a sidecar's ttl must outlast them", () => {
    // Worked out from the template, not from lib/delivery-window.ts: every attempt may run to its TimeoutSeconds,
    // and each pause is at most IntervalSeconds * BackoffRate^n (FULL jitter only shortens it).
    const window = (name: string): number => {
      const state = stateOf(customDefinition, name);
      const retrier = state.Retry?.find((r) => r.ErrorEquals.includes('Lambda.ServiceException'));
      const attempts = retrier?.MaxAttempts ?? 0;
      let pauses = 0;
      for (let n = 0; n < attempts; n += 1)
        pauses += (retrier?.IntervalSeconds ?? 1) * (retrier?.BackoffRate ?? 2) ** n;
      return (attempts + 1) * (state.TimeoutSeconds ?? 0) + Math.ceil(pauses);
    };
    const min = 3600 + window('Record') + window('Deliver');
    const env = environmentOf('validate', custom);
    expect(env.MIN_RESULT_TTL_SECONDS).toBe(String(min));
    // The default: that minimum rounded up to a whole hour.
    expect(env.RESULT_TTL_SECONDS).toBe(String(Math.ceil(min / 3600) * 3600));
  });

  it('changes the environment, log retention and alarm subscription', () => {
    const env = (name: PipelineFunctionName) => environmentOf(name, custom);
    expect(env('deliver').ALLOWED_VIDEO_HOSTS).toBe('vm.runware.ai,cdn.example.com');
    expect(env('submit').MAX_CONCURRENT_TASKS).toBe('2');
    expect(env('submit')).toMatchObject({ DAILY_BUDGET_USD: '25.5', MONTHLY_BUDGET_USD: '400' });
    expect(JSON.parse(String(env('validate').MODEL_PRICES_USD_PER_SECOND))).toEqual({
      'klingai:avatar@2.0-pro': 0.1,
      'klingai:avatar@2.0-standard': 0.044,
    });
    expect(env('validate')).toMatchObject({
      DEFAULT_PROMPT: 'A friendly presenter',
      DEFAULT_MODEL: 'klingai:avatar@2.0-standard',
      HARD_DEADLINE_SECONDS: '3600',
    });
    custom.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    custom.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it.each([
    [{ waitTimeoutSeconds: 'soon' }, 'waitTimeoutSeconds'],
    [{ waitTimeoutSeconds: '7200' }, 'hardDeadlineSeconds'],
    [{ model: 'klingai:other@1' }, 'model'],
    [{ logRetentionDays: '31' }, 'logRetentionDays'],
    [{ maxConcurrentTasks: '0' }, 'maxConcurrentTasks'],
    [{ maxConcurrentTasks: '1001' }, 'maxConcurrentTasks'],
    [{ alarmEmail: 'not an address' }, 'alarmEmail'],
    [{ allowedVideoHosts: ' , ' }, 'allowedVideoHosts'],
    [{ runwareApiUrl: 'ftp://api.runware.ai' }, 'runwareApiUrl'],
    [{ defaultPrompt: 'x'.repeat(2501) }, 'defaultPrompt'],
    [{ jobRecordRetentionDays: '3' }, 'jobRecordRetentionDays'],
    [{ dailyBudgetUsd: '-1' }, 'dailyBudgetUsd'],
    [{ dailyBudgetUsd: 'lots' }, 'dailyBudgetUsd'],
    [{ monthlyBudgetUsd: 'Infinity' }, 'monthlyBudgetUsd'],
    [{ monthlyBudgetUsd: '1000001' }, 'monthlyBudgetUsd'],
    [{ resultTtlSeconds: '59' }, 'resultTtlSeconds'],
    [{ resultTtlSeconds: '12134' }, 'resultTtlSeconds'],
    [{ hardDeadlineSeconds: '9000', resultTtlSeconds: '13900' }, 'resultTtlSeconds'],
  ])('fails synth on %o, naming %s', (context, name) => {
    expect(() => synth(context)).toThrow(new RegExp(`Invalid setting "${name}"`));
  });

  it('documents the defaults it applies', () => {
    expect(parseSettings({})).toEqual({
      runwareApiKeySecretName: 'avatar-pipeline/runware-api-key',
      model: 'klingai:avatar@2.0-pro',
      allowedVideoHosts: ['*.runware.ai'],
      waitTimeoutSeconds: 1800,
      hardDeadlineSeconds: 7200,
      settleSeconds: 10,
      runwareApiUrl: 'https://api.runware.ai/v1',
      maxImageBytes: 10_485_760,
      maxAudioBytes: 5_000_000,
      acceptOggAudio: false,
      presignTtlSeconds: 3600,
      // The shortest safe ttl with the default deadline (12,135 s), rounded up to a whole hour.
      resultTtlSeconds: 14_400,
      orphanAfterSeconds: 86_400,
      jobRecordRetentionDays: 0,
      logRetentionDays: 30,
      maxConcurrentTasks: 10,
      slotWaitAlarmSeconds: 1800,
      modelPricesUsdPerSecond: { 'klingai:avatar@2.0-pro': 0.087, 'klingai:avatar@2.0-standard': 0.044 },
      dailyBudgetUsd: 0,
      monthlyBudgetUsd: 0,
    });
    expect(parseSettings({ jobRecordRetentionDays: '90' }).jobRecordRetentionDays).toBe(90);
    // The values above are the ones documented in the settings' TSDoc; they live in one module.
    expect(parseSettings({})).toEqual({
      ...DEFAULT_SETTINGS,
      // The one default that is worked out: it follows the hard deadline (lib/delivery-window.ts).
      resultTtlSeconds: defaultResultTtlSeconds(DEFAULT_SETTINGS.hardDeadlineSeconds),
      allowedVideoHosts: [...DEFAULT_SETTINGS.allowedVideoHosts],
      modelPricesUsdPerSecond: { ...DEFAULT_SETTINGS.modelPricesUsdPerSecond },
    });
    expect(
      parseSettings({ modelPricesUsdPerSecond: '{"klingai:avatar@2.0-pro":0.1}' }).modelPricesUsdPerSecond,
    ).toEqual({ 'klingai:avatar@2.0-pro': 0.1, 'klingai:avatar@2.0-standard': 0.044 });
    expect(() => parseSettings({ modelPricesUsdPerSecond: '{"runway:gen4":1}' })).toThrow(
      /modelPricesUsdPerSecond/,
    );
    expect(parseSettings({ allowedVideoHosts: ['A.example.com'] }).allowedVideoHosts).toEqual([
      'a.example.com',
    ]);
    expect(parseSettings({ alarmEmail: '' }).alarmEmail).toBeUndefined();
  });
});
