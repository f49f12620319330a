import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3rverEvent } from 's3rver';
import { CONSTRUCT_IDS, STACK_NAME } from '../lib/construct-ids.js';
import { LocalAwsEndpoint } from './aws-endpoint.js';
import { assertCloudAssembly, pointFunctionsAtRunware } from './cloud-assembly.js';
import { type DeadLetter, LocalEventBus } from './event-bus.js';
import {
  type EventBridgeEnvelope,
  encodeKey,
  executionStatusChange,
  LOCAL_REGION,
  type S3ObjectEvent,
  s3EventOfRecord,
} from './events.js';
import type { IamMode, LocalIam } from './iam/authorizer.js';
import { authorizePutEvents } from './iam/enforce.js';
import { guardServices, invokersOf } from './iam/wire.js';
import { type LambdaConcurrency, LambdaHost } from './lambda-host.js';
import { assertPortsFree } from './ports.js';
import type { RunwareSimulator } from './runware-simulator.js';
import type { S3FaultProxy } from './s3-proxy.js';
import {
  CREDENTIALS,
  functionEnvironment,
  localSecrets,
  Stoppers,
  startDynamoDB,
  startRunware,
  startS3,
  synthesizedApp,
} from './services.js';
import { type LocalExecution, LocalStepFunctions } from './step-functions.js';
import { type FunctionName, type LocalAssembly, loadAssembly } from './template.js';
import { LocalWebhookEndpoint } from './webhook-endpoint.js';

export { encodeKey } from './events.js';

export interface LocalStackOptions {
  /** Scratch folder: synthesized app, S3 data, simulator renders, logs. */
  workDir: string;
  /** Extra CDK context (deploy-time settings) for the synth, e.g. `{ waitTimeoutSeconds: '8' }`. */
  context?: Record<string, string>;
  /**
   * Run the cloud assembly `cdk synth -o <dir>` wrote before, without synthesizing (`npm start -- --app <dir>`).
   * Its settings are those it was synthesized with (`context` cannot change them), but for where Runware is: its
   * functions are pointed at this run's Runware (see `pointFunctionsAtRunware`). @default synthesize into workDir
   */
  assemblyDir?: string;
  /** Use the real Runware API with this key instead of the simulator (webhooks cannot reach this machine). */
  runwareApiKey?: string;
  /**
   * How the simulator models Runware's queue: `capacity` (tasks in flight before it answers 429) and
   * `renderSpeed` (seconds of render per second of audio). Both can be changed later on `stack.simulator`
   * (`setCapacity`, `setRenderSpeed`). @default unlimited, 0
   */
  runware?: { capacity?: number; renderSpeed?: number };
  /** Where the functions' log lines go; by default to `<workDir>/logs/<function>.log`. */
  log?: (name: FunctionName, line: string) => void;
  /** Delete the work folder when the stack stops (tests); `npm start` keeps it for its logs. @default false */
  removeWorkDirOnStop?: boolean;
  /** How often the scheduled orphan sweep runs. @default 60000 */
  sweepIntervalMs?: number;
  /** How many Lambda processes each function and all of them together may run (like reserved concurrency). */
  lambdaConcurrency?: LambdaConcurrency;
  /** Progress of the start-up. */
  onProgress?: (line: string) => void;
  /**
   * Keep the state under `workDir` across starts: S3 objects (`s3/`), the table (`dynamodb/`, LevelDB), the
   * executions (`executions.json`) and the Runware simulator's tasks (`runware-tasks.json`). Executions the last stack left running are closed as ABORTED at start-up,
   * which fails their jobs with EXECUTION_ABORTED. Without it every start is empty. @default false
   */
  persist?: boolean;
  /**
   * Fixed ports, so that endpoints stay the same across starts: S3 on `portBase`, DynamoDB on `+1`, the Step
   * Functions / Secrets Manager endpoint on `+2`, the webhook on `+3`. @default any free ports
   */
  portBase?: number;
  /**
   * How calls are judged against the template's IAM and resource policies: `enforce` refuses what AWS would
   * refuse (with AWS's error), `warn` only logs it to `logs/iam.log`, `off` judges nothing. @default 'enforce'
   */
  iam?: IamMode;
}

/** The folders and files under the work folder that hold the state {@link LocalStackOptions.persist} keeps. */
export const STATE_PATHS = ['s3', 'dynamodb', 'executions.json', 'runware-tasks.json'] as const;
/** The simulator's tasks (see `RunwareSimulatorOptions.stateFile`), one of the {@link STATE_PATHS}. */
const RUNWARE_STATE_FILE: (typeof STATE_PATHS)[number] = 'runware-tasks.json';

/** The EventBridge `Object Created` / `Object Deleted` event ingest receives. */
export type IngestEvent = S3ObjectEvent;

/** An `events:putEvents` entry the state machine (JobSucceeded, JobFailed) or a function (JobCancelled) put. */
export interface PipelineEvent {
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
  at: Date;
}

interface LocalStackParts {
  assembly: LocalAssembly;
  endpoints: LocalStack['endpoints'];
  s3: S3Client;
  dynamo: DynamoDBClient;
  sfn: LocalStepFunctions;
  lambdas: LambdaHost;
  simulator: RunwareSimulator | undefined;
  awsEndpoint: LocalAwsEndpoint;
  webhook: LocalWebhookEndpoint;
  s3Faults: S3FaultProxy;
  iam: LocalIam;
  bus: LocalEventBus;
  stoppers: Stoppers;
  records: Pick<LocalStack, 'events' | 'deadLetters' | 'ingestEvents'>;
}

/**
 * The whole pipeline on this machine: S3 (s3rver), DynamoDB (dynalite), the state machine, the EventBridge rules
 * and the Lambda bundles from `cdk synth`, Step Functions and Secrets Manager APIs, the webhook endpoint, and the
 * Runware simulator (or the real API). Only endpoints differ from AWS; the handlers are the deployed code.
 */
export class LocalStack {
  /** `events:putEvents` entries of the state machine (JobSucceeded, JobFailed) and the functions (JobCancelled). */
  readonly events: PipelineEvent[];
  /** Invocations by a rule that failed after their retries (what the dead-letter queue holds on AWS). */
  readonly deadLetters: DeadLetter[];
  /** Every EventBridge event sent to ingest, in order (tests re-deliver them to duplicate or reorder). */
  readonly ingestEvents: IngestEvent[];
  readonly assembly: LocalAssembly;
  readonly endpoints: { s3: string; dynamodb: string; aws: string; webhook: string; runware: string };
  readonly s3: S3Client;
  readonly dynamo: DynamoDBClient;
  readonly sfn: LocalStepFunctions;
  readonly lambdas: LambdaHost;
  readonly simulator: RunwareSimulator | undefined;
  readonly awsEndpoint: LocalAwsEndpoint;
  readonly webhook: LocalWebhookEndpoint;
  /** Makes S3 fail for the functions (see {@link S3FaultProxy.failNext}). */
  readonly s3Faults: S3FaultProxy;
  /** Judges every call against the template's policies; its usage and refusals are kept for the tests. */
  readonly iam: LocalIam;
  private readonly bus: LocalEventBus;
  private readonly stoppers: Stoppers;

  private constructor(parts: LocalStackParts) {
    ({ events: this.events, deadLetters: this.deadLetters, ingestEvents: this.ingestEvents } = parts.records);
    this.assembly = parts.assembly;
    this.endpoints = parts.endpoints;
    this.s3 = parts.s3;
    this.dynamo = parts.dynamo;
    this.sfn = parts.sfn;
    this.lambdas = parts.lambdas;
    this.simulator = parts.simulator;
    this.awsEndpoint = parts.awsEndpoint;
    this.webhook = parts.webhook;
    this.s3Faults = parts.s3Faults;
    this.iam = parts.iam;
    this.bus = parts.bus;
    this.stoppers = parts.stoppers;
  }

  get names() {
    return this.assembly.names;
  }

  /** The stack's outputs local mode resolves (`ModelPricesUsdPerSecond`, the bucket names, ...). */
  get outputs() {
    return this.assembly.outputs;
  }

  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const progress = options.onProgress ?? (() => undefined);
    const workDir = resolve(options.workDir);
    const logDir = join(workDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const stoppers = new Stoppers();
    if (options.removeWorkDirOnStop) stoppers.add(() => rmSync(workDir, { recursive: true, force: true }));
    try {
      const assemblyDir = options.assemblyDir === undefined ? undefined : resolve(options.assemblyDir);
      if (assemblyDir) assertCloudAssembly(assemblyDir);
      if (assemblyDir && options.context)
        throw new Error('LocalStack: context (synth-time settings) cannot apply to an existing assemblyDir');
      // With fixed ports, a taken one is a clear error before anything starts (see ports.ts).
      if (options.portBase) await assertPortsFree(options.portBase);
      // 1. Runware, then the app synthesized by the CDK CLI exactly as for a deployment, with it as a setting.
      // Runware keeps the tasks it accepted across our restarts; so does the simulator when the state is kept.
      const runware = await startRunware(workDir, options.runwareApiKey, stoppers, {
        ...options.runware,
        ...(options.persist ? { stateFile: join(workDir, RUNWARE_STATE_FILE) } : {}),
      });
      let cdkOut: string;
      if (assemblyDir) {
        progress(`Using the cloud assembly in ${assemblyDir} (no synth).`);
        cdkOut = assemblyDir;
      } else cdkOut = await synthesizedApp(options.context ?? {}, workDir, progress);

      // 2. The endpoints the functions' environment names listen first; they serve once their backends exist.
      const webhook = new LocalWebhookEndpoint();
      const port = (offset: number) => (options.portBase ? options.portBase + offset : undefined);
      const webhookOrigin = await webhook.start(port(3));
      stoppers.add(() => webhook.stop());
      const awsEndpoint = new LocalAwsEndpoint();
      const awsUrl = await awsEndpoint.start(port(2));
      stoppers.add(() => awsEndpoint.stop());
      const assembly = loadAssembly(cdkOut, STACK_NAME, webhookOrigin);
      // Where Runware is, is this run's (see assembly-cache.ts): the assembly is synthesized without it.
      pointFunctionsAtRunware(assembly.functions, runware);

      // 3. The stateful services, then the functions, the rules and the state machine.
      const persist = options.persist ?? false;
      if (!persist) LocalStack.removeState(workDir);
      const dynamodb = await startDynamoDB(assembly, stoppers, {
        path: persist ? join(workDir, 'dynamodb') : undefined,
        port: port(1),
      });
      const s3 = await startS3(join(workDir, 's3'), assembly.names, stoppers, {
        keep: persist,
        port: port(0),
      });

      // Every caller is its own principal from the template: each function signs with its own key (its role),
      // and each service on the way is judged (see local/iam/).
      const secrets = localSecrets(assembly, runware.apiKey);
      const guarded = await guardServices({
        assembly,
        mode: options.iam ?? 'enforce',
        logDir,
        s3Proxy: s3.proxy,
        dynamodbUrl: dynamodb.url,
        dynamodbServer: dynamodb.server,
        awsEndpoint,
        secrets,
        stoppers,
      });
      const { iam } = guarded;
      const lambdas = new LambdaHost({
        functions: guarded.functions,
        sharedEnvironment: functionEnvironment({
          s3: s3.functionsUrl,
          dynamodb: guarded.functionsDynamoUrl,
          aws: awsUrl,
        }),
        log: options.log ?? ((name, line) => appendFileSync(join(logDir, `${name}.log`), `${line}\n`)),
        ...(options.lambdaConcurrency ? { concurrency: options.lambdaConcurrency } : {}),
      });
      stoppers.add(() => lambdas.stop());
      const records = { events: [], deadLetters: [], ingestEvents: [] } as LocalStackParts['records'];
      const invokers = invokersOf(iam, assembly, lambdas);
      const bus = new LocalEventBus({
        rules: assembly.rules,
        functions: assembly.functions,
        lambdas: invokers.rules,
        onDeliver: (fn, event) => {
          if (fn === 'ingest') records.ingestEvents.push(event as IngestEvent);
        },
        onDeadLetter: (letter) => records.deadLetters.push(letter),
      });
      stoppers.add(() => bus.stop());
      const { stateMachineArn } = assembly.names;
      const sfn = new LocalStepFunctions({
        definition: assembly.definition,
        stateMachineArn,
        lambdas: invokers.stateMachine,
        functionByArn: assembly.functionByArn,
        // The putEvents task acts as the state machine's role.
        onEvent: (entry) => {
          authorizePutEvents(iam, entry);
          records.events.push(pipelineEvent(entry));
        },
        onExecutionEnded: (execution) => bus.put(statusChangeOf(execution, stateMachineArn)),
        ...(persist ? { stateFile: join(workDir, 'executions.json') } : {}),
      });
      // Stopped first: a stopped stack records nothing more, so what ran is left RUNNING as after a kill.
      stoppers.add(() => sfn.close());
      awsEndpoint.serve(sfn, secrets, (entry) => records.events.push(pipelineEvent(entry)));
      webhook.serve(invokers.httpApi);

      // 4. The input bucket's EventBridge notifications, and the schedules (minutes on AWS; cheap enough here).
      s3.server.on('event', (event: S3rverEvent) => {
        for (const record of event.Records) {
          const put = (etag?: string) => {
            const notification = s3EventOfRecord(record, etag);
            if (notification) bus.put(notification);
          };
          // s3rver leaves a copy's ETag out; S3 sends it (see events.ts), so it is read back first.
          if (!record.eventName.startsWith('ObjectCreated:') || record.s3.object.eTag) put();
          else
            void s3.client
              .send(new HeadObjectCommand({ Bucket: record.s3.bucket.name, Key: record.s3.object.key }))
              .then(
                (head) => put(head.ETag?.replace(/"/g, '')),
                () => put(),
              );
        }
      });
      bus.startSchedules(options.sweepIntervalMs ?? 60_000);
      const interrupted = sfn.closeInterrupted();
      // Their jobs are FAILED (the fail function, through the execution-ended rule) before the stack says it is up:
      // a file uploaded at once then finds the job ended and retries it, instead of finding it still running.
      if (interrupted.length > 0) await bus.idle();
      if (interrupted.length > 0)
        progress(
          `Closed ${interrupted.length} execution(s) left running by the last stop as ABORTED; their jobs fail with EXECUTION_ABORTED (upload a file of the job again to retry: it continues the Runware task already sent, never pays for a new one).`,
        );
      // The simulator's tasks that were processing when the stack stopped go on, as Runware's would have.
      const resumed = runware.simulator?.resumeTasks() ?? 0;
      if (resumed > 0) progress(`Runware simulator: resumed ${resumed} task(s) that were processing.`);
      progress('Local stack is up.');
      return new LocalStack({
        assembly,
        endpoints: {
          s3: s3.url,
          dynamodb: dynamodb.url,
          aws: awsUrl,
          webhook: webhookOrigin,
          runware: runware.url,
        },
        s3: s3.client,
        dynamo: dynamodb.client,
        sfn,
        lambdas,
        simulator: runware.simulator,
        awsEndpoint,
        webhook,
        s3Faults: s3.proxy,
        iam,
        bus,
        stoppers,
        records,
      });
    } catch (error) {
      await stoppers.stopAll();
      throw error;
    }
  }

  /** Deletes the state a persisting stack keeps under `workDir` (what `npm start -- --fresh` does). */
  static removeState(workDir: string): void {
    for (const path of STATE_PATHS) rmSync(join(resolve(workDir), path), { recursive: true, force: true });
  }

  /** Runs the scheduled orphan sweep now (what its EventBridge schedule does every few minutes on AWS). */
  async sweep(): Promise<unknown> {
    const [result] = await this.bus.runSchedule(CONSTRUCT_IDS.rules.orphanSweepRule);
    return result;
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

  /** Resolves when nothing is left running: rule deliveries, executions, simulator work. */
  async idle(): Promise<void> {
    for (;;) {
      await this.bus.idle();
      await this.sfn.idle();
      await this.simulator?.waitForIdle();
      if (!this.bus.busy && this.sfn.listExecutions('RUNNING').length === 0) return;
    }
  }

  /**
   * Resolves once ingest has been handed an event for each of `keys` (of the input bucket) and every delivery made
   * so far has ended: from then on, an execution those uploads start is listed, and none listed means none started.
   */
  async ingested(keys: readonly string[]): Promise<void> {
    // Events carry keys URL-encoded, as S3's do (events.ts).
    const seen = () =>
      keys.every((key) => this.ingestEvents.some((event) => event.detail.object.key === encodeKey(key)));
    while (!seen()) await new Promise((r) => setTimeout(r, 20));
    await this.bus.idle();
  }

  async stop(): Promise<void> {
    await this.stoppers.stopAll();
  }

  /**
   * Sends an `Object Created` / `Object Deleted` event to ingest as the EventBridge rule does. Tests call it again
   * with an earlier event to model what EventBridge allows: duplicated and out-of-order deliveries.
   */
  deliverToIngest(event: IngestEvent): void {
    this.bus.deliverTo(CONSTRUCT_IDS.rules.ingestRule, event);
  }
}

function statusChangeOf(
  execution: LocalExecution,
  stateMachineArn: string,
): EventBridgeEnvelope<string, unknown> {
  const { executionArn, name, status, input, error, cause } = execution;
  return executionStatusChange({
    executionArn,
    stateMachineArn,
    name,
    status,
    input,
    ...(status === 'ABORTED' ? { error: error ?? null, cause: cause ?? null } : {}),
  });
}

function pipelineEvent(entry: { Source: string; DetailType: string; Detail: unknown }): PipelineEvent {
  const detail = typeof entry.Detail === 'string' ? JSON.parse(entry.Detail) : entry.Detail;
  return {
    source: entry.Source,
    detailType: entry.DetailType,
    detail: detail as Record<string, unknown>,
    at: new Date(),
  };
}
