/**
 * A stand-in for Runware's REST API, for local mode and the end-to-end tests. It speaks the real protocol
 * (`POST /v1` with a JSON array of tasks, bearer auth, `{data}` / `{errors}` envelopes, async acknowledgement,
 * webhooks, `getResponse` polling) closely enough that the pipeline's own client and webhook handler run
 * unchanged against it, and it renders a real video of the audio's length with ffmpeg so the delivery and
 * inspection code downstream has real bytes to work on.
 *
 * It can also fail in each way the real API is known to fail; see {@link SimulatorFaults}.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import {
  stripUrlQueries,
  type VideoInferenceTask,
  VideoInferenceTaskSchema,
} from '../lambdas/core/runware/schemas.js';
import {
  AVATAR_MODELS,
  type AvatarModel,
  CONTENT_TYPE_OF_FORMAT,
  FILE_EXTENSION_OF_FORMAT,
  type OutputFormat,
  PROMPT_MAX_LENGTH,
} from '../lambdas/core/settings.js';
import { probe, renderAvatarVideo } from './ffmpeg.js';

/** API key the simulator accepts unless told otherwise. */
export const SIMULATOR_DEFAULT_API_KEY = 'local-simulator-key';

/** Runware's published price per second of output video, per model. */
export const COST_PER_SECOND_USD: Readonly<Record<AvatarModel, number>> = {
  'klingai:avatar@2.0-pro': 0.087,
  'klingai:avatar@2.0-standard': 0.044,
};

/** The model's audio limits (unconfirmed upstream; the pipeline's validate step uses the same ones). */
export const AUDIO_LIMITS_SECONDS = { min: 2, max: 300 } as const;

/** Webhook attempts per delivery, and the pauses between them: Runware retries until it gets a 2xx. */
const WEBHOOK_RETRY_DELAYS_MS = [200, 500, 1000] as const;
const WEBHOOK_TIMEOUT_MS = 10_000;
const INPUT_FETCH_TIMEOUT_MS = 30_000;
const MAX_INPUT_BYTES = 200 * 1024 * 1024;
const MAX_REQUEST_BYTES = 5 * 1024 * 1024;

// ------------------------------------------------------------------------------------------------ types

/** One entry of an `errors` array, as Runware sends it. */
export interface SimulatorErrorItem {
  code: string;
  message: string;
  parameter?: string;
  taskType?: string;
  taskUUID?: string;
}

/** One finished video, as sent in a webhook (and, with `status`, in a `getResponse` reply). */
export interface SimulatorResultItem {
  taskType: 'videoInference';
  taskUUID: string;
  videoUUID: string;
  videoURL: string;
  cost?: number;
  seed: number;
}

/** A webhook body: one result, or the task's (or one result's) error. */
export type SimulatorWebhookBody = { data: SimulatorResultItem[] } | { errors: SimulatorErrorItem[] };

/** How `GET /video/...` misbehaves for a task's results. */
export type VideoFault =
  /** Answers 404, as an expired or never-uploaded result would. */
  | '404'
  /** Announces the full Content-Length, sends half the bytes, then drops the connection. */
  | 'truncate'
  /** Answers 200 with an HTML error page (`text/html`), as a misconfigured CDN or proxy does. */
  | 'wrong-content-type'
  /** Resets the connection without answering, as an unreachable host looks to a client. */
  | 'unreachable';

/** Faults that shape what happens to an accepted task. */
export interface TaskFaults {
  /** The task ends in this error: the webhook gets an `errors` body and `getResponse` reports it. */
  errorWebhook?: { code: string; message: string };
  /** Never POST the webhook; `getResponse` still reports the result. */
  loseWebhook?: boolean;
  /** POST every webhook twice (deliveries are at-least-once). */
  duplicateWebhook?: boolean;
  /** Extra time before the task finishes, on top of the simulator's `renderDelayMs`. */
  slowMs?: number;
  /** With `numberResults > 1`, result number k (1-based) fails while the others succeed. */
  failResult?: number;
  /** How `GET /video/...` misbehaves for this task's results. */
  videoFault?: VideoFault;
  /** The task stays `processing` forever: no webhook, `getResponse` never finishes. */
  neverFinish?: boolean;
  /**
   * Holds the HTTP answer (the ack) to the submission of this task at least this many ms while the task is
   * processed and its webhooks POSTed in the meantime, so the webhook reaches the pipeline *before* the
   * submitter has its answer (the real API can do this when a task is fast). The ack is written only once
   * every webhook of the task has had its first POST answered (or failed), however long rendering takes, so
   * the order is guaranteed, not just likely. A task that sends no webhook (`loseWebhook`, `neverFinish`, no
   * `webhookURL`) is held `ackDelayMs` only.
   */
  ackDelayMs?: number;
  /**
   * Holds the ack to the submission of this task this many ms *before* the task starts processing, so no
   * webhook can go out early either. The task is accepted at once: during the hold `getResponse` reports it
   * `processing` and a resubmission gets `conflictTaskUUID`. For a test that kills the submitter mid-call
   * after Runware has the task: when the submitter has hung up, the ack goes nowhere and the task still runs.
   * With `ackDelayMs` too, this hold comes first, then processing starts and `ackDelayMs` applies.
   */
  submitDelayMs?: number;
  /**
   * The results' `videoURL` point at this host instead of the simulator, path kept, e.g. `files.evil.example`
   * gives `https://files.evil.example/video/<videoUUID>.mp4`; a value with a scheme (`http://10.0.0.1:8080`) is
   * used as the origin as is. For testing the pipeline's allow-list: nothing here serves that host (the video
   * is still served at the same path on the simulator's own origin).
   */
  videoUrlHost?: string;
}

/**
 * How the simulator fails, covering what the real API is known to do. Set all at once with
 * `simulator.faults = {...}` (lasting until replaced), or once with {@link RunwareSimulator.queueFault}.
 */
export interface SimulatorFaults extends TaskFaults {
  /**
   * The next submissions (requests holding a `videoInference` task), one status each, answer these HTTP
   * statuses with realistic error bodies and create no task: 429 (queue full), 500/502/503 (unavailable),
   * 504 (queue wait exceeded).
   */
  submitStatus?: number[];
  /**
   * With `submitStatus`, a 5xx is answered *after* the task was accepted, as when a gateway times out while
   * Runware has already queued the task. A retry then gets `conflictTaskUUID`.
   */
  acceptThenFail?: boolean;
  /**
   * A final refusal of submissions: 400 (`invalidRequest`), 401 (`invalidApiKey`), 402
   * (`insufficientCredits`), 403 (`accessDenied`), 404 (`modelNotFound`). Set through `faults` it answers
   * every submission until replaced; through {@link RunwareSimulator.queueFault}, the next one only.
   */
  httpStatus?: number;
  /** The next `getResponse` requests, one status each, answer these HTTP statuses (like `submitStatus`). */
  getResponseStatus?: number[];
  /**
   * The next N submissions get their connection destroyed after the request was read, before any answer:
   * the client sees a network error (`fetch failed`). No task is created, unless `acceptThenDrop`. Counted
   * like `submitStatus` (set through `faults` or added by {@link RunwareSimulator.queueFault}, N requests
   * either way), and consumed before it: a request that is dropped does not use up a queued status.
   */
  submitNetworkError?: number;
  /**
   * With `submitNetworkError`, the task is accepted (and processed, webhook included) and only *then* is the
   * connection destroyed, as when the answer is lost on the way back. A retry gets `conflictTaskUUID`.
   */
  acceptThenDrop?: boolean;
}

/** Status of a task or of one of its results. */
export type SimulatedStatus = 'processing' | 'success' | 'error';

/** One result of a task (a task has `numberResults` of them, each with its own seed). */
export interface SimulatedResult {
  /** 1-based position among the task's results. */
  index: number;
  status: SimulatedStatus;
  seed: number;
  videoUUID?: string;
  videoURL?: string;
  /** USD, only when the task asked for `includeCost`. */
  cost?: number;
  durationSeconds?: number;
  /** Where the rendered file is on disk. */
  file?: string;
  renderMs?: number;
  error?: { code: string; message: string };
}

/** A task the simulator accepted, with what became of it. */
export interface SimulatedTask {
  taskUUID: string;
  task: VideoInferenceTask;
  format: OutputFormat;
  faults: TaskFaults;
  status: SimulatedStatus;
  results: SimulatedResult[];
  /** Set when the task as a whole failed (inputs unusable, `errorWebhook`). */
  error?: { code: string; message: string };
  acceptedAt: Date;
  finishedAt?: Date;
  /** When the result URLs stop working (`ttl`). */
  expiresAt?: Date;
}

/** An accepted `videoInference` task, as it arrived. */
export interface Submission {
  taskUUID: string;
  task: VideoInferenceTask;
  receivedAt: Date;
}

/** One webhook POST attempt. */
export interface WebhookDelivery {
  taskUUID: string;
  /** The webhook URL without its query string, which carries the pipeline's token. */
  url: string;
  /** 1-based attempt number within this delivery. */
  attempt: number;
  /** HTTP status of the answer, or `null` when there was none (refused, reset, timed out). */
  status: number | null;
  /** Why there was no answer, when `status` is null. */
  error?: string;
  body: SimulatorWebhookBody;
  at: Date;
}

/** Options of {@link RunwareSimulator}. */
export interface RunwareSimulatorOptions {
  /** @default 'local-simulator-key' */
  apiKey?: string;
  /** Where downloaded inputs and rendered videos go (one folder per task). */
  workDir: string;
  /** Host name put in `videoURL`s and in the URL returned by `start`. @default '127.0.0.1' */
  publicHost?: string;
  /** Address the server listens on. @default '127.0.0.1' */
  listenHost?: string;
  /** Extra time each task takes before it finishes, in ms. @default 0 */
  renderDelayMs?: number;
  /** Receives one line per event. Never gets the API key or any URL's query string. @default no logging */
  log?: (line: string) => void;
}

/** Where a started simulator answers. */
export interface SimulatorAddress {
  /** The API endpoint, e.g. `http://127.0.0.1:PORT/v1`. */
  url: string;
  /** Origin of the `videoURL`s, e.g. `http://127.0.0.1:PORT`. */
  videoOrigin: string;
}

/** A task-level failure found while processing, carried to the webhook as Runware's code and message. */
class TaskFailure extends Error {
  override readonly name = 'TaskFailure';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface StatusFault {
  status: number;
  acceptThenFail: boolean;
}

interface Reply {
  status: number;
  body: { data?: unknown[]; errors?: SimulatorErrorItem[] };
  /** Destroy the connection instead of answering (`submitNetworkError`). */
  drop?: boolean;
  /** Tasks this request created: they start processing when {@link RunwareSimulator.answer} says so. */
  accepted?: SimulatedTask[];
}

interface Dispatched {
  data: unknown[];
  errors: SimulatorErrorItem[];
  accepted?: SimulatedTask;
}

const TASK_FAULT_KEYS = [
  'errorWebhook',
  'loseWebhook',
  'duplicateWebhook',
  'slowMs',
  'failResult',
  'videoFault',
  'neverFinish',
  'ackDelayMs',
  'submitDelayMs',
  'videoUrlHost',
] as const satisfies readonly (keyof TaskFaults)[];

function taskFaultsOf(faults: SimulatorFaults): TaskFaults {
  const picked: TaskFaults = {};
  for (const key of TASK_FAULT_KEYS) {
    if (faults[key] !== undefined) Object.assign(picked, { [key]: faults[key] });
  }
  return picked;
}

/** What every request body item must at least be, to be dispatched. */
const TaskEnvelopeSchema = z.looseObject({ taskType: z.string() });
const GetResponseTaskSchema = z.looseObject({ taskType: z.literal('getResponse'), taskUUID: z.unknown() });
const AuthenticationTaskSchema = z.looseObject({ taskType: z.literal('authentication'), apiKey: z.string() });

// ------------------------------------------------------------------------------------------- simulator

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
  /** Every accepted `videoInference` task, in arrival order. */
  readonly submissions: Submission[] = [];
  /** Tasks received after authentication, counted by `taskType` (rejected ones included). */
  readonly requests: Record<string, number> = {};
  /** Every webhook POST attempt, in order. */
  readonly webhookDeliveries: WebhookDelivery[] = [];

  private readonly apiKey: string;
  private readonly workDir: string;
  private readonly publicHost: string;
  private readonly listenHost: string;
  private readonly renderDelayMs: number;
  private readonly log: (line: string) => void;

  private readonly taskMap = new Map<string, SimulatedTask>();
  /** videoUUID -> the task and result it belongs to, for `GET /video`. */
  private readonly videos = new Map<string, { task: SimulatedTask; result: SimulatedResult }>();
  private readonly inFlight = new Set<Promise<void>>();
  /** The running `process()` of each task, for `ackDelayMs`. */
  private readonly processes = new WeakMap<SimulatedTask, Promise<void>>();
  /** Per task, one promise per webhook delivery, settled once its first POST attempt is over. */
  private readonly firstPosts = new WeakMap<SimulatedTask, Promise<void>[]>();
  private renderCount = 0;

  private standingFaults: SimulatorFaults = {};
  private submitQueue: StatusFault[] = [];
  /** `submitNetworkError`: one entry per submission to drop, saying whether to accept the task first. */
  private dropQueue: { acceptFirst: boolean }[] = [];
  private getResponseQueue: number[] = [];
  private oneShotHttpStatus: number[] = [];
  private oneShotTaskFaults: TaskFaults[] = [];

  private server: Server | undefined;
  private origin = '';
  private stopController = new AbortController();

  constructor(options: RunwareSimulatorOptions) {
    this.apiKey = options.apiKey ?? SIMULATOR_DEFAULT_API_KEY;
    this.workDir = options.workDir;
    this.publicHost = options.publicHost ?? '127.0.0.1';
    this.listenHost = options.listenHost ?? '127.0.0.1';
    this.renderDelayMs = options.renderDelayMs ?? 0;
    this.log = options.log ?? (() => {});
  }

  /** Accepted tasks by taskUUID (lower case). */
  get tasks(): ReadonlyMap<string, SimulatedTask> {
    return this.taskMap;
  }

  /** The standing faults. */
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
    this.submitQueue = (value.submitStatus ?? []).map((status) => ({
      status,
      acceptThenFail: value.acceptThenFail ?? false,
    }));
    this.getResponseQueue = [...(value.getResponseStatus ?? [])];
    this.dropQueue = drops(value);
    this.oneShotHttpStatus = [];
    this.oneShotTaskFaults = [];
  }

  /**
   * Adds a one-time fault: statuses and `submitNetworkError` drops are appended to the request queues,
   * `httpStatus` answers the next submission only, and the task faults (including `ackDelayMs`,
   * `submitDelayMs`, `videoUrlHost`) apply to the next accepted task only (over the standing ones).
   */
  queueFault(fault: SimulatorFaults): void {
    for (const status of fault.submitStatus ?? []) {
      this.submitQueue.push({ status, acceptThenFail: fault.acceptThenFail ?? false });
    }
    this.getResponseQueue.push(...(fault.getResponseStatus ?? []));
    this.dropQueue.push(...drops(fault));
    if (fault.httpStatus !== undefined) this.oneShotHttpStatus.push(fault.httpStatus);
    const taskFaults = taskFaultsOf(fault);
    if (Object.keys(taskFaults).length > 0) this.oneShotTaskFaults.push(taskFaults);
  }

  /**
   * How many `videoInference` tasks were accepted (a refused or conflicting submission is not counted),
   * or, given a taskUUID, how many with that UUID (0 or 1, since Runware refuses a reused UUID).
   */
  acceptedTasks(taskUUID?: string): number {
    if (taskUUID === undefined) return this.submissions.length;
    const key = taskUUID.toLowerCase();
    return this.submissions.filter((s) => s.taskUUID.toLowerCase() === key).length;
  }

  /** How many videos were rendered in all (one per successful result; a failed or aborted render is not). */
  get renders(): number {
    return this.renderCount;
  }

  /** Starts listening. Port 0 picks a free port. */
  async start(port = 0): Promise<SimulatorAddress> {
    if (this.server) throw new Error('The Runware simulator is already started.');
    await mkdir(this.workDir, { recursive: true });
    this.stopController = new AbortController();
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.log(`runware-sim: internal error: ${describe(error)}`);
        if (!res.headersSent) {
          sendJson(res, 500, {
            errors: [{ code: 'internalServerError', message: 'The simulator failed; see its log.' }],
          });
        } else res.destroy();
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
    this.log(`runware-sim: listening on ${this.origin}/v1`);
    return { url: `${this.origin}/v1`, videoOrigin: this.origin };
  }

  /** Stops listening, kills running renders, abandons pending webhooks, and waits for all of it to end. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.stopController.abort();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    await this.waitForIdle();
  }

  /** Resolves when no task is being fetched, rendered or delivered (tasks that never finish do not count). */
  async waitForIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  // ----------------------------------------------------------------------------------------- routing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname } = new URL(req.url ?? '/', 'http://simulator');
    if (pathname === '/v1' || pathname === '/v1/') {
      if (req.method !== 'POST') {
        sendJson(res, 405, { errors: [{ code: 'methodNotAllowed', message: 'Use POST.' }] });
        return;
      }
      const reply = await this.handleApi(req);
      if (!reply.accepted?.length && !reply.drop) {
        sendJson(res, reply.status, reply.body);
        return;
      }
      const answered = this.answer(req, res, reply);
      // Tracked so that waitForIdle() also waits for held acks and the tasks they start.
      this.track(answered.catch(() => undefined));
      await answered;
      return;
    }
    const video = /^\/video\/([^/]+)$/.exec(pathname);
    if (video?.[1] !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
      await this.serveVideo(req, res, video[1]);
      return;
    }
    sendJson(res, 404, {
      errors: [{ code: 'notFound', message: `No route for ${req.method} ${pathname}.` }],
    });
  }

  private async handleApi(req: IncomingMessage): Promise<Reply> {
    let text: string;
    try {
      text = await readBody(req, MAX_REQUEST_BYTES);
    } catch {
      return failure(413, { code: 'requestTooLarge', message: 'The request body is too large.' });
    }
    let json: unknown;
    let parseProblem: string | undefined;
    try {
      json = JSON.parse(text);
    } catch {
      parseProblem = 'The request body is not valid JSON.';
    }
    // Runware also takes the key as a leading `authentication` task, so the body is read before deciding.
    if (!this.isAuthenticated(req.headers.authorization, json)) {
      this.log('runware-sim: POST /v1 -> 401 (missing or wrong API key)');
      return failure(401, {
        code: 'invalidApiKey',
        message: 'Invalid API key. Get one at https://my.runware.ai/signup',
        parameter: 'apiKey',
        taskType: 'authentication',
      });
    }
    if (parseProblem !== undefined) return failure(400, { code: 'invalidJSON', message: parseProblem });
    if (!Array.isArray(json)) {
      return failure(400, {
        code: 'invalidRequestBody',
        message: 'The request body must be a JSON array of task objects.',
      });
    }

    const tasks: unknown[] = json;
    const types = tasks.map((t) => TaskEnvelopeSchema.safeParse(t).data?.taskType);
    for (const type of types) this.requests[type ?? '(none)'] = (this.requests[type ?? '(none)'] ?? 0) + 1;
    // Errors about the whole request are still scoped to its (first real) task, as Runware does in batches.
    const scopeIndex = types.findIndex((type) => type !== undefined && type !== 'authentication');
    const firstScope = { taskType: types[scopeIndex], taskUUID: uuidOf(tasks[scopeIndex]) };

    const hasSubmission = types.includes('videoInference');
    let lateFault: StatusFault | undefined;
    let acceptThenDrop = false;
    if (hasSubmission) {
      const drop = this.dropQueue.shift();
      if (drop && !drop.acceptFirst) {
        this.log('runware-sim: POST /v1 videoInference -> connection destroyed (submitNetworkError)');
        return { status: 0, body: {}, drop: true };
      }
      acceptThenDrop = drop !== undefined;
      const fault = drop ? undefined : this.nextSubmissionFault();
      if (fault && !(fault.acceptThenFail && fault.status >= 500)) {
        this.log(`runware-sim: POST /v1 videoInference -> ${fault.status} (fault)`);
        return failure(fault.status, statusError(fault.status, firstScope));
      }
      lateFault = fault;
    } else if (types.includes('getResponse')) {
      const status = this.getResponseQueue.shift();
      if (status !== undefined) {
        this.log(`runware-sim: POST /v1 getResponse -> ${status} (fault)`);
        return failure(status, statusError(status, firstScope));
      }
    }

    const data: unknown[] = [];
    const errors: SimulatorErrorItem[] = [];
    const accepted: SimulatedTask[] = [];
    for (const item of tasks) {
      const outcome = this.dispatch(item);
      data.push(...outcome.data);
      errors.push(...outcome.errors);
      if (outcome.accepted) accepted.push(outcome.accepted);
    }
    if (acceptThenDrop) {
      this.log('runware-sim: POST /v1 videoInference accepted, then connection destroyed (acceptThenDrop)');
      return { status: 0, body: {}, drop: true, accepted };
    }
    if (lateFault) {
      this.log(`runware-sim: POST /v1 videoInference accepted, then -> ${lateFault.status} (fault)`);
      return { ...failure(lateFault.status, statusError(lateFault.status, firstScope)), accepted };
    }
    // Mirrors Runware: 200 when anything succeeded (errors of other tasks ride along), else the refusal's 400.
    const status = data.length > 0 || errors.length === 0 ? 200 : 400;
    return {
      status,
      body: {
        ...(data.length > 0 || errors.length === 0 ? { data } : {}),
        ...(errors.length ? { errors } : {}),
      },
      accepted,
    };
  }

  /**
   * Answers a request that created tasks or is to be dropped: starts the tasks, and writes (or withholds) the
   * answer as their `submitDelayMs` / `ackDelayMs` say.
   */
  private async answer(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
    const accepted = reply.accepted ?? [];
    if (reply.drop) {
      for (const task of accepted) this.startProcessing(task);
      req.socket.destroy();
      return;
    }
    const submitDelayMs = Math.max(0, ...accepted.map((t) => t.faults.submitDelayMs ?? 0));
    if (submitDelayMs > 0) {
      this.log(`runware-sim: holding the ack for ${submitDelayMs} ms before processing (submitDelayMs)`);
      await this.sleep(submitDelayMs);
    }
    for (const task of accepted) this.startProcessing(task);
    const held = accepted.filter((t) => t.faults.ackDelayMs !== undefined);
    if (held.length > 0) {
      const ackDelayMs = Math.max(0, ...held.map((t) => t.faults.ackDelayMs ?? 0));
      this.log(
        `runware-sim: holding the ack for ${ackDelayMs} ms and until the webhooks went out (ackDelayMs)`,
      );
      await Promise.all([this.sleep(ackDelayMs), ...held.map((t) => this.webhooksPosted(t))]);
    }
    if (res.destroyed || res.socket === null || res.socket.destroyed) {
      this.log('runware-sim: the submitter hung up before its ack; the task goes on');
      return;
    }
    sendJson(res, reply.status, reply.body);
  }

  /** Starts processing an accepted task (unless it never finishes, or the simulator is stopping). */
  private startProcessing(task: SimulatedTask): void {
    // A task that never finishes is not tracked: waitForIdle() must not wait for it.
    if (task.faults.neverFinish || this.stopping || this.processes.has(task)) return;
    const work = this.process(task);
    this.processes.set(task, work);
    this.track(work);
  }

  /** Settles when the task has finished and each of its webhooks had its first POST answered (or failed). */
  private async webhooksPosted(task: SimulatedTask): Promise<void> {
    if (task.faults.neverFinish) return;
    await this.processes.get(task);
    await Promise.all(this.firstPosts.get(task) ?? []);
  }

  private isAuthenticated(header: string | undefined, body: unknown): boolean {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
    if (bearer !== undefined) return bearer === this.apiKey;
    const firstTask = Array.isArray(body) ? AuthenticationTaskSchema.safeParse(body[0]) : undefined;
    return firstTask?.success === true && firstTask.data.apiKey === this.apiKey;
  }

  private nextSubmissionFault(): StatusFault | undefined {
    const queued = this.submitQueue.shift();
    if (queued) return queued;
    const oneShot = this.oneShotHttpStatus.shift();
    if (oneShot !== undefined) return { status: oneShot, acceptThenFail: false };
    const standing = this.standingFaults.httpStatus;
    return standing === undefined ? undefined : { status: standing, acceptThenFail: false };
  }

  private dispatch(item: unknown): Dispatched {
    const envelope = TaskEnvelopeSchema.safeParse(item);
    if (!envelope.success) {
      return {
        data: [],
        errors: [{ code: 'missingTaskType', message: 'Every task needs a taskType.', parameter: 'taskType' }],
      };
    }
    switch (envelope.data.taskType) {
      case 'authentication':
        return { data: [], errors: [] };
      case 'videoInference':
        return this.submit(item);
      case 'getResponse':
        return this.getResponse(item);
      default:
        return {
          data: [],
          errors: [
            {
              code: 'invalidTaskType',
              message: `Task type ${JSON.stringify(envelope.data.taskType)} is not supported by the simulator (videoInference, getResponse).`,
              parameter: 'taskType',
              taskType: envelope.data.taskType,
              ...scopeOf(item),
            },
          ],
        };
    }
  }

  // -------------------------------------------------------------------------------------------- submit

  private submit(item: unknown): Dispatched {
    const checked = validateVideoInference(item);
    if (!checked.ok) {
      this.log(
        `runware-sim: videoInference refused: ${checked.error.code} (${checked.error.parameter ?? '-'})`,
      );
      return { data: [], errors: [checked.error] };
    }
    const task = checked.task;
    const key = task.taskUUID.toLowerCase();
    if (this.taskMap.has(key)) {
      this.log(`runware-sim: videoInference ${task.taskUUID} refused: conflictTaskUUID`);
      return {
        data: [],
        errors: [
          {
            code: 'conflictTaskUUID',
            message: `A task with taskUUID ${task.taskUUID} already exists. Use a new UUID v4 for every task.`,
            parameter: 'taskUUID',
            taskType: 'videoInference',
            taskUUID: task.taskUUID,
          },
        ],
      };
    }

    const now = new Date();
    const format = task.outputFormat ?? 'MP4';
    const count = task.numberResults ?? 1;
    const simulated: SimulatedTask = {
      taskUUID: task.taskUUID,
      task,
      format,
      faults: { ...taskFaultsOf(this.standingFaults), ...this.oneShotTaskFaults.shift() },
      status: 'processing',
      results: Array.from({ length: count }, (_, i) => ({
        index: i + 1,
        status: 'processing' as const,
        seed: randomInt(1, 2 ** 31),
      })),
      acceptedAt: now,
      ...(task.ttl === undefined ? {} : { expiresAt: new Date(now.getTime() + task.ttl * 1000) }),
    };
    this.taskMap.set(key, simulated);
    this.submissions.push({ taskUUID: task.taskUUID, task, receivedAt: now });
    const faultNames = Object.keys(simulated.faults);
    this.log(
      `runware-sim: videoInference ${task.taskUUID} accepted (${task.model}, ${format}, ${count} result${count > 1 ? 's' : ''}` +
        `${faultNames.length ? `, faults: ${faultNames.join(', ')}` : ''})`,
    );
    // Processing starts when the request is answered (see answer()), which submitDelayMs can put off.
    return {
      data: [{ taskType: 'videoInference', taskUUID: task.taskUUID }],
      errors: [],
      accepted: simulated,
    };
  }

  // --------------------------------------------------------------------------------------- getResponse

  private getResponse(item: unknown): { data: unknown[]; errors: SimulatorErrorItem[] } {
    const parsed = GetResponseTaskSchema.safeParse(item);
    const taskUUID = parsed.success ? parsed.data.taskUUID : undefined;
    if (typeof taskUUID !== 'string' || !z.uuid().safeParse(taskUUID).success) {
      return {
        data: [],
        errors: [
          {
            code: taskUUID === undefined ? 'missingTaskUUID' : 'invalidTaskUUID',
            message: 'getResponse needs the taskUUID (a UUID) of a task sent earlier.',
            parameter: 'taskUUID',
            taskType: 'getResponse',
          },
        ],
      };
    }
    const task = this.taskMap.get(taskUUID.toLowerCase());
    if (!task) {
      return {
        data: [],
        errors: [
          {
            code: 'taskNotFound',
            message: `No task with taskUUID ${taskUUID} was found.`,
            parameter: 'taskUUID',
            taskType: 'getResponse',
            taskUUID,
          },
        ],
      };
    }
    const scope = { taskType: 'videoInference', taskUUID: task.taskUUID };
    if (task.error) return { data: [], errors: [{ ...task.error, ...scope }] };
    const data: unknown[] = [];
    const errors: SimulatorErrorItem[] = [];
    for (const result of task.results) {
      if (result.status === 'error' && result.error) errors.push({ ...result.error, ...scope });
      else if (result.status === 'success') data.push({ ...resultItem(task, result), status: 'success' });
      else data.push({ ...scope, status: 'processing', progress: result.file ? 90 : 0 });
    }
    return { data, errors };
  }

  // ------------------------------------------------------------------------------------------- process

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  /** Fetches the inputs, renders each result, and reports each one by webhook as it becomes available. */
  private async process(task: SimulatedTask): Promise<void> {
    const started = performance.now();
    try {
      const dir = join(this.workDir, task.taskUUID.toLowerCase());
      await mkdir(dir, { recursive: true });
      if (task.faults.errorWebhook) {
        await this.sleep(this.renderDelayMs + (task.faults.slowMs ?? 0));
        if (this.stopping) return;
        throw new TaskFailure(task.faults.errorWebhook.code, task.faults.errorWebhook.message);
      }
      const image = await this.fetchInput(task.task.inputs.image, 'image', dir);
      const audio = await this.fetchInput(task.task.inputs.audio, 'audio', dir);
      const durationSeconds = await this.checkInputs(image, audio);
      await this.sleep(this.renderDelayMs + (task.faults.slowMs ?? 0));

      for (const result of task.results) {
        if (this.stopping) return;
        if (task.faults.failResult === result.index) {
          this.finishResult(task, result, {
            code: 'providerError',
            message: `The provider failed to generate result ${result.index} of ${task.results.length}. Retry the task.`,
          });
          continue;
        }
        await this.renderResult(task, result, image, audio, durationSeconds);
      }
      task.status = task.results.some((r) => r.status === 'error') ? 'error' : 'success';
      task.finishedAt = new Date();
      this.log(`runware-sim: videoInference ${task.taskUUID} ${task.status} in ${elapsed(started)}`);
    } catch (error) {
      if (this.stopping) return;
      const failure =
        error instanceof TaskFailure
          ? error
          : new TaskFailure('internalError', `The task failed inside the simulator: ${describe(error)}`);
      task.error = { code: failure.code, message: failure.message };
      task.status = 'error';
      task.finishedAt = new Date();
      for (const result of task.results) {
        if (result.status === 'processing') result.status = 'error';
      }
      this.log(`runware-sim: videoInference ${task.taskUUID} error ${failure.code}: ${failure.message}`);
      this.send(task, { errors: [{ ...task.error, taskType: 'videoInference', taskUUID: task.taskUUID }] });
    }
  }

  private async renderResult(
    task: SimulatedTask,
    result: SimulatedResult,
    image: string,
    audio: string,
    durationSeconds: number,
  ): Promise<void> {
    const videoUUID = randomUUID();
    const ext = FILE_EXTENSION_OF_FORMAT[task.format];
    const file = join(this.workDir, task.taskUUID.toLowerCase(), `${videoUUID}.${ext}`);
    result.file = file;
    try {
      const rendered = await renderAvatarVideo({
        image,
        audio,
        output: file,
        format: task.format,
        quality: task.task.outputQuality ?? 95,
        seed: result.seed,
        durationSeconds,
        signal: this.stopController.signal,
      });
      this.renderCount += 1;
      if (this.stopping) return;
      result.videoUUID = videoUUID;
      result.videoURL = `${videoOrigin(task.faults.videoUrlHost) ?? this.origin}/video/${videoUUID}.${ext}`;
      result.durationSeconds = rendered.durationSeconds;
      result.renderMs = rendered.elapsedMs;
      if (task.task.includeCost) {
        result.cost = roundCost(COST_PER_SECOND_USD[task.task.model] * rendered.durationSeconds);
      }
      this.videos.set(videoUUID, { task, result });
      this.log(
        `runware-sim: videoInference ${task.taskUUID} result ${result.index}/${task.results.length} rendered in ` +
          `${rendered.elapsedMs} ms (${rendered.durationSeconds.toFixed(2)} s, ${rendered.width}x${rendered.height}, ${task.format})`,
      );
      this.finishResult(task, result);
    } catch (error) {
      if (this.stopping) return;
      this.finishResult(task, result, {
        code: 'providerError',
        message: `The provider failed to generate the video: ${describe(error)}`,
      });
    }
  }

  /** Marks a result done and sends its webhook. */
  private finishResult(
    task: SimulatedTask,
    result: SimulatedResult,
    error?: { code: string; message: string },
  ): void {
    if (error) {
      result.status = 'error';
      result.error = error;
      this.log(`runware-sim: videoInference ${task.taskUUID} result ${result.index} error ${error.code}`);
      this.send(task, { errors: [{ ...error, taskType: 'videoInference', taskUUID: task.taskUUID }] });
      return;
    }
    result.status = 'success';
    this.send(task, { data: [resultItem(task, result)] });
  }

  /** Downloads one input into the task's folder, as Runware does with the URLs it is given. */
  private async fetchInput(url: string, kind: 'image' | 'audio', dir: string): Promise<string> {
    const code = kind === 'image' ? 'invalidImageURL' : 'invalidAudioURL';
    // Messages and logs never carry the query string: it is the presigned URL's signature.
    const shown = stripUrlQueries(url);
    let bytes: Uint8Array;
    try {
      const response = await fetch(url, {
        signal: AbortSignal.any([AbortSignal.timeout(INPUT_FETCH_TIMEOUT_MS), this.stopController.signal]),
      });
      if (!response.ok) {
        await response.body?.cancel();
        throw new TaskFailure(
          code,
          `Could not download inputs.${kind} from ${shown}: HTTP ${response.status}.`,
        );
      }
      const declared = Number(response.headers.get('content-length') ?? '0');
      if (declared > MAX_INPUT_BYTES) {
        await response.body?.cancel();
        throw new TaskFailure(code, `inputs.${kind} at ${shown} is larger than ${MAX_INPUT_BYTES} bytes.`);
      }
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      if (error instanceof TaskFailure) throw error;
      throw new TaskFailure(code, `Could not download inputs.${kind} from ${shown}: ${describe(error)}.`);
    }
    if (bytes.length === 0) throw new TaskFailure(code, `inputs.${kind} at ${shown} is empty.`);
    let name: string = kind;
    if (kind === 'image') {
      // ffmpeg's looping image reader picks its decoder by extension, so the file needs the right one.
      const ext = imageExtension(bytes);
      if (!ext) {
        throw new TaskFailure('invalidImage', `inputs.image at ${shown} is not a JPEG, PNG or WebP image.`);
      }
      name = `image.${ext}`;
    }
    const file = join(dir, name);
    await writeFile(file, bytes);
    return file;
  }

  /** Checks that the inputs are media the model can use; returns the audio's duration. */
  private async checkInputs(image: string, audio: string): Promise<number> {
    const signal = this.stopController.signal;
    const picture = await probe(image, signal).catch(() => undefined);
    if (!picture?.streams.some((s) => s.codecType === 'video' && (s.width ?? 0) > 0)) {
      throw new TaskFailure('invalidImage', 'inputs.image could not be decoded as an image.');
    }
    const sound = await probe(audio, signal).catch(() => undefined);
    if (!sound?.streams.some((s) => s.codecType === 'audio')) {
      throw new TaskFailure('invalidAudio', 'inputs.audio could not be decoded as audio.');
    }
    const seconds = sound.durationSeconds;
    if (!(seconds >= AUDIO_LIMITS_SECONDS.min && seconds <= AUDIO_LIMITS_SECONDS.max)) {
      throw new TaskFailure(
        'invalidAudioDuration',
        `inputs.audio lasts ${seconds.toFixed(2)} s; the model accepts ${AUDIO_LIMITS_SECONDS.min} to ${AUDIO_LIMITS_SECONDS.max} s.`,
      );
    }
    return seconds;
  }

  /** A sleep that ends early when the simulator stops. */
  private sleep(ms: number): Promise<void> {
    const signal = this.stopController.signal;
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  // ------------------------------------------------------------------------------------------ webhooks

  /** Delivers a webhook in the background, noting when its first POST attempt is over (for `ackDelayMs`). */
  private send(task: SimulatedTask, body: SimulatorWebhookBody): void {
    let firstPostDone = (): void => {};
    const firstPost = new Promise<void>((resolve) => {
      firstPostDone = resolve;
    });
    const posts = this.firstPosts.get(task) ?? [];
    posts.push(firstPost);
    this.firstPosts.set(task, posts);
    this.track(this.deliver(task, body, firstPostDone).finally(firstPostDone));
  }

  private async deliver(
    task: SimulatedTask,
    body: SimulatorWebhookBody,
    onFirstPost?: () => void,
  ): Promise<void> {
    const url = task.task.webhookURL;
    if (url === undefined) return;
    const shown = withoutQuery(url);
    if (task.faults.loseWebhook) {
      this.log(`runware-sim: webhook for ${task.taskUUID} to ${shown} dropped (loseWebhook)`);
      return;
    }
    const copies = task.faults.duplicateWebhook ? 2 : 1;
    for (let copy = 0; copy < copies && !this.stopping; copy++) {
      await this.post(task, url, body, copy === 0 ? onFirstPost : undefined);
    }
  }

  /** One delivery: POSTs until a 2xx, retrying a few times like Runware does. */
  private async post(
    task: SimulatedTask,
    url: string,
    body: SimulatorWebhookBody,
    onFirstAttempt?: () => void,
  ): Promise<void> {
    const shown = withoutQuery(url);
    const attempts = WEBHOOK_RETRY_DELAYS_MS.length + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let status: number | null = null;
      let problem: string | undefined;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'runware-simulator' },
          body: JSON.stringify(body),
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(WEBHOOK_TIMEOUT_MS), this.stopController.signal]),
        });
        status = response.status;
        await response.arrayBuffer().catch(() => undefined);
      } catch (error) {
        problem = stripUrlQueries(describe(error));
      }
      if (this.stopping) return;
      this.webhookDeliveries.push({
        taskUUID: task.taskUUID,
        url: shown,
        attempt,
        status,
        ...(problem === undefined ? {} : { error: problem }),
        body,
        at: new Date(),
      });
      this.log(`runware-sim: webhook POST ${shown} -> ${status ?? problem} (attempt ${attempt}/${attempts})`);
      if (attempt === 1) onFirstAttempt?.();
      if (status !== null && status >= 200 && status < 300) return;
      const pause = WEBHOOK_RETRY_DELAYS_MS[attempt - 1];
      if (pause !== undefined) await this.sleep(pause);
    }
    this.log(`runware-sim: webhook for ${task.taskUUID} to ${shown} given up after ${attempts} attempts`);
  }

  // --------------------------------------------------------------------------------------------- video

  private async serveVideo(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const match = /^([0-9a-f-]{36})\.([a-z0-9]+)$/i.exec(name);
    const entry = match?.[1] === undefined ? undefined : this.videos.get(match[1].toLowerCase());
    const notFound = (): void => {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not Found');
    };
    if (!entry || match?.[2]?.toLowerCase() !== FILE_EXTENSION_OF_FORMAT[entry.task.format]) {
      notFound();
      return;
    }
    const { task, result } = entry;
    const file = result.file;
    if (file === undefined || (task.expiresAt && Date.now() > task.expiresAt.getTime())) {
      notFound();
      return;
    }
    switch (task.faults.videoFault) {
      case '404':
        notFound();
        return;
      case 'unreachable':
        req.socket.destroy();
        return;
      case 'wrong-content-type': {
        const page = '<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>\n';
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Length': Buffer.byteLength(page),
        });
        res.end(req.method === 'HEAD' ? undefined : page);
        return;
      }
      case 'truncate': {
        const bytes = await readFile(file);
        res.writeHead(200, {
          'Content-Type': CONTENT_TYPE_OF_FORMAT[task.format],
          'Content-Length': bytes.length,
        });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        // Half the promised bytes, then the connection drops: what a client sees when a download breaks.
        res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.destroy());
        return;
      }
      default: {
        const { size } = await stat(file);
        res.writeHead(200, {
          'Content-Type': CONTENT_TYPE_OF_FORMAT[task.format],
          'Content-Length': size,
          'Cache-Control': 'private, max-age=3600',
        });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        createReadStream(file)
          .on('error', () => res.destroy())
          .pipe(res);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------ validation

const PARAMETER_RULES: Readonly<Record<string, string>> = {
  taskUUID: 'a UUID v4 string',
  model: `a Kling avatar model (${AVATAR_MODELS.join(', ')})`,
  positivePrompt: `a string of 1 to ${PROMPT_MAX_LENGTH} characters`,
  inputs: 'an object with image and audio',
  'inputs.image': 'a URL of an image, or the UUID of an uploaded image',
  'inputs.audio': 'a URL of an audio file, or the UUID of an uploaded audio file',
  outputType: '"URL"',
  outputFormat: 'one of MP4, WEBM, MOV',
  outputQuality: 'an integer between 20 and 99',
  deliveryMethod: '"async" (video tasks are always delivered asynchronously)',
  webhookURL: 'an http(s) URL',
  ttl: 'an integer number of seconds, at least 60',
  includeCost: 'a boolean',
  numberResults: 'an integer between 1 and 4',
  safety: 'an object with checkContent (boolean) and mode (none, fast or full)',
};

/** Runware-style code for a parameter: `invalidOutputQuality`, `missingModel`; inputs have their own. */
function parameterCode(parameter: string, missing: boolean): string {
  if (parameter.startsWith('inputs')) {
    if (missing) return 'missingInputs';
    if (parameter === 'inputs.image') return 'invalidImage';
    if (parameter === 'inputs.audio') return 'invalidAudio';
    return 'invalidInputs';
  }
  const top = parameter.split('.')[0] ?? parameter;
  return `${missing ? 'missing' : 'invalid'}${top.charAt(0).toUpperCase()}${top.slice(1)}`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/**
 * Validates a `videoInference` task like Runware does: one error, naming the parameter, with a specific code.
 * Media UUIDs pass the pipeline's schema but are refused here, because the simulator has no media storage.
 */
export function validateVideoInference(
  raw: unknown,
): { ok: true; task: VideoInferenceTask } | { ok: false; error: SimulatorErrorItem } {
  const scope = { taskType: 'videoInference', ...scopeOf(raw) };
  const parsed = VideoInferenceTaskSchema.safeParse(raw);
  if (!parsed.success) {
    // Known parameters first, in schema order; unknown ones last, as Runware reports the worst problem first.
    const issues = [...parsed.error.issues].sort(
      (a, b) => Number(a.code === 'unrecognized_keys') - Number(b.code === 'unrecognized_keys'),
    );
    const issue = issues[0];
    if (issue?.code === 'unrecognized_keys') {
      const parameter = [...issue.path.map(String), issue.keys[0] ?? ''].join('.');
      return {
        ok: false,
        error: {
          code: 'unsupportedParameter',
          message: `Parameter ${parameter} is not supported for model ${modelOf(raw)} in videoInference tasks.`,
          parameter,
          ...scope,
        },
      };
    }
    const path = issue?.path ?? [];
    const parameter = path.map(String).join('.') || 'task';
    const missing = path.length > 0 && valueAt(raw, path) === undefined;
    const rule = PARAMETER_RULES[parameter];
    return {
      ok: false,
      error: {
        code: parameterCode(parameter, missing),
        message: missing
          ? `Missing required parameter ${parameter}.`
          : `Invalid value for ${parameter}${rule ? `: it must be ${rule}` : ` (${issue?.message ?? 'invalid'})`}.`,
        parameter,
        ...scope,
      },
    };
  }
  const task = parsed.data;
  for (const kind of ['image', 'audio'] as const) {
    const value = task.inputs[kind];
    if (!/^https?:/i.test(value)) {
      return {
        ok: false,
        error: {
          code: kind === 'image' ? 'invalidImage' : 'invalidAudio',
          message: `inputs.${kind} ${value} does not match any uploaded media. Upload it first, or pass a URL.`,
          parameter: `inputs.${kind}`,
          ...scope,
        },
      };
    }
  }
  return { ok: true, task };
}

// ------------------------------------------------------------------------------------------------ utils

function modelOf(raw: unknown): string {
  const model = valueAt(raw, ['model']);
  return typeof model === 'string' ? model : '(none)';
}

function uuidOf(raw: unknown): string | undefined {
  const taskUUID = valueAt(raw, ['taskUUID']);
  return typeof taskUUID === 'string' ? taskUUID : undefined;
}

function scopeOf(raw: unknown): { taskUUID?: string } {
  const taskUUID = uuidOf(raw);
  return taskUUID === undefined ? {} : { taskUUID };
}

function resultItem(task: SimulatedTask, result: SimulatedResult): SimulatorResultItem {
  return {
    taskType: 'videoInference',
    taskUUID: task.taskUUID,
    videoUUID: result.videoUUID ?? '',
    videoURL: result.videoURL ?? '',
    ...(result.cost === undefined ? {} : { cost: result.cost }),
    seed: result.seed,
  };
}

/** Realistic error bodies for fault statuses; the codes follow Runware's naming style. */
function statusError(status: number, scope: { taskType?: string; taskUUID?: string }): SimulatorErrorItem {
  const scoped = {
    ...(scope.taskType === undefined ? {} : { taskType: scope.taskType }),
    ...(scope.taskUUID === undefined ? {} : { taskUUID: scope.taskUUID }),
  };
  const byStatus: Record<number, { code: string; message: string; parameter?: string }> = {
    400: { code: 'invalidRequest', message: 'The request was unacceptable to the provider.' },
    401: {
      code: 'invalidApiKey',
      message: 'Invalid API key. Get one at https://my.runware.ai/signup',
      parameter: 'apiKey',
    },
    402: {
      code: 'insufficientCredits',
      message:
        'Insufficient credits to run this task. Add funds at https://my.runware.ai/wallet and try again.',
    },
    403: { code: 'accessDenied', message: 'This API key is not allowed to run this model.' },
    404: { code: 'modelNotFound', message: 'The requested model was not found.', parameter: 'model' },
    429: {
      code: 'queueCapacityExceeded',
      message: 'Queue capacity exceeded for this model. Retry with exponential backoff.',
    },
    500: { code: 'internalServerError', message: 'An unexpected error occurred. Retry the request.' },
    502: { code: 'badGateway', message: 'Bad gateway. Retry the request.' },
    503: { code: 'serviceUnavailable', message: 'Temporary capacity constraint. Retry the request shortly.' },
    504: { code: 'timeoutQueue', message: 'The request exceeded the maximum queue wait time.' },
  };
  const known = byStatus[status] ?? { code: `http${status}`, message: `Simulated HTTP ${status}.` };
  return { ...known, ...(status === 401 ? { taskType: 'authentication' } : scoped) };
}

/** The `submitNetworkError` entries a fault adds to the drop queue. */
function drops(fault: SimulatorFaults): { acceptFirst: boolean }[] {
  const count = Math.max(0, Math.floor(fault.submitNetworkError ?? 0));
  return Array.from({ length: count }, () => ({ acceptFirst: fault.acceptThenDrop ?? false }));
}

/** The origin `videoUrlHost` names: a bare host means HTTPS; a value with a scheme is taken as is. */
function videoOrigin(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host.replace(/\/+$/, '') : `https://${host}`;
}

function failure(status: number, error: SimulatorErrorItem): Reply {
  return { status, body: { errors: [error] } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** By magic bytes: what ffmpeg's image reader needs as a file extension. */
function imageExtension(bytes: Uint8Array): string | undefined {
  const ascii = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpg';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}

function withoutQuery(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** USD with 5 decimals, as Runware reports costs. */
function roundCost(usd: number): number {
  return Math.round(usd * 100_000) / 100_000;
}

function elapsed(startedMs: number): string {
  return `${Math.round(performance.now() - startedMs)} ms`;
}

/** An error in words, including undici's hidden cause code (`fetch failed (ECONNREFUSED)`). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  const code =
    typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string'
      ? ` (${cause.code})`
      : '';
  return `${error.message}${code}`;
}
