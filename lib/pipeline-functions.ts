import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NORMALIZED_PREFIX } from '../lambdas/core/contract/keys';
import { ARCHIVE_PREFIX, VIDEO_EXTENSIONS } from '../lambdas/core/contract/output-names';
import { CONSTRUCT_IDS } from './construct-ids';
import { DELIVER_TIMEOUT_SECONDS, minResultTtlSeconds, RECORD_TIMEOUT_SECONDS } from './delivery-window';
import { functionConstructId } from './function-names';
import { acknowledge } from './nag';
import {
  bindBucket,
  bindSecret,
  bindTable,
  PipelineFunction,
  type PipelineFunctionName,
  type PipelineFunctionProps,
} from './pipeline-function';
import type { Settings } from './settings';
import { slotWait, waiterLapseSeconds } from './slot-wait';

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

export interface PipelineFunctionsProps {
  readonly storage: PipelineStorage;
  readonly secrets: PipelineSecrets;
  /** Deploy-time settings (see `lib/settings.ts`). */
  readonly settings: Settings;
}

/** The pipeline's functions by name. */
export type PipelineFunctionsByName = Readonly<Record<PipelineFunctionName, PipelineFunction>>;

/**
 * The nine functions, each with exactly the grants and settings its handler uses, and the dead-letter queue of
 * the events nothing could handle. The state machine (`Workflow`) and the rules (`PipelineRules`) grant the rest.
 */
export class PipelineFunctions extends Construct {
  readonly functions: PipelineFunctionsByName;
  /** Events that ingest or fail could not take after every retry (from EventBridge or Lambda async invokes). */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PipelineFunctionsProps) {
    super(scope, id);
    const { storage, secrets, settings } = props;
    const { inputBucket, outputBucket, table } = storage;

    // Where an event ends up when nothing could handle it: EventBridge puts events it could not deliver to ingest
    // or fail here (the original event), and Lambda puts asynchronous invocations of ingest and fail that still
    // failed after their retries here (an invocation record with `requestPayload`). Either way, redrive by hand.
    this.deadLetterQueue = new sqs.Queue(this, CONSTRUCT_IDS.functions.deadLetterQueue, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      'This queue is itself the dead-letter queue of the EventBridge targets; nothing consumes it automatically.',
      'AwsSolutions-SQS3',
    );
    const asyncFailures = new SqsDestination(this.deadLetterQueue);

    const fn = (name: PipelineFunctionName, options: Omit<PipelineFunctionProps, 'name' | 'logRetention'>) =>
      new PipelineFunction(this, functionConstructId(name), {
        name,
        logRetention: settings.logRetentionDays,
        ...options,
      });

    // ---- Functions: each gets exactly what its handler uses (env names are a contract with lambdas/*). ----
    const ingest = fn('ingest', {
      timeout: Duration.seconds(30),
      retryAttempts: 2,
      onFailure: asyncFailures,
      environment: {
        ORPHAN_AFTER_SECONDS: String(settings.orphanAfterSeconds),
        JOB_RECORD_RETENTION_DAYS: String(settings.jobRecordRetentionDays),
      },
    });
    bindTable(ingest, table, 'readWriteDelete');
    // `<stem>.error.json` when a drop is ambiguous (e.g. two images for one stem); and when a stem's inputs become
    // those of a job already delivered, that job's outputs put back: its videos copied from its archive, its record
    // rewritten, and the other job's videos and error file removed (each job's videos stay in its archive).
    bindBucket(ingest, outputBucket, { env: 'OUTPUT_BUCKET', actions: ['s3:PutObject'] });
    bindOutputReplacement(ingest, outputBucket);

    const validate = fn('validate', {
      timeout: Duration.seconds(60),
      memorySize: 1024,
      // sharp decodes the images; its linux-arm64 binary and libvips ship beside the bundle.
      nativeModules: true,
      environment: {
        MAX_IMAGE_BYTES: String(settings.maxImageBytes),
        MAX_AUDIO_BYTES: String(settings.maxAudioBytes),
        ACCEPT_OGG_AUDIO: String(settings.acceptOggAudio),
        DEFAULT_MODEL: settings.model,
        HARD_DEADLINE_SECONDS: String(settings.hardDeadlineSeconds),
        // A sidecar's `ttl` must leave delivery and its retries time to fetch the video (lib/delivery-window.ts).
        RESULT_TTL_SECONDS: String(settings.resultTtlSeconds),
        MIN_RESULT_TTL_SECONDS: String(minResultTtlSeconds(settings.hardDeadlineSeconds)),
        MODEL_PRICES_USD_PER_SECOND: JSON.stringify(settings.modelPricesUsdPerSecond),
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
    // The normalized copy of the image Runware gets: written beside the inputs, never over them.
    bindBucket(validate, inputBucket, { actions: ['s3:PutObject'], keyPattern: `${NORMALIZED_PREFIX}*` });

    const submitTimeout = Duration.seconds(120);
    // Every function that gives a Runware slot back wakes the waiters owed it: they need the cap and how long a
    // waiter may go unheard (then it has lapsed, and is skipped).
    const slotEnvironment = {
      MAX_CONCURRENT_TASKS: String(settings.maxConcurrentTasks),
      WAITER_LAPSE_SECONDS: String(
        waiterLapseSeconds(slotWait(settings.hardDeadlineSeconds), submitTimeout.toSeconds()),
      ),
    };
    const submit = fn('submit', {
      timeout: submitTimeout,
      environment: {
        RUNWARE_API_URL: settings.runwareApiUrl,
        PRESIGN_TTL_SECONDS: String(settings.presignTtlSeconds),
        DAILY_BUDGET_USD: String(settings.dailyBudgetUsd),
        MONTHLY_BUDGET_USD: String(settings.monthlyBudgetUsd),
        ...slotEnvironment,
      },
    });
    bindTable(submit, table, 'readWrite');
    // Presigned GET URLs are signed with the function's own credentials, so it must be allowed to read the inputs.
    bindBucket(submit, inputBucket, {
      env: 'INPUT_BUCKET',
      actions: ['s3:GetObject'],
      keyPattern: 'inbox/*',
    });
    // The image Runware gets is the normalized copy validate stored.
    bindBucket(submit, inputBucket, { actions: ['s3:GetObject'], keyPattern: `${NORMALIZED_PREFIX}*` });
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

    const record = fn('record', {
      timeout: Duration.seconds(RECORD_TIMEOUT_SECONDS),
      environment: slotEnvironment,
    });
    bindTable(record, table, 'readWrite');

    const deliver = fn('deliver', {
      timeout: Duration.seconds(DELIVER_TIMEOUT_SECONDS),
      memorySize: 1024,
      environment: { ALLOWED_VIDEO_HOSTS: settings.allowedVideoHosts.join(',') },
    });
    bindTable(deliver, table, 'readWrite');
    bindBucket(deliver, outputBucket, {
      env: 'OUTPUT_BUCKET',
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
    });
    // Once a job succeeds, a `<stem>.error.json` of an earlier attempt (or an orphan report) would contradict
    // the video beside it, and an earlier job's video of another format or count would sit beside it: deliver may
    // delete error files and videos (every job's videos stay in its archive), never a record or an archived copy.
    // Each video is uploaded into the archive, then copied (read there) to its visible name.
    bindOutputReplacement(deliver, outputBucket);

    // Also invoked asynchronously, by the rule that closes timed-out and aborted executions.
    const fail = fn('fail', {
      timeout: Duration.seconds(30),
      retryAttempts: 2,
      onFailure: asyncFailures,
      environment: slotEnvironment,
    });
    bindTable(fail, table, 'readWrite');
    bindBucket(fail, outputBucket, { env: 'OUTPUT_BUCKET', actions: ['s3:PutObject'] });
    // JobCancelled, put when an operator's cancel ends a job (the state machine puts JobSucceeded / JobFailed).
    events.EventBus.fromEventBusName(this, 'DefaultEventBus', 'default').grantPutEventsTo(fail);

    // Reports lone images and audio files whose partner never came (the orphan clock is set by ingest).
    const sweep = fn('sweep', {
      timeout: Duration.seconds(60),
      // The orphan report lists the audio types the settings accept (.ogg only with acceptOggAudio).
      environment: { ...slotEnvironment, ACCEPT_OGG_AUDIO: String(settings.acceptOggAudio) },
    });
    bindTable(sweep, table, 'readWriteDelete');
    bindBucket(sweep, outputBucket, { env: 'OUTPUT_BUCKET', actions: ['s3:PutObject'] });

    this.functions = { ingest, validate, submit, webhook, poll, record, deliver, fail, sweep };
  }

  /** Sets the webhook base URL on the submit function (the API is created after the functions). */
  useWebhookUrl(url: string): void {
    this.functions.submit.addEnvironment('WEBHOOK_URL', url);
  }
}

/**
 * What putting one job's outputs in place of another job's of the same stem takes: reading the job's archived
 * videos (the source of a server-side copy) and deleting the stem's videos and error file the other job left.
 * Never a job record (`<stem>.json`) nor an archived copy (`*.archived`): those are not deletable.
 */
function bindOutputReplacement(fn: PipelineFunction, bucket: IBucket): void {
  bindBucket(fn, bucket, { actions: ['s3:GetObject'], keyPattern: `${ARCHIVE_PREFIX}*` });
  for (const keyPattern of ['*.error.json', ...VIDEO_EXTENSIONS.map((extension) => `*.${extension}`)]) {
    bindBucket(fn, bucket, { actions: ['s3:DeleteObject'], keyPattern });
  }
}
