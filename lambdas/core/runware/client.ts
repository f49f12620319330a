import * as z from 'zod';
import { RunwareBusyError, RunwareRejectedError, TransientError } from '../errors.js';
import { safeMessage } from '../redact.js';
import { RUNWARE_ERROR_CODES, type RunwareErrorCode, rejectionKind } from './error-codes.js';
import { providerWords } from './provider-text.js';
import { isTransientPollError, parseTaskReports, type TaskFailure } from './reports.js';
import {
  AckItemSchema,
  describeIssues,
  type ResponseEnvelope,
  ResponseEnvelopeSchema,
  type RunwareErrorItem,
  type VideoInferenceTask,
  VideoInferenceTaskSchema,
  type VideoResult,
} from './schemas.js';

export { RUNWARE_ERROR_CODES, type RunwareErrorCode } from './error-codes.js';
export type { TaskFailure } from './reports.js';

/** Result of {@link RunwareClient.submit}. */
export interface SubmitOutcome {
  /**
   * `already-accepted`: Runware answered `conflictTaskUUID`, i.e. it already holds a task with this UUID. That
   * is what a retry of a submit that did reach Runware looks like, so it is success, not an error.
   */
  status: 'accepted' | 'already-accepted';
}

/** Summary of a `getResponse` poll for one task. */
export interface TaskPoll {
  /** Finished videos (one per result when `numberResults > 1`). */
  results: VideoResult[];
  /** Items still `processing` / `pending` (or in a status this code does not know). */
  pending: number;
  /** Items that failed. Non-empty means the task failed, even if other results finished. */
  errors: TaskFailure[];
  /**
   * Errors in a 200 answer that mean "ask again later" (see {@link isTransientPollError}); already counted in
   * `pending`, listed here so the caller can log them. Absent when there are none.
   */
  transient?: TaskFailure[];
  /**
   * Runware does not know the task (`taskNotFound`): it never accepted it, or forgot it. Its report is also in
   * `errors`, so a poller that expected the task fails it as before; only a job taking over an earlier
   * attempt's task sends it (under the same UUID) on this answer. Absent otherwise.
   */
  unknownTask?: true;
}

/** Runware as the pipeline needs it: send a task, and ask how it is going. */
export interface RunwareClient {
  /** Sends one `videoInference` task. Safe to call again with the same task after a failure. */
  submit(task: VideoInferenceTask): Promise<SubmitOutcome>;
  /** Polls a task sent earlier (the fallback when its webhook is late or lost). */
  getResponse(taskUUID: string): Promise<TaskPoll>;
}

export interface HttpRunwareClientOptions {
  /** Runware endpoint, e.g. `https://api.runware.ai/v1`. */
  url: string;
  /** Returns the API key; called once per request so a rotated secret is picked up by the caller's cache. */
  apiKey: () => Promise<string>;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** @default setTimeout-based sleep */
  sleep?: (ms: number) => Promise<void>;
  /** Attempts per call, including the first. @default 4 */
  maxAttempts?: number;
  /** First backoff ceiling; doubles per attempt. @default 500 */
  baseDelayMs?: number;
  /** Ceiling of any one wait, `Retry-After` included. @default 8000 */
  maxDelayMs?: number;
  /** Per-attempt time limit. @default 30000 */
  timeoutMs?: number;
  /** Source of jitter in [0, 1). @default Math.random */
  random?: () => number;
}

/** One HTTP answer that is not transient (transient ones are retried inside {@link HttpRunwareClient.post}). */
interface Reply {
  status: number;
  /** The body as a Runware envelope, or undefined when it is not one. */
  envelope: ResponseEnvelope | undefined;
  /** Why the body is not an envelope, for the error message. */
  envelopeProblem: string | undefined;
  /**
   * An earlier try of this request got no answer (time-out, network) or a server error: Runware may have acted on
   * it, so a refusal now is not Runware's word about what that try did.
   */
  afterUncertainTry?: boolean;
}

interface Failure {
  code: RunwareErrorCode;
  /** What happened on the last attempt, in words, already free of secrets. */
  what: string;
  cause?: unknown;
}

/** A request Runware will not accept whatever we do; only the message's subject differs. */
interface RequestContext {
  subject: string;
  apiKey: string;
}

const CONFLICT_TASK_UUID = 'conflictTaskUUID';
/** Error codes of a poll that mean "no such task" (see {@link TaskPoll.unknownTask}). */
const UNKNOWN_TASK_CODES: ReadonlySet<string> = new Set(['taskNotFound']);

/**
 * {@link RunwareClient} over Runware's HTTP API. Transient failures (429, 5xx, network, timeout) are retried
 * here with capped exponential backoff and full jitter; the caller's own retry (the state machine's) covers
 * longer outages. Retrying a submit is safe because Runware refuses a second task with the same UUID
 * (`conflictTaskUUID`), which {@link submit} reports as `already-accepted`.
 */
export class HttpRunwareClient implements RunwareClient {
  private readonly url: string;
  private readonly apiKey: () => Promise<string>;
  private readonly fetch: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly random: () => number;

  constructor(options: HttpRunwareClientOptions) {
    this.url = options.url;
    this.apiKey = options.apiKey;
    // Wrapped: calling the global fetch as a method of another object throws "Illegal invocation".
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.maxAttempts = options.maxAttempts ?? 4;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.random = options.random ?? Math.random;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new RangeError(`maxAttempts must be a positive integer, got ${this.maxAttempts}.`);
    }
  }

  /**
   * Sends one task. The task is checked against {@link VideoInferenceTaskSchema} first: a task that fails is a
   * bug in the caller, so it throws a `TypeError` and nothing is sent (or billed).
   *
   * @throws {RunwareBusyError} RUNWARE_BUSY / RUNWARE_TIMEOUT / RUNWARE_UNAVAILABLE when the last of
   *   `maxAttempts` was answered 429, 408, 504 or 503: Runware is at capacity, and the job waits in the state
   *   machine (its slot given back) until its deadline.
   * @throws {TransientError} RUNWARE_UNAVAILABLE / RUNWARE_TIMEOUT / RUNWARE_NETWORK after `maxAttempts` (other
   *   5xx, no answer), or RUNWARE_BAD_RESPONSE at once.
   * @throws {RunwareRejectedError} when Runware refuses the task (see {@link RUNWARE_ERROR_CODES}).
   */
  async submit(task: VideoInferenceTask): Promise<SubmitOutcome> {
    const checked = VideoInferenceTaskSchema.safeParse(task);
    if (!checked.success) {
      throw new TypeError(
        `Refusing to send an invalid Runware task (${describeIssues(checked.error)}). This is a bug in the caller.`,
      );
    }
    const ctx: RequestContext = { subject: 'the task', apiKey: await this.apiKey() };
    const reply = await this.post([checked.data], ctx, { waitWhenBusy: true });
    const errors = reply.envelope?.errors ?? [];
    if (errors.some((e) => e.code === CONFLICT_TASK_UUID)) return { status: 'already-accepted' };
    if (!isSuccess(reply.status) || errors.length > 0) {
      const refusal = rejected(reply.status, errors, ctx);
      refusal.afterUncertainTry = reply.afterUncertainTry === true;
      throw refusal;
    }

    const envelope = requireEnvelope(reply, ctx);
    const acks = z.array(AckItemSchema).safeParse(envelope.data ?? []);
    if (!acks.success) throw badResponse(reply.status, describeIssues(acks.error), ctx);
    return { status: 'accepted' };
  }

  /**
   * Asks Runware how a task is going. A failure of the task itself (Runware's `errors` naming this task, or an
   * item with `status: "error"`) comes back in {@link TaskPoll.errors}; a failure of the request (bad key, no
   * balance) throws like {@link submit}.
   */
  async getResponse(taskUUID: string): Promise<TaskPoll> {
    if (!z.uuid().safeParse(taskUUID).success) {
      throw new TypeError(
        'getResponse needs the task UUID of a task sent earlier. This is a bug in the caller.',
      );
    }
    const ctx: RequestContext = {
      subject: `the status request for task ${taskUUID}`,
      apiKey: await this.apiKey(),
    };
    const reply = await this.post([{ taskType: 'getResponse', taskUUID }], ctx);
    const errors = reply.envelope?.errors ?? [];
    // An error without a taskUUID in a one-task poll is about that task (the docs say "if applicable"; both
    // SDKs assign it to the polled task).
    const isOfTask = (e: RunwareErrorItem) =>
      e.taskUUID === undefined || e.taskUUID.toLowerCase() === taskUUID.toLowerCase();
    const ofTask = errors.filter(isOfTask);
    const other = errors.filter((e) => !isOfTask(e));
    // UNCONFIRMED how Runware answers a poll for a task it does not hold (docs/runware-api.md section 3):
    // `taskNotFound` is a code the official TS SDK's classifier knows; with 200, 400 or 404 it is read as such.
    const unknownTask = ofTask.some((e) => UNKNOWN_TASK_CODES.has(e.code));
    // A failed task may be reported with 400/422; any other status is about the request, not the task.
    const taskLevel =
      isSuccess(reply.status) ||
      reply.status === 400 ||
      reply.status === 422 ||
      (unknownTask && reply.status === 404);
    if (other.length > 0 || (!isSuccess(reply.status) && !(taskLevel && ofTask.length > 0))) {
      throw rejected(reply.status, other.length > 0 ? other : errors, ctx);
    }

    const envelope = requireEnvelope(reply, ctx);
    // Items of other tasks are skipped: getResponse for one UUID only returns that task's items.
    const parsed = parseTaskReports(envelope, taskUUID, { source: 'getResponse' });
    if (!parsed.ok) throw badResponse(reply.status, parsed.reason, ctx);

    const poll: TaskPoll = {
      results: [],
      pending: parsed.reports.pending,
      errors: [],
      ...(unknownTask ? { unknownTask: true as const } : {}),
    };
    const transient: TaskFailure[] = [];
    for (const failure of parsed.reports.failures) {
      // Only inside a 200: an error status already said what it is about.
      if (isSuccess(reply.status) && isTransientPollError(failure.code)) transient.push(failure);
      else poll.errors.push(failure);
    }
    if (transient.length > 0) {
      poll.pending += transient.length;
      poll.transient = transient;
    }
    for (const item of parsed.reports.results) {
      poll.results.push({
        taskType: item.taskType,
        taskUUID: item.taskUUID,
        videoUUID: item.videoUUID,
        videoURL: item.videoURL,
        ...(item.cost === undefined ? {} : { cost: item.cost }),
        ...(item.seed === undefined ? {} : { seed: item.seed }),
        ...(item.NSFWContent === undefined ? {} : { NSFWContent: item.NSFWContent }),
        ...(item.status === undefined ? {} : { status: item.status }),
      });
    }
    return poll;
  }

  /**
   * POSTs the tasks, retrying transient failures. Returns the first answer that is not transient, whatever its
   * status; the caller decides what a 4xx means for its request.
   */
  private async post(
    tasks: readonly unknown[],
    ctx: RequestContext,
    options: { waitWhenBusy?: boolean } = {},
  ): Promise<Reply> {
    const body = JSON.stringify(tasks);
    let failure: Failure | undefined;
    let busy = false;
    // A try that was refused for capacity (429) was not taken; one with no answer or a server error may have been.
    let uncertain = false;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        const response = await this.fetch(this.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ctx.apiKey}` },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await response.text();
        const reply = toReply(response.status, text);
        if (!isTransientStatus(response.status)) return { ...reply, afterUncertainTry: uncertain };
        failure = transientStatusFailure(reply);
        busy = BUSY_STATUSES.has(response.status);
        if (response.status !== 429) uncertain = true;
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      } catch (cause) {
        failure = networkFailure(cause, this.timeoutMs);
        busy = false;
        uncertain = true;
      }
      if (attempt < this.maxAttempts) await this.sleep(this.backoff(attempt, retryAfterMs));
    }
    // The loop runs at least once (maxAttempts >= 1) and only falls through after a failure.
    const last = failure ?? { code: RUNWARE_ERROR_CODES.network, what: 'no attempt was made' };
    // A submission that still finds Runware at capacity waits in the state machine (its slot given back).
    const Kind = options.waitWhenBusy && busy ? RunwareBusyError : TransientError;
    throw new Kind(
      last.code,
      sanitize(`${last.what} on all ${this.maxAttempts} attempts. Retry the job later.`, ctx.apiKey),
      last.cause === undefined ? undefined : { cause: last.cause },
    );
  }

  /** Full jitter: a uniform wait in [0, min(cap, base * 2^(attempt-1))), unless the server said how long. */
  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.maxDelayMs);
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(this.random() * ceiling);
  }
}

/**
 * Runware's answers for "at capacity" (docs/runware-api.md section 2: queue capacity exceeded, temporary
 * capacity constraint, maximum queue wait time): a submission that gets one waits for as long as the job may.
 */
const BUSY_STATUSES: ReadonlySet<number> = new Set([408, 429, 503, 504]);

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * 408, 429 and every 5xx: what both official SDKs retry (TS `src/transport/rest.ts` `isRetryableStatus`, PY
 * `runware/transport/rest.py` `_RETRYABLE_STATUS = {408, 429}`; docs/runware-api.md section 2).
 */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status < 600);
}

function toReply(status: number, text: string): Reply {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status, envelope: undefined, envelopeProblem: 'the body is not JSON' };
  }
  const parsed = ResponseEnvelopeSchema.safeParse(json);
  if (parsed.success) return { status, envelope: parsed.data, envelopeProblem: undefined };
  return { status, envelope: undefined, envelopeProblem: describeIssues(parsed.error) };
}

function requireEnvelope(reply: Reply, ctx: RequestContext): ResponseEnvelope {
  if (reply.envelope) return reply.envelope;
  throw badResponse(reply.status, reply.envelopeProblem ?? 'no body', ctx);
}

/** `Retry-After` in seconds; the HTTP-date form is ignored (Runware is not known to send it). */
function parseRetryAfter(header: string | null): number | undefined {
  if (header === null || !/^\s*\d+(\.\d+)?\s*$/.test(header)) return undefined;
  return Math.round(Number(header) * 1000);
}

function transientStatusFailure(reply: Reply): Failure {
  const detail = describeProviderErrors(reply.envelope?.errors ?? []);
  // Runware says which of its limits was hit (queue full, queue wait exceeded); worth keeping.
  const said = detail ? `, saying ${detail}` : '';
  if (reply.status === 429) {
    return { code: RUNWARE_ERROR_CODES.busy, what: `Runware was at capacity (HTTP 429${said})` };
  }
  if (reply.status === 504 || reply.status === 408) {
    return { code: RUNWARE_ERROR_CODES.timeout, what: `Runware timed out (HTTP ${reply.status}${said})` };
  }
  return {
    code: RUNWARE_ERROR_CODES.unavailable,
    what: `Runware was unavailable (HTTP ${reply.status}${said})`,
  };
}

function networkFailure(cause: unknown, timeoutMs: number): Failure {
  const name = typeof cause === 'object' && cause !== null && 'name' in cause ? String(cause.name) : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return {
      code: RUNWARE_ERROR_CODES.timeout,
      what: `Runware did not answer within ${timeoutMs} ms`,
      cause,
    };
  }
  return {
    code: RUNWARE_ERROR_CODES.network,
    what: `Could not reach Runware (${describeCause(cause)})`,
    cause,
  };
}

/** `fetch failed (ECONNRESET)`: undici hides the useful part in `cause.code`. */
function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner: unknown = cause.cause;
  const code =
    typeof inner === 'object' && inner !== null && 'code' in inner && typeof inner.code === 'string'
      ? ` (${inner.code})`
      : '';
  return `${cause.message}${code}`;
}

function rejected(
  status: number,
  errors: readonly RunwareErrorItem[],
  ctx: RequestContext,
): RunwareRejectedError {
  const detail = describeProviderErrors(errors);
  const base = detail
    ? `Runware rejected ${ctx.subject} ${detail}`
    : `Runware rejected ${ctx.subject} with HTTP ${status} and no error details.`;
  const { code, advice } = rejectionKind(status);
  const sentence = /[.!?]$/.test(base) ? base : `${base}.`;
  return new RunwareRejectedError(
    code,
    sanitize(advice ? `${sentence} ${advice}` : sentence, ctx.apiKey),
    status,
  );
}

function badResponse(status: number, problem: string, ctx: RequestContext): TransientError {
  return new TransientError(
    RUNWARE_ERROR_CODES.badResponse,
    sanitize(
      `Runware's answer to ${ctx.subject} (HTTP ${status}) is not a Runware reply: ${problem}.`,
      ctx.apiKey,
    ),
  );
}

/** `(code, parameter p): message; (code2): message2`, the provider's words kept verbatim. */
function describeProviderErrors(errors: readonly RunwareErrorItem[]): string {
  return errors
    .map((e) => `(${e.code}${e.parameter ? `, parameter ${e.parameter}` : ''}): ${providerWords(e.message)}`)
    .join('; ');
}

/**
 * Last line of defence for messages that reach job records and logs: no secret in any form, no key, bounded
 * length (see {@link safeMessage}).
 */
function sanitize(message: string, apiKey: string): string {
  return safeMessage(message, { secrets: [apiKey] });
}
