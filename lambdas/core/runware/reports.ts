import { truncateChars } from '../contract/bounds.js';
import { redactSecrets } from '../redact.js';
import { describeIssues, type VideoResult, VideoResultItemSchema } from './schemas.js';

/**
 * What Runware says about one task, in whichever shape it says it: the body of a webhook call or a
 * `getResponse` answer. Sources (docs/runware-api.md sections 1 and 3):
 * - success: the flat result item, or `{"data":[item, ...]}` (the webhook envelope is UNCONFIRMED: both);
 * - failure as `{"errors":[{code, message, parameter?, taskUUID?, ...}]}` (D-errors; D-old task-responses;
 *   TS `executeRest`), possibly with `"data":[]` beside it;
 * - failure as a `data` item with `status:"error"` and an `error:{code, message}` object, or the error fields
 *   on the item itself (TS and PY per-result errors; the D-old getResponse example item carries `code`,
 *   `status:"error"`, `message`);
 * - failure as `{"error":{code, message}, "taskUUID":...}`, `error` possibly an array (TS `parseApiError`,
 *   websocket.ts; PY `response.get("error") or response.get("errors")`);
 * - a bare error item `{code, message, taskUUID?}`;
 * - `status: "processing"` / `"pending"` (or a status not known yet) while the task runs (D-polling).
 * A failure without `taskUUID` belongs to the task concerned (D-errors: "if applicable"; TS `executeRest`:
 * `if (!parsed.taskUUID) { parsed.taskUUID = taskUUID }`).
 */

/** A task-level failure reported by Runware for a task it had accepted. */
export interface TaskFailure {
  /** Runware's (or the provider's) error code, verbatim (bounded). */
  code: string;
  /** Runware's message with every secret removed (see {@link redactSecrets}) and bounded in length. */
  message: string;
  parameter?: string;
}

/** Everything a body says about the task concerned. */
export interface TaskReports {
  /** Finished videos, each checked against the bounds of {@link VideoResultItemSchema}. */
  results: VideoResult[];
  /** Failures of the task. */
  failures: TaskFailure[];
  /** Items still running (`processing`, `pending`, or a status not known yet). */
  pending: number;
  /** `getResponse` only: failures that name another task (the caller decides; the webhook refuses them). */
  foreignFailures: TaskFailure[];
}

export type ParsedTaskReports = { ok: true; reports: TaskReports } | { ok: false; reason: string };

export interface ParseTaskReportsOptions {
  /**
   * `webhook` (default): a body about another task, or one that reports nothing, is refused.
   * `getResponse`: items of other tasks are skipped and their failures returned apart, and an empty answer
   * (nothing known yet) is fine.
   */
  source?: 'webhook' | 'getResponse';
}

/** Longest provider message kept; the rest is cut with a marker (messages reach records, files and events). */
export const MAX_FAILURE_MESSAGE_CHARS = 4000;
/** Longest provider error code kept. */
export const MAX_FAILURE_CODE_CHARS = 128;

const DEFAULT_TASK_TYPE = 'videoInference';
/** Statuses after which an item carries a result or a failure. */
const FINAL_STATUSES = new Set(['success', 'error']);

type Classified =
  | { kind: 'result'; result: VideoResult }
  | { kind: 'failure'; failure: TaskFailure }
  | { kind: 'pending' }
  | { kind: 'foreign'; failure?: TaskFailure }
  | { kind: 'invalid'; reason: string };

/**
 * Turns a webhook body or a `getResponse` answer (parsed JSON) into reports about task `taskUUID`. Never
 * throws: a body that matches no known shape, carries an unstorable value (see {@link VideoResultItemSchema})
 * or (for a webhook) is about another task comes back as `{ ok: false, reason }`, where the reason names
 * fields and rules, never the values (they may be presigned URLs). The webhook answers 400 with it.
 */
export function parseTaskReports(
  body: unknown,
  taskUUID: string,
  options: ParseTaskReportsOptions = {},
): ParsedTaskReports {
  const source = options.source ?? 'webhook';
  if (!isObject(body)) return { ok: false, reason: 'the body is not a JSON object' };

  const entries: { where: string; item: unknown; kind: 'item' | 'error'; taskUUID?: unknown }[] = [];
  // `{error, taskUUID}` is an envelope; a string `error` is the message of a bare failed item, and a result
  // item that happens to carry an `error` field stays a result.
  const hasErrorObject =
    (isObject(body.error) || Array.isArray(body.error)) && body.status !== 'success' && !('videoURL' in body);
  const isEnvelope = 'data' in body || 'errors' in body || hasErrorObject;
  if ('data' in body && body.data !== undefined && body.data !== null) {
    if (!Array.isArray(body.data)) return { ok: false, reason: '"data" is not an array' };
    body.data.forEach((item, i) => {
      entries.push({ where: `data.${i}`, item, kind: 'item' });
    });
  }
  if ('errors' in body && body.errors !== undefined && body.errors !== null) {
    if (!Array.isArray(body.errors)) return { ok: false, reason: '"errors" is not an array' };
    body.errors.forEach((item, i) => {
      entries.push({ where: `errors.${i}`, item, kind: 'error' });
    });
  }
  if (hasErrorObject) {
    // `{error:{code, message}, taskUUID}`: the task named beside the error is the error's task.
    const list = Array.isArray(body.error) ? body.error : [body.error];
    list.forEach((item, i) => {
      entries.push({
        where: Array.isArray(body.error) ? `error.${i}` : 'error',
        item,
        kind: 'error',
        taskUUID: body.taskUUID,
      });
    });
  }
  if (!isEnvelope) entries.push({ where: '(root)', item: body, kind: 'item' });

  const reports: TaskReports = { results: [], failures: [], pending: 0, foreignFailures: [] };
  for (const entry of entries) {
    const classified =
      entry.kind === 'error'
        ? classifyError(entry.item, taskUUID, entry.taskUUID)
        : classifyItem(entry.item, taskUUID);
    switch (classified.kind) {
      case 'invalid':
        return { ok: false, reason: `${entry.where}: ${classified.reason}` };
      case 'foreign':
        if (source === 'webhook') return { ok: false, reason: `${entry.where}: about another task` };
        if (classified.failure) reports.foreignFailures.push(classified.failure);
        break;
      case 'result':
        reports.results.push(classified.result);
        break;
      case 'failure':
        reports.failures.push(classified.failure);
        break;
      case 'pending':
        reports.pending += 1;
        break;
    }
  }
  if (
    source === 'webhook' &&
    reports.results.length === 0 &&
    reports.failures.length === 0 &&
    reports.pending === 0
  ) {
    return { ok: false, reason: 'no result, failure or status in the body' };
  }
  return { ok: true, reports };
}

/** A `data` item, or a bare body: a result, a failure (`status: "error"`), or a task still running. */
function classifyItem(item: unknown, taskUUID: string): Classified {
  if (!isObject(item)) return { kind: 'invalid', reason: 'not an object' };
  const owner = ownerOf(item.taskUUID, taskUUID);
  if (owner === 'invalid') return { kind: 'invalid', reason: 'taskUUID is not a non-empty string' };
  const status = item.status;
  if (status !== undefined && typeof status !== 'string')
    return { kind: 'invalid', reason: 'status is not a string' };

  // An item with a video is a result unless it says `status: "error"`: the video exists and is paid for.
  const failed =
    status === 'error' || (hasError(item.error) && status !== 'success' && item.videoURL === undefined);
  if (failed) {
    // The error object, or (older docs' example) the error fields on the item itself; a string error is its message.
    const fields = isObject(item.error)
      ? { ...item, ...item.error }
      : typeof item.error === 'string'
        ? { ...item, message: item.error }
        : item;
    const failure = toFailure(fields, 'taskFailed');
    return owner === 'other' ? { kind: 'foreign', failure } : { kind: 'failure', failure };
  }
  if (owner === 'other') return { kind: 'foreign' };

  const hasVideo = item.videoURL !== undefined || item.videoUUID !== undefined;
  if (hasVideo || status === 'success') {
    const parsed = VideoResultItemSchema.safeParse({
      ...item,
      taskType: item.taskType ?? DEFAULT_TASK_TYPE,
      taskUUID: item.taskUUID ?? taskUUID,
    });
    if (!parsed.success) return { kind: 'invalid', reason: describeIssues(parsed.error) };
    return { kind: 'result', result: parsed.data };
  }
  if (status !== undefined && !FINAL_STATUSES.has(status)) return { kind: 'pending' };
  // A bare error item: `{code, message, taskUUID?}` without a status.
  if (typeof item.code === 'string' || typeof item.message === 'string') {
    return { kind: 'failure', failure: toFailure(item, 'taskFailed') };
  }
  return { kind: 'invalid', reason: 'neither a result, a failure nor a task status' };
}

/** An entry of `errors`, or the `error` of `{error, taskUUID}`. */
function classifyError(item: unknown, taskUUID: string, besideTaskUUID: unknown): Classified {
  if (!isObject(item)) return { kind: 'invalid', reason: 'not an object' };
  const owner = ownerOf(item.taskUUID ?? besideTaskUUID, taskUUID);
  if (owner === 'invalid') return { kind: 'invalid', reason: 'taskUUID is not a non-empty string' };
  if (typeof item.code !== 'string' && typeof item.message !== 'string') {
    return { kind: 'invalid', reason: 'an error without a code or a message' };
  }
  const failure = toFailure(item, 'unknownError');
  return owner === 'other' ? { kind: 'foreign', failure } : { kind: 'failure', failure };
}

/** `mine` when the item names no task (it is about the one concerned) or names this one. */
function ownerOf(named: unknown, taskUUID: string): 'mine' | 'other' | 'invalid' {
  if (named === undefined || named === null) return 'mine';
  if (typeof named !== 'string' || named === '') return 'invalid';
  return named.toLowerCase() === taskUUID.toLowerCase() ? 'mine' : 'other';
}

function toFailure(fields: Record<string, unknown>, defaultCode: string): TaskFailure {
  const code = typeof fields.code === 'string' && fields.code.trim() !== '' ? fields.code : defaultCode;
  const message =
    typeof fields.message === 'string' && fields.message.trim() !== ''
      ? fields.message
      : 'Runware reported the task as failed without a message.';
  const parameter = normalizeParameter(fields.parameter);
  return {
    code: truncateChars(redactSecrets(code), MAX_FAILURE_CODE_CHARS),
    message: truncateChars(redactSecrets(message), MAX_FAILURE_MESSAGE_CHARS),
    ...(parameter === undefined
      ? {}
      : { parameter: truncateChars(redactSecrets(parameter), MAX_FAILURE_CODE_CHARS) }),
  };
}

/**
 * Reads a webhook body as JSON whatever its `Content-Type` says: the header Runware sends is not documented
 * (docs/runware-api.md section 1: "as JSON" only), so a missing, `text/plain` or `application/json;
 * charset=utf-8` header must not lose a finished video. A UTF-8 byte order mark is skipped. Never throws.
 */
export function readJsonBody(text: string): { ok: true; json: unknown } | { ok: false; reason: string } {
  const trimmed = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (trimmed.trim() === '') return { ok: false, reason: 'the body is empty' };
  try {
    return { ok: true, json: JSON.parse(trimmed) };
  } catch {
    return { ok: false, reason: 'the body is not JSON' };
  }
}

/** `parameter` may be an array of the fields involved (TS `src/errors.ts` `normalizeParameter`). */
function normalizeParameter(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string') && value.length > 0) {
    return value.join(', ');
  }
  return undefined;
}

/** Result of {@link capResults}. */
export interface CappedResults<T> {
  /** Results to record and deliver: already-recorded ones again (harmless), new ones up to the cap. */
  kept: T[];
  /** Results beyond `numberResults`: log them; never record, deliver or bill them. */
  extra: T[];
}

/**
 * Keeps at most `numberResults` distinct videos per task. Runware sends one webhook call per result
 * (D-model, `webhookURL`), so `recorded` (the videoUUIDs already stored for the task) counts toward the cap;
 * a result already recorded is kept again (a duplicate delivery changes nothing), a repeat inside one body
 * counts once, and a new one past the cap goes to `extra`.
 */
export function capResults<T extends { videoUUID: string }>(
  results: readonly T[],
  limit: { numberResults: number; recorded?: Iterable<string> },
): CappedResults<T> {
  const recorded = new Set(limit.recorded ?? []);
  const seen = new Set(recorded);
  let room = Math.max(0, Math.floor(limit.numberResults) - recorded.size);
  const kept: T[] = [];
  const extra: T[] = [];
  for (const result of results) {
    if (recorded.has(result.videoUUID)) {
      kept.push(result);
    } else if (seen.has(result.videoUUID)) {
      // The same video twice in one body: counted once.
    } else if (room > 0) {
      kept.push(result);
      seen.add(result.videoUUID);
      room -= 1;
    } else {
      extra.push(result);
      seen.add(result.videoUUID);
    }
  }
  return { kept, extra };
}

/**
 * Errors inside a 200 `getResponse` answer that mean "ask again", not "the task failed". UNCONFIRMED which codes
 * are truly transient (docs/runware-api.md section 3), so the list is kept narrow: the codes the official TS SDK
 * classes as `serverError` or `rateLimit` (its `src/errors.ts`), which describe Runware's service at the time of
 * the poll rather than the task. `timeoutProvider` is not one: the documented item says the request "was
 * automatically terminated" (D-old task-responses), so it fails the task.
 */
export const TRANSIENT_POLL_ERROR_CODES: ReadonlySet<string> = new Set([
  'internalServerError',
  'serviceUnavailable',
  'serverUnavailable',
  'rateLimitExceeded',
]);

/** Whether an error code in a 200 `getResponse` answer means "still pending, ask again later". */
export function isTransientPollError(code: string): boolean {
  return TRANSIENT_POLL_ERROR_CODES.has(code) || code.includes('RateLimit');
}

/** An `error` field that says something: a non-empty object, array or string. */
function hasError(error: unknown): boolean {
  if (isObject(error)) return Object.keys(error).length > 0;
  if (Array.isArray(error) || typeof error === 'string') return error.length > 0;
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
