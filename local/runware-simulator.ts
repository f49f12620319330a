/**
 * A stand-in for Runware's REST API, for local mode and the end-to-end tests. It speaks the real protocol
 * (`POST /v1` with a JSON array of tasks, bearer auth, `{data}` / `{errors}` envelopes, async acknowledgement,
 * webhooks, `getResponse` polling) closely enough that the pipeline's own client and webhook handler run
 * unchanged against it, and it renders a real video of the audio's length with ffmpeg so the delivery and
 * inspection code downstream has real bytes to work on.
 *
 * This module is the facade; the parts are in `runware/`: `api` (routing, authentication, the faults of a
 * request), `envelopes` (answers and error bodies), `validation`, `registry` (tasks, `submit`,
 * `getResponse`), `renderer` and `inputs` (processing a task), `webhooks` (delivery), `video-server`
 * (`GET /video`), `faults` (the {@link FaultPlan}) and `runtime` (stop signal, background work).
 *
 * It can fail in each way the real API is known to fail: see {@link Fault} and {@link SimulatorFaults}.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Api } from './runware/api.js';
import { sendError } from './runware/envelopes.js';
import { FaultPlan, planFaults, type SimulatorFaults } from './runware/faults.js';
import { TaskRegistry } from './runware/registry.js';
import { Renderer } from './runware/renderer.js';
import { describe, Runtime } from './runware/runtime.js';
import { loadState, saveState } from './runware/state.js';
import {
  type RunwareSimulatorOptions,
  SIMULATOR_DEFAULT_API_KEY,
  type SimulatedTask,
  type SimulatorAddress,
  type Submission,
  type WebhookDelivery,
} from './runware/types.js';
import { WebhookSender } from './runware/webhooks.js';

export type {
  FailureShape,
  Fault,
  FaultKind,
  PlannedFault,
  SimulatorFaults,
  TaskFaults,
  VideoFault,
} from './runware/faults.js';
export { FaultPlan } from './runware/faults.js';
export type {
  RunwareSimulatorOptions,
  SimulatedError,
  SimulatedResult,
  SimulatedStatus,
  SimulatedTask,
  SimulatorAddress,
  SimulatorErrorItem,
  SimulatorResultItem,
  SimulatorWebhookBody,
  Submission,
  WebhookDelivery,
} from './runware/types.js';
export { AUDIO_LIMITS_SECONDS, COST_PER_SECOND_USD, SIMULATOR_DEFAULT_API_KEY } from './runware/types.js';
export { validateVideoInference } from './runware/validation.js';

/**
 * Runware's REST API, simulated. `POST /v1` takes `videoInference` and `getResponse` tasks; results are served
 * at `GET /video/<videoUUID>.<ext>`.
 *
 * @example
 * const simulator = new RunwareSimulator({ workDir: '/tmp/runware' });
 * const { url } = await simulator.start();
 * const client = new HttpRunwareClient({ url, apiKey: async () => SIMULATOR_DEFAULT_API_KEY });
 */
export class RunwareSimulator {
  /** Tasks received after authentication, counted by `taskType` (rejected ones included). */
  readonly requests: Record<string, number> = {};
  /**
   * The faults to show, standing and queued, consumed per request. `faults` and `queueFault` add to it;
   * tests may also add {@link Fault}s to it directly.
   */
  readonly plan = new FaultPlan();

  private readonly runtime: Runtime;
  private readonly registry: TaskRegistry;
  private readonly webhooks: WebhookSender;
  private readonly renderer: Renderer;
  private readonly api: Api;
  private readonly listenHost: string;
  private readonly publicHost: string;
  private readonly workDir: string;
  private standingFaults: SimulatorFaults = {};
  private capacityLimit: number;
  private speed: number;
  private server: Server | undefined;
  private origin = '';
  private readonly stateFile: string | undefined;
  /** Kept tasks that were processing when the last run stopped, until {@link resumeTasks}. */
  private resumable: SimulatedTask[] = [];

  constructor(options: RunwareSimulatorOptions) {
    this.workDir = options.workDir;
    this.stateFile = options.stateFile;
    this.publicHost = options.publicHost ?? '127.0.0.1';
    this.listenHost = options.listenHost ?? '127.0.0.1';
    this.capacityLimit = options.capacity ?? Number.POSITIVE_INFINITY;
    this.speed = options.renderSpeed ?? 0;
    this.runtime = new Runtime(options.log ?? (() => {}));
    this.registry = new TaskRegistry(this.plan, this.runtime.log);
    this.webhooks = new WebhookSender(this.runtime);
    this.renderer = new Renderer(this.runtime, this.registry, this.webhooks, {
      workDir: options.workDir,
      renderDelayMs: options.renderDelayMs ?? 0,
      renderSpeed: () => this.speed,
      ...(options.renderTimeoutMs === undefined ? {} : { renderTimeoutMs: options.renderTimeoutMs }),
      origin: () => this.origin,
    });
    this.api = new Api({
      apiKey: options.apiKey ?? SIMULATOR_DEFAULT_API_KEY,
      runtime: this.runtime,
      plan: this.plan,
      registry: this.registry,
      renderer: this.renderer,
      requests: this.requests,
      capacity: () => this.capacityLimit,
    });
  }

  /** Every accepted `videoInference` task, in arrival order. */
  get submissions(): Submission[] {
    return this.registry.submissions;
  }

  /** Every webhook POST attempt, in order. */
  get webhookDeliveries(): WebhookDelivery[] {
    return this.webhooks.deliveries;
  }

  /** Accepted tasks by taskUUID (lower case). */
  get tasks(): ReadonlyMap<string, SimulatedTask> {
    return this.registry.tasks;
  }

  /** The standing faults, as last set. */
  get faults(): SimulatorFaults {
    return this.standingFaults;
  }

  /**
   * Replaces every fault, queued ones included: `submitStatus`, `getResponseStatus` and
   * `submitNetworkError` apply to the next requests, one each; `httpStatus` and the task faults (including
   * `ackDelayMs`, `submitDelayMs`, `videoUrlHost`) apply until replaced. `faults = {}` heals.
   */
  set faults(value: SimulatorFaults) {
    this.standingFaults = { ...value };
    this.plan.clear();
    planFaults(this.plan, value, 'standing');
  }

  /**
   * Adds a one-time fault: statuses and `submitNetworkError` drops are queued after those already queued,
   * `httpStatus` answers the next submission only, and the task faults (including `ackDelayMs`,
   * `submitDelayMs`, `videoUrlHost`) apply to the next accepted task only (over the standing ones).
   */
  queueFault(fault: SimulatorFaults): void {
    planFaults(this.plan, fault, 'once');
  }

  /**
   * How many `videoInference` tasks were accepted (a refused or conflicting submission is not counted),
   * or, given a taskUUID, how many with that UUID (0 or 1, since Runware refuses a reused UUID).
   */
  acceptedTasks(taskUUID?: string): number {
    return this.registry.acceptedTasks(taskUUID);
  }

  /** Tasks the API key may have in flight (accepted, not finished); above it submissions get 429. */
  get capacity(): number {
    return this.capacityLimit;
  }

  /** Sets the limit of tasks in flight; `undefined` (or Infinity) lifts it. Tasks already accepted go on. */
  setCapacity(tasks: number | undefined): void {
    this.capacityLimit = tasks ?? Number.POSITIVE_INFINITY;
  }

  /** Seconds of render time per second of audio (see {@link RunwareSimulatorOptions.renderSpeed}). */
  get renderSpeed(): number {
    return this.speed;
  }

  /** Sets the render speed for tasks that start rendering from now on. */
  setRenderSpeed(secondsPerAudioSecond: number): void {
    this.speed = secondsPerAudioSecond;
  }

  /** Tasks accepted and not finished, now. */
  get inFlight(): number {
    return this.registry.inFlight;
  }

  /** The most tasks in flight at once since the start or the last {@link resetPeakInFlight}. */
  get peakInFlight(): number {
    return this.registry.peakInFlight;
  }

  resetPeakInFlight(): void {
    this.registry.peakInFlight = this.registry.inFlight;
  }

  /** How many videos were rendered in all (one per successful result; a failed or aborted render is not). */
  get renders(): number {
    return this.renderer.renders;
  }

  /** Starts listening. Port 0 picks a free port. */
  async start(port = 0): Promise<SimulatorAddress> {
    if (this.server) throw new Error('The Runware simulator is already started.');
    await mkdir(this.workDir, { recursive: true });
    this.runtime.restart();
    const server = createServer((req, res) => {
      this.api.handle(req, res).catch((error: unknown) => {
        this.runtime.log(`runware-sim: internal error: ${describe(error)}`);
        if (!res.headersSent)
          sendError(res, 500, 'internalServerError', 'The simulator failed; see its log.');
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const { port: actualPort } = server.address() as AddressInfo;
    this.origin = `http://${this.publicHost}:${actualPort}`;
    if (this.stateFile && !this.registry.onChange) {
      const file = this.stateFile;
      this.resumable = this.registry.restore(loadState(file), this.origin);
      this.registry.onChange = () =>
        saveState(file, { submissions: this.submissions, tasks: [...this.tasks.values()] });
      if (this.tasks.size > 0) {
        this.runtime.log(
          `runware-sim: kept ${this.tasks.size} task(s) from the last run (${this.resumable.length} processing)`,
        );
      }
    }
    this.runtime.log(`runware-sim: listening on ${this.origin}/v1`);
    return { url: `${this.origin}/v1`, videoOrigin: this.origin };
  }

  /**
   * Processes again the kept tasks that were still processing when the last run stopped (see
   * {@link RunwareSimulatorOptions.stateFile}): Runware goes on with a task while its caller is down. Call it
   * once the pipeline is up, since their webhooks follow.
   */
  resumeTasks(): number {
    const tasks = this.resumable;
    this.resumable = [];
    for (const task of tasks) this.renderer.start(task);
    return tasks.length;
  }

  /** Stops listening, kills running renders, abandons pending webhooks, and waits for all of it to end. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.runtime.abort();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    await this.waitForIdle();
  }

  /** Resolves when no task is being fetched, rendered or delivered (tasks that never finish do not count). */
  async waitForIdle(): Promise<void> {
    await this.runtime.idle();
  }
}
