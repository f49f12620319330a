import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import dynalite from 'dynalite';
import S3rver, { type S3rverEvent } from 's3rver';
import { LocalAwsEndpoint, type LocalSecret } from './aws-endpoint.js';
import { LambdaHost } from './lambda-host.js';
import { RunwareSimulator } from './runware-simulator.js';
import { S3FaultProxy } from './s3-proxy.js';
import { type LocalExecution, LocalStepFunctions } from './step-functions.js';
import {
  type FunctionName,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalAssembly,
  loadAssembly,
} from './template.js';
import { LocalWebhookEndpoint } from './webhook-endpoint.js';

const ROOT = resolve(import.meta.dirname, '..');
const STACK_NAME = 'AvatarPipeline';
/** s3rver checks request signatures against these credentials; every local client uses them. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalStackOptions {
  /** Scratch folder: synthesized app, S3 data, simulator renders, logs. */
  workDir: string;
  /** Extra CDK context (deploy-time settings) for the synth, e.g. `{ waitTimeoutSeconds: '8' }`. */
  context?: Record<string, string>;
  /** Use the real Runware API with this key instead of the simulator (webhooks cannot reach this machine). */
  runwareApiKey?: string;
  /** Where the functions' log lines go; by default to `<workDir>/logs/<function>.log`. */
  log?: (name: FunctionName, line: string) => void;
  /** Delete the work folder when the stack stops (tests); `npm start` keeps it for its logs. @default false */
  removeWorkDirOnStop?: boolean;
  /** How often the scheduled orphan sweep runs. @default 60000 */
  sweepIntervalMs?: number;
  /** Progress of the start-up. */
  onProgress?: (line: string) => void;
}

/** The EventBridge `Object Created` event ingest receives. */
export interface IngestEvent {
  version: string;
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: {
    bucket: { name: string };
    object: { key: string; size?: number; etag?: string; sequencer: string };
    [key: string]: unknown;
  };
}

/** An `events:putEvents` entry the state machine emitted (JobSucceeded, JobFailed). */
export interface PipelineEvent {
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
  at: Date;
}

/**
 * The whole pipeline on this machine: S3 (s3rver), DynamoDB (dynalite), the state machine and the Lambda
 * bundles from `cdk synth`, Step Functions and Secrets Manager APIs, the webhook endpoint, and the Runware
 * simulator (or the real API). Only endpoints differ from AWS; the handlers are the deployed code.
 */
export class LocalStack {
  readonly events: PipelineEvent[] = [];
  /** Ingest invocations that failed after their retries (what the dead-letter queue holds on AWS). */
  readonly deadLetters: unknown[] = [];
  /** Every EventBridge event sent to ingest, in order (tests re-deliver them to duplicate or reorder). */
  readonly ingestEvents: IngestEvent[] = [];
  private readonly stoppers: (() => Promise<void>)[] = [];
  private pendingIngests = new Set<Promise<void>>();

  private constructor(
    readonly assembly: LocalAssembly,
    readonly endpoints: { s3: string; dynamodb: string; aws: string; webhook: string; runware: string },
    readonly s3: S3Client,
    readonly dynamo: DynamoDBClient,
    readonly sfn: LocalStepFunctions,
    readonly lambdas: LambdaHost,
    readonly simulator: RunwareSimulator | undefined,
    readonly awsEndpoint: LocalAwsEndpoint,
    readonly webhook: LocalWebhookEndpoint,
    /** Makes S3 fail for the functions (see {@link S3FaultProxy.failNext}). */
    readonly s3Faults: S3FaultProxy,
  ) {}

  get names() {
    return this.assembly.names;
  }

  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const progress = options.onProgress ?? (() => undefined);
    const workDir = resolve(options.workDir);
    mkdirSync(join(workDir, 'logs'), { recursive: true });
    const stoppers: (() => Promise<void>)[] = [];
    try {
      // 1. Runware: the simulator unless a real key was given.
      let runware: { url: string; videoHosts: string; apiKey: string };
      let simulator: RunwareSimulator | undefined;
      if (options.runwareApiKey) {
        runware = {
          url: 'https://api.runware.ai/v1',
          videoHosts: 'vm.runware.ai',
          apiKey: options.runwareApiKey,
        };
      } else {
        simulator = new RunwareSimulator({ workDir: join(workDir, 'runware') });
        const started = await simulator.start();
        stoppers.push(() => simulator?.stop() ?? Promise.resolve());
        runware = { url: started.url, videoHosts: started.videoOrigin, apiKey: 'local-simulator-key' };
      }

      // 2. The app, synthesized by the CDK CLI exactly as for a deployment, with local endpoints as settings.
      progress('Synthesizing the CDK app (bundles every Lambda with esbuild)...');
      const cdkOut = join(workDir, 'cdk.out');
      const context = {
        runwareApiUrl: runware.url,
        allowedVideoHosts: runware.videoHosts,
        ...options.context,
      };
      await synth(cdkOut, context);

      // 3. The stateful services.
      const table = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
      await new Promise<void>((r) => table.listen(0, '127.0.0.1', () => r()));
      stoppers.push(() => new Promise<void>((r) => table.close(() => r())));
      const dynamodbUrl = `http://127.0.0.1:${(table.address() as AddressInfo).port}`;

      const s3Dir = join(workDir, 's3');
      rmSync(s3Dir, { recursive: true, force: true });
      const webhookHolder: { host?: LambdaHost } = {};
      const webhook = new LocalWebhookEndpoint({
        invoke: (name: FunctionName, event: unknown) => {
          if (!webhookHolder.host) throw new Error('not started');
          return webhookHolder.host.invoke(name, event);
        },
      } as LambdaHost);
      const webhookOrigin = await webhook.start();
      stoppers.push(() => webhook.stop());

      const assembly = loadAssembly(cdkOut, STACK_NAME, webhookOrigin);
      const { names } = assembly;
      const s3rver = new S3rver({
        address: '127.0.0.1',
        port: 0,
        silent: true,
        directory: s3Dir,
        configureBuckets: [{ name: names.inputBucket }, { name: names.outputBucket }],
      });
      const s3Address = await s3rver.run();
      stoppers.push(() => s3rver.close());
      const s3Url = `http://127.0.0.1:${s3Address.port}`;
      // The functions reach S3 through a pass-through that tests can make fail.
      const s3Proxy = new S3FaultProxy(s3Url);
      const functionsS3Url = await s3Proxy.start();
      stoppers.push(() => s3Proxy.stop());

      const clientConfig = { region: LOCAL_REGION, credentials: CREDENTIALS };
      const dynamo = new DynamoDBClient({ ...clientConfig, endpoint: dynamodbUrl });
      // The table exactly as the template declares it: keys and indexes.
      await dynamo.send(
        new CreateTableCommand({
          TableName: names.tableName,
          BillingMode: 'PAY_PER_REQUEST',
          ...(assembly.table as object),
        } as never),
      );
      const s3 = new S3Client({
        ...clientConfig,
        endpoint: s3Url,
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });

      // 4. Secrets, Step Functions and the functions.
      const secrets: LocalSecret[] = [
        {
          arn: names.webhookSecretArn,
          name: 'avatar-pipeline/webhook-signing-secret',
          value: randomBytes(32).toString('base64url'),
        },
        {
          arn: `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${assembly.functions.submit.environment.RUNWARE_API_KEY_SECRET}-AbCdEf`,
          name:
            assembly.functions.submit.environment.RUNWARE_API_KEY_SECRET ?? 'avatar-pipeline/runware-api-key',
          value: runware.apiKey,
        },
      ];
      const logDir = join(workDir, 'logs');
      const log =
        options.log ??
        ((name: FunctionName, line: string) => appendFileSync(join(logDir, `${name}.log`), `${line}\n`));
      const sharedEnvironment: Record<string, string> = {
        AWS_REGION: LOCAL_REGION,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_S3: functionsS3Url,
        AWS_ENDPOINT_URL_DYNAMODB: dynamodbUrl,
        S3_FORCE_PATH_STYLE: 'true',
        AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
        AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      };
      const lambdas = new LambdaHost({ functions: assembly.functions, sharedEnvironment, log });
      webhookHolder.host = lambdas;
      stoppers.push(() => lambdas.stop());

      let stack: LocalStack | undefined;
      const sfn = new LocalStepFunctions({
        definition: assembly.definition,
        stateMachineArn: names.stateMachineArn,
        lambdas,
        functionByArn: assembly.functionByArn,
        onEvent: (entry) =>
          stack?.events.push({
            source: entry.Source,
            detailType: entry.DetailType,
            detail: (typeof entry.Detail === 'string' ? JSON.parse(entry.Detail) : entry.Detail) as Record<
              string,
              unknown
            >,
            at: new Date(),
          }),
        onExecutionEnded: (execution) => stack?.executionEnded(execution),
      });
      const awsEndpoint = new LocalAwsEndpoint(sfn, secrets);
      const awsUrl = await awsEndpoint.start();
      stoppers.push(() => awsEndpoint.stop());
      sharedEnvironment.AWS_ENDPOINT_URL_SFN = awsUrl;
      sharedEnvironment.AWS_ENDPOINT_URL_SECRETS_MANAGER = awsUrl;

      stack = new LocalStack(
        assembly,
        { s3: s3Url, dynamodb: dynamodbUrl, aws: awsUrl, webhook: webhookOrigin, runware: runware.url },
        s3,
        dynamo,
        sfn,
        lambdas,
        simulator,
        awsEndpoint,
        webhook,
        s3Proxy,
      );
      stack.stoppers.push(...stoppers);
      if (options.removeWorkDirOnStop)
        stack.stoppers.unshift(async () => rmSync(workDir, { recursive: true, force: true }));
      const started = stack;
      // 5. The EventBridge rule: `Object Created` under inbox/ of the input bucket -> ingest.
      s3rver.on('event', (event: S3rverEvent) => started.onS3Event(event));
      // 6. The schedule rule: the orphan sweep (every 5 minutes on AWS; more often here, it is cheap).
      const sweepTimer = setInterval(
        () => started.sweep().catch(() => undefined),
        options.sweepIntervalMs ?? 60_000,
      );
      sweepTimer.unref();
      stack.stoppers.push(async () => clearInterval(sweepTimer));
      progress('Local stack is up.');
      return stack;
    } catch (error) {
      for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
      throw error;
    }
  }

  /** Runs the scheduled orphan sweep now (what its EventBridge schedule does every few minutes on AWS). */
  async sweep(): Promise<unknown> {
    return this.lambdas.invoke('sweep', {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: LOCAL_ACCOUNT,
      time: new Date().toISOString(),
      region: LOCAL_REGION,
      resources: [],
      detail: {},
    });
  }

  /** Environment variables that point the AWS CLI and SDKs at this stack. */
  clientEnvironment(): Record<string, string> {
    return {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: this.endpoints.s3,
      AWS_ENDPOINT_URL_DYNAMODB: this.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SFN: this.endpoints.aws,
    };
  }

  /** Resolves when nothing is left running: ingests, executions, simulator work. */
  async idle(): Promise<void> {
    for (;;) {
      await Promise.all([...this.pendingIngests]);
      await this.sfn.idle();
      await this.simulator?.waitForIdle();
      if (this.pendingIngests.size === 0 && this.sfn.listExecutions('RUNNING').length === 0) return;
    }
  }

  async stop(): Promise<void> {
    for (const stop of this.stoppers.reverse()) await stop().catch(() => undefined);
    this.s3.destroy();
    this.dynamo.destroy();
  }

  private onS3Event(event: S3rverEvent): void {
    for (const record of event.Records) {
      const { bucket, object } = record.s3;
      if (bucket.name !== this.names.inputBucket || !object.key.startsWith('inbox/')) continue;
      if (record.eventName.startsWith('ObjectRemoved:')) {
        this.deliverToIngest({
          version: '0',
          id: randomUUID(),
          'detail-type': 'Object Deleted',
          source: 'aws.s3',
          account: LOCAL_ACCOUNT,
          time: record.eventTime,
          region: LOCAL_REGION,
          resources: [`arn:aws:s3:::${bucket.name}`],
          detail: {
            version: '0',
            bucket: { name: bucket.name },
            object: { key: encodeKey(object.key), sequencer: object.sequencer },
            'request-id': randomUUID(),
            requester: LOCAL_ACCOUNT,
            'deletion-type': 'Permanently Deleted',
          },
        });
        continue;
      }
      if (!record.eventName.startsWith('ObjectCreated:')) continue;
      const detail = {
        version: '0',
        bucket: { name: bucket.name },
        // S3 sends keys URL-encoded the way HTML forms are; s3rver does not, so this does.
        object: {
          key: encodeKey(object.key),
          size: object.size ?? 0,
          etag: object.eTag ?? '',
          sequencer: object.sequencer,
        },
        'request-id': randomUUID(),
        requester: LOCAL_ACCOUNT,
        reason: record.eventName === 'ObjectCreated:Copy' ? 'CopyObject' : 'PutObject',
      };
      this.deliverToIngest({
        version: '0',
        id: randomUUID(),
        'detail-type': 'Object Created',
        source: 'aws.s3',
        account: LOCAL_ACCOUNT,
        time: record.eventTime,
        region: LOCAL_REGION,
        resources: [`arn:aws:s3:::${bucket.name}`],
        detail,
      });
    }
  }

  /**
   * Sends an `Object Created` event to ingest as the EventBridge rule does. Tests call it again with an earlier
   * event to model what EventBridge allows: duplicated and out-of-order deliveries.
   */
  deliverToIngest(event: IngestEvent): void {
    this.ingestEvents.push(event);
    this.invokeAsync('ingest', event);
  }

  /** Lambda's asynchronous invocation: two retries with backoff, then the dead-letter queue. */
  private invokeAsync(name: FunctionName, event: unknown): void {
    const run = (async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await this.lambdas.invoke(name, event);
          return;
        } catch (error) {
          if (attempt === 2)
            this.deadLetters.push({ function: name, event, error: (error as Error).message });
          else await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
        }
      }
    })();
    this.pendingIngests.add(run);
    void run.finally(() => this.pendingIngests.delete(run));
  }

  /** The rule that closes executions which timed out or were aborted: their jobs fail with a record. */
  private executionEnded(execution: LocalExecution): void {
    if (execution.status !== 'TIMED_OUT' && execution.status !== 'ABORTED') return;
    this.invokeAsync('fail', {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: LOCAL_ACCOUNT,
      time: new Date().toISOString(),
      region: LOCAL_REGION,
      resources: [execution.executionArn],
      detail: {
        executionArn: execution.executionArn,
        stateMachineArn: this.names.stateMachineArn,
        name: execution.name,
        status: execution.status,
        input: execution.input,
        cause: null,
        error: null,
      },
    });
  }
}

/** How S3 event notifications encode keys: form encoding, `/` kept. */
export function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

async function synth(outdir: string, context: Record<string, string>): Promise<void> {
  const args = ['synth', '--quiet', '--no-notices', '--output', outdir];
  for (const [k, v] of Object.entries(context)) args.push('--context', `${k}=${v}`);
  rmSync(outdir, { recursive: true, force: true });
  await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'cdk'), args, {
    cwd: ROOT,
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
    maxBuffer: 32 * 1024 * 1024,
  });
}
