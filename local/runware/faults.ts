/**
 * Faults as data. A {@link FaultPlan} holds faults, each either standing (it applies to every matching
 * request until the plan is cleared) or queued (it applies to the next N matching requests, first queued
 * first used), in the manner of Step Functions Local's mock config. The parts of the simulator consume it per
 * request: the router asks for a `submitDrop` then a `submitStatus` fault for each submission and a
 * `getResponseStatus` fault for each poll, the registry a `task` fault for each task it accepts.
 *
 * A new way to fail is a new member of {@link Fault} and one `take` where the request is handled.
 */

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

/**
 * A video that is well-formed but not what was asked for, as a provider's bad render would be. INVENTED
 * misbehaviour (Runware documents none), for the pipeline's output check.
 */
export type VideoContentFault =
  /** Half the audio's length: the voice is cut off. */
  | 'short'
  /** The picture only: no audio track. */
  | 'silent'
  /** The sound only: no video track. */
  | 'no-picture';

/**
 * The shape a failure webhook takes. Runware does not document it (docs/runware-api.md section 1); these are the
 * shapes the official SDKs handle elsewhere, so the simulator can send each:
 * - `errors`: `{"errors":[{code, message, taskType, taskUUID}]}` (TS `executeRest`, D-errors);
 * - `data-item`: `{"data":[{taskType, taskUUID, status:"error", error:{code, message}}]}` (TS/PY per-result errors);
 * - `error-object`: `{"error":{code, message}, "taskUUID":...}` (TS `parseApiError`, websocket frames);
 * - `bare`: `{code, message, taskType, taskUUID}` (the older docs' getResponse error item);
 * - `round-robin`: each failure webhook the simulator sends takes the next of the four, in that order.
 */
export type FailureShape = 'errors' | 'data-item' | 'error-object' | 'bare' | 'round-robin';

/** Faults that shape what happens to an accepted task. */
export interface TaskFaults {
  /**
   * The task ends in this error: the webhook gets a failure body (see `failureShape`) and `getResponse`
   * reports it. The code and message are the test's: pass a real one (e.g. `timeoutProvider`).
   */
  errorWebhook?: { code: string; message: string };
  /** Shape of this task's failure webhooks. @default 'errors' */
  failureShape?: FailureShape;
  /** Send each result's `seed` (the real avatar responses carry none). */
  sendSeed?: boolean;
  /**
   * Each result webhook carries this many more videos than asked for (fresh videoUUIDs, same URL and cost), as
   * a misbehaving provider might: the pipeline must deliver and bill only `numberResults`. INVENTED misbehaviour.
   */
  extraResults?: number;
  /** The webhook's results carry this `cost` instead (getResponse keeps the real one), e.g. an unstorable 1e300. */
  webhookCost?: number;
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
  /** What is wrong inside the videos this task renders (served whole and well-formed). */
  videoContent?: VideoContentFault;
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
  /**
   * A query string the results' `videoURL` carry (without `?`), e.g. a presigned URL's
   * `X-Amz-Credential=…&X-Amz-Signature=…`: for testing that no record keeps what a URL carries.
   */
  videoUrlQuery?: string;
}

/** One way to fail, and the requests it applies to. */
export type Fault =
  /**
   * A submission (a request holding a `videoInference` task) is answered with this HTTP status and
   * Runware's error body for it, and creates no task: 400, 401, 402, 403, 404 are final refusals, 429 (queue
   * full), 500/502/503 (unavailable) and 504 (queue wait exceeded) are worth a retry. With `afterAccept`, a
   * 5xx comes *after* the task was accepted, as when a gateway times out while Runware has already queued
   * it; a retry then gets `conflictTaskUUID`.
   */
  | { kind: 'submitStatus'; status: number; afterAccept?: boolean }
  /**
   * A submission's connection is destroyed after the request was read, before any answer: the client sees
   * a network error (`fetch failed`). With `afterAccept`, the task is accepted (and processed, webhook
   * included) first, as when the answer is lost on the way back. Checked before `submitStatus`: a dropped
   * request does not use up a status fault.
   */
  | { kind: 'submitDrop'; afterAccept?: boolean }
  /** A `getResponse` request is answered with this HTTP status and Runware's error body for it. */
  | { kind: 'getResponseStatus'; status: number }
  /** What happens to an accepted task; a queued one applies over the standing one, key by key. */
  | { kind: 'task'; faults: TaskFaults };

export type FaultKind = Fault['kind'];
export type FaultOfKind<K extends FaultKind> = Extract<Fault, { kind: K }>;

/** A fault in the plan: `remaining` is how many more requests a queued fault applies to. */
export interface PlannedFault {
  fault: Fault;
  remaining: number | 'standing';
}

/** The faults the simulator is to show, standing and queued, consumed per request. */
export class FaultPlan {
  private planned: PlannedFault[] = [];

  /** Every fault in the plan, standing and queued, in the order they were added. */
  get faults(): readonly Readonly<PlannedFault>[] {
    return this.planned;
  }

  /** Applies `fault` to every matching request until {@link clear}; replaces a standing fault of its kind. */
  stand(fault: Fault): void {
    this.planned = this.planned.filter((p) => !(p.remaining === 'standing' && p.fault.kind === fault.kind));
    this.planned.push({ fault, remaining: 'standing' });
  }

  /** Applies `fault` to the next `times` matching requests, after the faults of its kind queued before. */
  queue(fault: Fault, times = 1): void {
    const count = Math.max(0, Math.floor(times));
    if (count > 0) this.planned.push({ fault, remaining: count });
  }

  /** Heals: removes every fault, standing and queued. */
  clear(): void {
    this.planned = [];
  }

  /** The fault of this kind that applies to the request at hand: a queued one (used up) first, else the standing one. */
  take<K extends FaultKind>(kind: K): FaultOfKind<K> | undefined {
    return this.takeQueued(kind) ?? this.standing(kind);
  }

  /** The next queued fault of this kind, used up; standing faults are left alone. */
  takeQueued<K extends FaultKind>(kind: K): FaultOfKind<K> | undefined {
    const next = this.planned.find((p) => p.remaining !== 'standing' && p.fault.kind === kind);
    if (next === undefined || next.remaining === 'standing') return undefined;
    next.remaining -= 1;
    if (next.remaining === 0) this.planned = this.planned.filter((p) => p !== next);
    return ofKind(next.fault, kind);
  }

  /** The standing fault of this kind, if any. */
  standing<K extends FaultKind>(kind: K): FaultOfKind<K> | undefined {
    const found = this.planned.find((p) => p.remaining === 'standing' && p.fault.kind === kind);
    return found && ofKind(found.fault, kind);
  }

  /** The task faults for a task being accepted: the next queued ones (used up) over the standing ones. */
  takeTaskFaults(): TaskFaults {
    return { ...this.standing('task')?.faults, ...this.takeQueued('task')?.faults };
  }
}

function ofKind<K extends FaultKind>(fault: Fault, kind: K): FaultOfKind<K> | undefined {
  return isKind(fault, kind) ? fault : undefined;
}

function isKind<K extends FaultKind>(fault: Fault, kind: K): fault is FaultOfKind<K> {
  return fault.kind === kind;
}

// ------------------------------------------------------------------------------ the knobs tests set

/**
 * How the simulator fails, as the tests and local mode set it: `simulator.faults = {...}` or
 * `simulator.queueFault({...})`; {@link planFaults} turns it into plan entries.
 */
export interface SimulatorFaults extends TaskFaults {
  /** The next submissions, one status each, answer these HTTP statuses (see `submitStatus` faults). */
  submitStatus?: number[];
  /** With `submitStatus`, a 5xx is answered *after* the task was accepted. */
  acceptThenFail?: boolean;
  /**
   * A final refusal of submissions: 400 (`invalidRequest`), 401 (`invalidApiKey`), 402
   * (`insufficientCredits`), 403 (`accessDenied`), 404 (`modelNotFound`). Set through `faults` it answers
   * every submission until replaced; through `queueFault`, the next one only.
   */
  httpStatus?: number;
  /** The next `getResponse` requests, one status each, answer these HTTP statuses (like `submitStatus`). */
  getResponseStatus?: number[];
  /**
   * The next N submissions get their connection destroyed before any answer (see `submitDrop` faults),
   * whether set through `faults` or `queueFault`.
   */
  submitNetworkError?: number;
  /** With `submitNetworkError`, the task is accepted (and processed) and only *then* is the connection destroyed. */
  acceptThenDrop?: boolean;
}

const TASK_FAULT_KEYS = [
  'errorWebhook',
  'failureShape',
  'sendSeed',
  'extraResults',
  'webhookCost',
  'loseWebhook',
  'duplicateWebhook',
  'slowMs',
  'failResult',
  'videoFault',
  'videoContent',
  'neverFinish',
  'ackDelayMs',
  'submitDelayMs',
  'videoUrlHost',
  'videoUrlQuery',
] as const satisfies readonly (keyof TaskFaults)[];

/**
 * Adds `faults` to the plan. Statuses and network errors are always queued, one request each; `lasting`
 * says whether `httpStatus` and the task faults stand (`faults = ...`) or apply once (`queueFault`).
 */
export function planFaults(plan: FaultPlan, faults: SimulatorFaults, lasting: 'standing' | 'once'): void {
  plan.queue(
    { kind: 'submitDrop', afterAccept: faults.acceptThenDrop ?? false },
    faults.submitNetworkError ?? 0,
  );
  for (const status of faults.submitStatus ?? []) {
    plan.queue({ kind: 'submitStatus', status, afterAccept: faults.acceptThenFail ?? false });
  }
  for (const status of faults.getResponseStatus ?? []) plan.queue({ kind: 'getResponseStatus', status });
  const add = (fault: Fault): void => (lasting === 'standing' ? plan.stand(fault) : plan.queue(fault));
  if (faults.httpStatus !== undefined) add({ kind: 'submitStatus', status: faults.httpStatus });
  const task: TaskFaults = {};
  for (const key of TASK_FAULT_KEYS) {
    if (faults[key] !== undefined) Object.assign(task, { [key]: faults[key] });
  }
  if (Object.keys(task).length > 0) add({ kind: 'task', faults: task });
}
