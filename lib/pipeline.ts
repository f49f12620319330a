import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TRANSIENT_ERROR_NAMES } from '../lambdas/core/errors';
import { acknowledge, wildcardResource } from './nag';
import {
  bindBucket,
  bindSecret,
  bindTable,
  PipelineFunction,
  type PipelineFunctionName,
  type PipelineFunctionProps,
} from './pipeline-function';
import type { Settings } from './settings';

/** The stateful resources the pipeline uses (provided by `Storage`). */
export interface PipelineStorage {
  readonly inputBucket: IBucket;
  readonly outputBucket: IBucket;
  readonly table: ITable;
}

/** The secrets the pipeline reads (provided by `Secrets`). */
export interface PipelineSecrets {
  readonly runwareApiKey: ISecret;
  readonly webhookSigningSecret: ISecret;
}

export interface PipelineProps {
  readonly storage: PipelineStorage;
  readonly secrets: PipelineSecrets;
  /** Deploy-time settings (see `lib/settings.ts`). */
  readonly settings: Settings;
}

/**
 * Errors retried with backoff by every Lambda step: Lambda's own transient failures, a function that crashed or
 * ran out of time (every step is idempotent, and submit reuses its task UUID), plus our `TransientError`.
 */
export const RETRIED_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.Unknown',
  'Sandbox.Timedout',
  'Runtime.ExitError',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  ...TRANSIENT_ERROR_NAMES,
];

/** `source` of the JobSucceeded / JobFailed events the pipeline puts on the default bus. */
export const EVENT_SOURCE = 'avatar-pipeline';

/** How often lone inbox files are checked against `orphanAfterSeconds`. */
export const ORPHAN_SWEEP_INTERVAL = Duration.minutes(5);

/** Execution statuses that end a run without passing through the fail step. */
const UNHANDLED_END_STATUSES = ['TIMED_OUT', 'ABORTED'];

/**
 * The stateless part: the eight functions, the state machine that drives a job, and the rules that start it
 * (S3 `Object Created` under `inbox/` -> ingest) and close it when it times out or is aborted (-> fail).
 */
export class Pipeline extends Construct {
  readonly functions: Readonly<Record<PipelineFunctionName, PipelineFunction>>;
  readonly stateMachine: sfn.StateMachine;
  /** Events that ingest or fail could not take after every retry (from EventBridge or Lambda async invokes). */
  readonly deadLetterQueue: sqs.Queue;
  readonly ingestRule: events.Rule;
  readonly executionEndedRule: events.Rule;
  readonly orphanSweepRule: events.Rule;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const { storage, secrets, settings } = props;
    const { inputBucket, outputBucket, table } = storage;

    // Where an event ends up when nothing could handle it: EventBridge puts events it could not deliver to ingest
    // or fail here (the original event), and Lambda puts asynchronous invocations of ingest and fail that still
    // failed after their retries here (an invocation record with `requestPayload`). Either way, redrive by hand.
    this.deadLetterQueue = new sqs.Queue(this, 'EventsDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const asyncFailures = new SqsDestination(this.deadLetterQueue);

    const fn = (name: PipelineFunctionName, options: Omit<PipelineFunctionProps, 'name' | 'logRetention'>) =>
      new PipelineFunction(this, `${name[0]?.toUpperCase()}${name.slice(1)}Function`, {
        name,
        logRetention: settings.logRetentionDays,
        ...options,
      });

    // ---- Functions: each gets exactly what its handler uses (env names are a contract with lambdas/*). ----
    const ingest = fn('ingest', {
      timeout: Duration.seconds(30),
      retryAttempts: 2,
      onFailure: asyncFailures,
      environment: { ORPHAN_AFTER_SECONDS: String(settings.orphanAfterSeconds) },
    });
    bindTable(ingest, table, 'readWriteDelete');
    // Only for `<stem>.error.json` when a drop is ambiguous (e.g. two images for one stem).
    bindBucket(ingest, outputBucket, { env: 'OUTPUT_BUCKET', actions: ['s3:PutObject'] });

    const validate = fn('validate', {
      timeout: Duration.seconds(60),
      memorySize: 1024,
      environment: {
        MAX_IMAGE_BYTES: String(settings.maxImageBytes),
        MAX_AUDIO_BYTES: String(settings.maxAudioBytes),
        DEFAULT_MODEL: settings.model,
        HARD_DEADLINE_SECONDS: String(settings.hardDeadlineSeconds),
        ...(settings.defaultPrompt ? { DEFAULT_PROMPT: settings.defaultPrompt } : {}),
      },
    });
    bindTable(validate, table, 'readWrite');
    // ListBucket lets a missing optional sidecar answer 404 NoSuchKey rather than 403 AccessDenied.
    bindBucket(validate, inputBucket, {
      env: 'INPUT_BUCKET',
      actions: ['s3:GetObject'],
      keyPattern: 'inbox/*',
      list: true,
    });

    const submit = fn('submit', {
      timeout: Duration.seconds(120),
      environment: {
        RUNWARE_API_URL: settings.runwareApiUrl,
        PRESIGN_TTL_SECONDS: String(settings.presignTtlSeconds),
      },
    });
    bindTable(submit, table, 'readWrite');
    // Presigned GET URLs are signed with the function's own credentials, so it must be allowed to read the inputs.
    bindBucket(submit, inputBucket, {
      env: 'INPUT_BUCKET',
      actions: ['s3:GetObject'],
      keyPattern: 'inbox/*',
    });
    bindSecret(submit, 'RUNWARE_API_KEY_SECRET', secrets.runwareApiKey, 'name');
    bindSecret(submit, 'WEBHOOK_SECRET_ARN', secrets.webhookSigningSecret, 'arn');

    const webhook = fn('webhook', { timeout: Duration.seconds(15), memorySize: 256 });
    bindTable(webhook, table, 'readWrite');
    bindSecret(webhook, 'WEBHOOK_SECRET_ARN', secrets.webhookSigningSecret, 'arn');

    const poll = fn('poll', {
      timeout: Duration.seconds(60),
      environment: { RUNWARE_API_URL: settings.runwareApiUrl },
    });
    bindTable(poll, table, 'readWrite');
    bindSecret(poll, 'RUNWARE_API_KEY_SECRET', secrets.runwareApiKey, 'name');

    const record = fn('record', { timeout: Duration.seconds(15) });
    bindTable(record, table, 'readWrite');

    const deliver = fn('deliver', {
      timeout: Duration.seconds(900),
      memorySize: 1024,
      environment: { ALLOWED_VIDEO_HOSTS: settings.allowedVideoHosts.join(',') },
    });
    bindTable(deliver, table, 'readWrite');
    bindBucket(deliver, outputBucket, {
      env: 'OUTPUT_BUCKET',
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
    });
    // Once a job succeeds, a `<stem>.error.json` of an earlier attempt (or an orphan report) would contradict
    // the video beside it: deliver may delete error files, and nothing else.
    bindBucket(deliver, outputBucket, { actions: ['s3:DeleteObject'], keyPattern: '*.error.json' });

    // Also invoked asynchronously, by the rule that closes timed-out and aborted executions.
    const fail = fn('fail', { timeout: Duration.seconds(30), retryAttempts: 2, onFailure: asyncFailures });
    bindTable(fail, table, 'readWrite');
    bindBucket(fail, outputBucket, { env: 'OUTPUT_BUCKET', actions: ['s3:PutObject'] });

    // Reports lone images and audio files whose partner never came (the orphan clock is set by ingest).
    const sweep = fn('sweep', { timeout: Duration.seconds(60) });
    bindTable(sweep, table, 'readWriteDelete');
    bindBucket(sweep, outputBucket, { env: 'OUTPUT_BUCKET', actions: ['s3:PutObject'] });

    this.functions = { ingest, validate, submit, webhook, poll, record, deliver, fail, sweep };

    // ---- State machine ----
    const retryTransient = <T extends sfn.TaskStateBase>(task: T): T => {
      task.addRetry({
        errors: RETRIED_ERRORS,
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 4,
        jitterStrategy: sfn.JitterType.FULL,
      });
      return task;
    };
    const invoke = (
      id: string,
      lambda: PipelineFunction,
      payload: Record<string, unknown>,
      resultPath: string,
    ) =>
      retryTransient(
        new tasks.LambdaInvoke(this, id, {
          lambdaFunction: lambda,
          payload: sfn.TaskInput.fromObject(payload),
          payloadResponseOnly: true,
          retryOnServiceExceptions: false,
          taskTimeout: sfn.Timeout.duration(lambda.taskTimeout),
          resultPath,
        }),
      );
    const publish = (id: string, detailType: string, detail: Record<string, unknown>) =>
      new tasks.EventBridgePutEvents(this, id, {
        entries: [{ source: EVENT_SOURCE, detailType, detail: sfn.TaskInput.fromObject(detail) }],
        taskTimeout: sfn.Timeout.duration(Duration.seconds(30)),
        resultPath: sfn.JsonPath.DISCARD,
      }).addRetry({
        errors: ['States.ALL'],
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 4,
        jitterStrategy: sfn.JitterType.FULL,
      });
    const job = { 'jobId.$': '$.jobId', 'attempt.$': '$.attempt' };
    const withStem = { ...job, 'stem.$': '$.stem' };
    const catchAll = { errors: ['States.ALL'], resultPath: '$.error' };

    const settle = new sfn.Wait(this, 'Settle', {
      time: sfn.WaitTime.duration(Duration.seconds(settings.settleSeconds)),
    });
    const validateStep = invoke('Validate', validate, withStem, '$.validated');
    const submitStep = retryTransient(
      new tasks.LambdaInvoke(this, 'Submit', {
        lambdaFunction: submit,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject({ ...job, taskToken: sfn.JsonPath.taskToken }),
        retryOnServiceExceptions: false,
        taskTimeout: sfn.Timeout.duration(Duration.seconds(settings.waitTimeoutSeconds)),
        resultPath: '$.generation',
      }),
    );
    const pollStep = invoke('Poll', poll, job, '$.poll');
    const isGenerated = new sfn.Choice(this, 'IsGenerated');
    const waitBeforePoll = new sfn.Wait(this, 'WaitBeforePoll', {
      time: sfn.WaitTime.secondsPath('$.poll.waitSeconds'),
    });
    const recordStep = invoke('Record', record, job, '$.recorded');
    const deliverStep = invoke('Deliver', deliver, job, '$.delivery');
    const publishSucceeded = publish('PublishSucceeded', 'JobSucceeded', {
      ...withStem,
      'outputs.$': '$.delivery.outputs',
      'recordKey.$': '$.delivery.recordKey',
    });
    const failStep = invoke('Fail', fail, { ...withStem, 'error.$': '$.error' }, '$.failure');
    const publishFailed = publish('PublishFailed', 'JobFailed', {
      ...withStem,
      'code.$': '$.failure.code',
      'message.$': '$.failure.message',
      'stage.$': '$.failure.stage',
      'errorKey.$': '$.failure.errorKey',
    });

    // Steps of one job (execution input: { jobId, attempt, stem }):
    //  1. Settle: wait settleSeconds, so a sidecar uploaded with the pair is there before validation.
    //  2. Validate: sizes, real file types, dimensions, duration, sidecar -> $.validated. Bad input ends here, unbilled.
    //  3. Submit (waitForTaskToken): store token + taskUUID, call Runware; the webhook completes the task
    //     -> $.generation. States.Timeout (no webhook within waitTimeoutSeconds) -> 4.
    //  4. Poll loop: Poll -> IsGenerated -> Record, or WaitBeforePoll ($.poll.waitSeconds) -> Poll. Poll throws
    //     DeadlineExceededError past the job's hard deadline.
    //  5. Record: store videoUUID, videoURL, cost, seed -> $.recorded.
    //  6. Deliver: stream the video(s) into the output bucket, write <stem>.json -> $.delivery.
    //  7. PublishSucceeded (JobSucceeded) -> Succeeded.
    //  Any other error, after the retries of transient ones -> Fail (record FAILED, write <stem>.error.json)
    //  -> PublishFailed (JobFailed) -> Failed. Fail is retried but never caught into itself.
    const definition = sfn.Chain.start(settle) // 1
      .next(validateStep) // 2
      .next(submitStep) // 3
      .next(recordStep) // 5
      .next(deliverStep) // 6
      .next(publishSucceeded) // 7
      .next(new sfn.Succeed(this, 'Succeeded'));
    // Catch order matters: the timeout must be matched before States.ALL.
    submitStep.addCatch(pollStep, { errors: ['States.Timeout'], resultPath: '$.waitTimedOut' }); // 3 -> 4
    pollStep.next(
      isGenerated
        .when(sfn.Condition.booleanEquals('$.poll.done', true), recordStep) // 4 -> 5
        .otherwise(waitBeforePoll.next(pollStep)),
    );
    for (const step of [validateStep, submitStep, pollStep, recordStep, deliverStep]) {
      step.addCatch(failStep, catchAll);
    }
    failStep.next(publishFailed).next(
      new sfn.Fail(this, 'Failed', {
        error: 'JobFailed',
        cause: 'See <stem>.error.json in the output bucket.',
      }),
    );

    const executionLogs = new logs.LogGroup(this, 'ExecutionLogs', { retention: settings.logRetentionDays });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'avatar-pipeline: one execution per job attempt',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      // Backstop behind the job's own hard deadline; a TIMED_OUT execution is closed by the rule below.
      timeout: Duration.seconds(settings.hardDeadlineSeconds + 1800),
      tracingEnabled: true,
      logs: { destination: executionLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });

    // ---- Wiring that needs the state machine ----
    ingest.addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    this.stateMachine.grantStartExecution(ingest);
    // SendTask* goes through separate policies: adding it to the roles' default policies would make the functions
    // (which the definition references) depend on the state machine - a cycle.
    this.allowTaskCallbacks(submit, ['states:SendTaskSuccess']);
    this.allowTaskCallbacks(webhook, ['states:SendTaskSuccess', 'states:SendTaskFailure']);

    const targetOptions = {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 4,
      maxEventAge: Duration.hours(2),
    } satisfies targets.LambdaFunctionProps;

    this.ingestRule = new events.Rule(this, 'InputObjectCreated', {
      description: 'avatar-pipeline: a file landed under inbox/ in the input bucket',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created', 'Object Deleted'],
        detail: {
          bucket: { name: [inputBucket.bucketName] },
          object: { key: events.Match.prefix('inbox/') },
        },
      },
      targets: [new targets.LambdaFunction(ingest, targetOptions)],
    });

    this.executionEndedRule = new events.Rule(this, 'ExecutionEndedUnhandled', {
      description: 'avatar-pipeline: an execution timed out or was aborted; record the job as failed',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: UNHANDLED_END_STATUSES, stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [new targets.LambdaFunction(fail, targetOptions)],
    });

    this.orphanSweepRule = new events.Rule(this, 'OrphanSweepSchedule', {
      description: 'avatar-pipeline: report lone inbox files whose partner never arrived',
      schedule: events.Schedule.rate(ORPHAN_SWEEP_INTERVAL),
      targets: [new targets.LambdaFunction(sweep, { retryAttempts: 2 })],
    });

    this.suppressNagFindings();
  }

  /** Sets the webhook base URL on the submit function (the API is created after the functions). */
  useWebhookUrl(url: string): void {
    this.functions.submit.addEnvironment('WEBHOOK_URL', url);
  }

  private allowTaskCallbacks(lambda: PipelineFunction, actions: string[]): void {
    new iam.Policy(this, `${lambda.node.id}TaskCallbacks`, {
      roles: [lambda.executionRole],
      statements: [new iam.PolicyStatement({ actions, resources: [this.stateMachine.stateMachineArn] })],
    });
  }

  private suppressNagFindings(): void {
    acknowledge(
      this.deadLetterQueue,
      'This queue is itself the dead-letter queue of the EventBridge targets; nothing consumes it automatically.',
      'AwsSolutions-SQS3',
    );
    const role = this.stateMachine.role;
    acknowledge(
      role,
      'Only X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery ' +
        '(logs:CreateLogDelivery and friends) are granted on "*": these actions have no resource type.',
      'AwsSolutions-IAM5[Resource::*]',
    );
    const invoked: PipelineFunctionName[] = ['validate', 'submit', 'poll', 'record', 'deliver', 'fail'];
    for (const name of invoked) {
      acknowledge(
        role,
        `lambda:InvokeFunction on the versions and aliases (":*") of the ${name} function, granted by the ` +
          'LambdaInvoke task next to the function itself; no other function is reachable.',
        wildcardResource(role, `${this.functions[name].functionArn}:*`),
      );
    }
  }
}
