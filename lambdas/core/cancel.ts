import type { ExecutionStopper } from './aws/executions.js';
import type { JobEventPublisher } from './aws/job-event-publisher.js';
import type { Stage } from './contract/lifecycle.js';
import { chargeLate, exitAttempt, type Holdings } from './holdings.js';
import { CANCELLABLE_STATUSES, type JobRecord, type TaskRecord } from './job.js';
import type { OutputWriter } from './outputs/writer.js';
import { endingOf } from './rules/attempt-ending.js';
import type { BudgetStore } from './store/budget.js';
import type { JobStore } from './store/jobs.js';
import type { TaskStore } from './store/tasks.js';

/**
 * An operator's cancel, in two halves that never race each other into two ends:
 *
 * 1. {@link requestCancel} (the CLI): one conditional write marks the running attempt as cancelled (only if it is
 *    the current attempt and still RECEIVED to SUBMITTED), then its execution is stopped. From the mark on, no step
 *    of the attempt can change it (the job store's `liveAttempt`): a step that was half-way fails as superseded, so
 *    no task is sent to Runware after the mark.
 * 2. {@link finishCancel} (the fail function): whichever comes first, the ABORTED execution (the rule of
 *    lib/rules.ts) or a superseded step caught by the state machine, turns the marked attempt CANCELLED: its slot
 *    given back, `<stem>.error.json` with code CANCELLED, and a `JobCancelled` event.
 *
 * When Runware had already accepted the task it cannot be recalled: its charge may still come. If its result
 * arrives (before the finish, or later through the webhook: {@link recordLateCharge}) what Runware charged is
 * recorded on the job, the budget counts it instead of the estimate it kept, and nothing is delivered.
 */

/** The code of a cancelled job, in its record and `<stem>.error.json`. */
export const CANCELLED_CODE = 'CANCELLED';

/** What `<stem>.error.json` of a cancelled job says to do next. */
export const HOW_TO_RETRY_CANCELLED =
  'Nothing is lost: your inputs were kept. Start the job again with `avatar-pipeline retry <stem>`, or upload ' +
  'the image, the audio or the settings sidecar (<stem>.json) to the inbox again.';

/** The `error` of StopExecution: what the execution's ABORTED status change carries. */
export const CANCEL_STOP_ERROR = 'JobCancelled';

/** What the status names for a person. */
const DURING: Record<string, string> = {
  RECEIVED: 'before validation',
  VALIDATED: 'after validation, before submission',
  QUEUED: 'while it waited for a Runware slot',
  SUBMITTED: 'while Runware was rendering it',
};

export type CancelRequestOutcome =
  | {
      kind: 'requested';
      job: JobRecord;
      /** The execution was stopped now, or had ended already. */
      execution: 'stopped' | 'ended';
      /** Runware had accepted the task: it cannot be recalled and its charge may still come. */
      taskAccepted: boolean;
    }
  | { kind: 'refused'; job: JobRecord; reason: string };

export interface CancelRequestDeps {
  jobs: JobStore;
  executions: ExecutionStopper;
  /** The state machine's ARN, for an attempt whose execution ARN is not recorded yet. */
  executionArnOf: (executionName: string) => string;
  now: () => Date;
}

/** Why a job in `status` cannot be cancelled; undefined when it can. */
export function whyNotCancellable(job: JobRecord): string | undefined {
  switch (job.status) {
    case 'DELIVERED':
      return 'it was delivered already; there is nothing left to stop.';
    case 'FAILED':
      return 'it has failed already; nothing is running. Retry it with: avatar-pipeline retry';
    case 'CANCELLED':
      return 'it was cancelled already.';
    case 'GENERATED':
      return 'its video is made and paid for and is being copied to the output bucket; there is nothing left to save.';
    default:
      return undefined;
  }
}

/** Whether Runware may have the task: the attempt reached SUBMITTED, or Runware reported on its task. */
function wasAccepted(job: JobRecord, task: TaskRecord | undefined): boolean {
  if (!job.taskUUID) return false;
  const reported = task ? Object.keys(task.results).length + Object.keys(task.errors).length : 0;
  return job.stages.SUBMITTED !== undefined || reported > 0;
}

/**
 * Marks the job's running attempt cancelled, then stops its execution. Asking again for an attempt already being
 * cancelled stops the execution again (harmless). Refused, changing nothing, for a job that has ended or whose
 * video is already made.
 */
export async function requestCancel(
  job: JobRecord,
  by: string,
  deps: CancelRequestDeps,
): Promise<CancelRequestOutcome> {
  const refused = whyNotCancellable(job);
  if (refused) return { kind: 'refused', job, reason: refused };
  let marked = job.cancel
    ? job
    : await deps.jobs.requestCancel(job.jobId, job.attempt, {
        requestedAt: deps.now().toISOString(),
        by,
        during: job.status,
      });
  if (!marked) {
    // It moved on between the read and the write: say what it is now.
    const current = (await deps.jobs.get(job.jobId)) ?? job;
    if (current.attempt !== job.attempt)
      return { kind: 'refused', job: current, reason: `attempt ${current.attempt} has replaced it.` };
    if (!current.cancel)
      return { kind: 'refused', job: current, reason: whyNotCancellable(current) ?? 'it is not running.' };
    marked = current;
  }
  const arn = marked.executionArn ?? deps.executionArnOf(marked.executionName);
  const execution = await deps.executions.stop(
    arn,
    CANCEL_STOP_ERROR,
    `Cancelled by ${marked.cancel?.by ?? by} with avatar-pipeline cancel.`,
  );
  return {
    kind: 'requested',
    job: marked,
    execution,
    taskAccepted: Boolean(marked.taskUUID && marked.stages.SUBMITTED),
  };
}

/** What records a charge Runware made after a cancel. */
export interface LateChargeDeps {
  jobs: JobStore;
  budget: BudgetStore;
  /** Told what the charge adds to what was reported before (the cost metric: the dashboard's cost per day). */
  onLateCharge?: (usd: number) => void;
}

export interface FinishCancelDeps extends LateChargeDeps, Holdings {
  tasks: TaskStore;
  outputs: OutputWriter;
  events: JobEventPublisher;
  now: () => Date;
}

export interface CancelOutcome {
  code: typeof CANCELLED_CODE;
  message: string;
  stage: Stage;
  taskAccepted: boolean;
  lateCostUsd?: number;
  /** `<stem>.error.json`, or null when that key belongs to another stem (then only in the record and log). */
  errorKey: string | null;
  errorKeyHeldBy?: string;
}

/** Runware reports cost per result; five decimals is its precision. */
const sumCost = (task: TaskRecord | undefined): number | undefined => {
  const costs = Object.values(task?.results ?? {}).flatMap((r) => (r.cost === undefined ? [] : [r.cost]));
  if (costs.length === 0) return undefined;
  return Math.round(costs.reduce((a, b) => a + b, 0) * 100_000) / 100_000;
};

function cancelMessage(job: JobRecord, taskAccepted: boolean, lateCostUsd: number | undefined): string {
  const by = job.cancel?.by ?? 'an operator';
  const during = DURING[job.cancel?.during ?? job.status] ?? `at ${job.status}`;
  const head = `Cancelled by ${by} ${during}.`;
  if (!taskAccepted && job.taskUUID)
    // The task was saved, so a submit was under way: Runware may have taken it just before the cancel.
    return (
      `${head} Runware may have received task ${job.taskUUID} just before the cancel: if it did, it cannot be ` +
      'recalled and its charge may still come (it is recorded on the job if its result arrives).'
    );
  if (!taskAccepted) return `${head} Runware never got the task: nothing was charged.`;
  const charge =
    lateCostUsd === undefined
      ? 'its charge may still come (it is recorded on the job if its result arrives)'
      : `Runware charged USD ${lateCostUsd} for it`;
  return `${head} Runware had already accepted task ${job.taskUUID}, which cannot be recalled: ${charge}. The video is not delivered.`;
}

/**
 * Ends a cancel-requested attempt CANCELLED (see the module comment), through the attempt's one exit. Returns
 * undefined, doing nothing, when the attempt named has no cancel request (an ordinary failure or abort: the caller
 * exits it). Idempotent: run again, it rewrites the same `<stem>.error.json` and puts the event only if it was not
 * put yet.
 */
export async function finishCancel(
  input: { jobId: string; attempt: number; stem: string },
  deps: FinishCancelDeps,
  /** The job as the caller just read it (the fail step has), to save reading it again. */
  read?: { job: JobRecord | undefined },
): Promise<CancelOutcome | undefined> {
  let job = read ? read.job : await deps.jobs.get(input.jobId);
  if (!job || job.attempt !== input.attempt || !job.cancel) return undefined;
  // Its generation is over either way: the attempt exits. Its reservation stays counted if Runware had the task
  // (its charge may still come, and corrects the count), and its slot (or queue place) goes to the next job.
  await exitAttempt(deps, job, endingOf(job, job.attempt));
  if (job.status !== 'CANCELLED') {
    const task = job.taskUUID ? await deps.tasks.get(job.taskUUID) : undefined;
    const taskAccepted = wasAccepted(job, task);
    const lateCostUsd = taskAccepted ? sumCost(task) : undefined;
    const at = deps.now().toISOString();
    const during = job.cancel.during;
    const stage: Stage = (CANCELLABLE_STATUSES as readonly string[]).includes(during)
      ? (during as Stage)
      : 'RECEIVED';
    const message = cancelMessage(job, taskAccepted, lateCostUsd);
    job =
      (await deps.jobs.cancel(job.jobId, job.attempt, {
        error: { stage, code: CANCELLED_CODE, message, at },
        cancelledAt: at,
        taskAccepted,
        ...(lateCostUsd !== undefined ? { lateCostUsd, costUsd: lateCostUsd } : {}),
      })) ?? (await deps.jobs.get(job.jobId));
    if (!job || job.attempt !== input.attempt || job.status !== 'CANCELLED') return undefined;
  }
  const error = job.error ?? {
    stage: 'RECEIVED' as const,
    code: CANCELLED_CODE,
    message: cancelMessage(job, false, undefined),
    at: job.cancelledAt ?? deps.now().toISOString(),
  };
  const taskAccepted = job.taskAccepted ?? false;
  const written = await deps.outputs.putError({
    stem: job.stem,
    jobId: job.jobId,
    attempt: job.attempt,
    stage: error.stage,
    code: CANCELLED_CODE,
    message: error.message,
    howToRetry: HOW_TO_RETRY_CANCELLED,
    inputs: Object.fromEntries(Object.entries(job.inputs).map(([role, ref]) => [role, ref.key])),
    failedAt: error.at,
    ...(job.cancel ? { cancelledBy: job.cancel.by } : {}),
    taskAccepted,
  });
  if (!job.cancel?.announcedAt) {
    await deps.events.jobCancelled({
      version: '1',
      jobId: job.jobId,
      attempt: job.attempt,
      stem: job.stem,
      taskAccepted,
      at: job.cancelledAt ?? error.at,
    });
    await deps.jobs.markCancelAnnounced(job.jobId, job.attempt, deps.now().toISOString());
  }
  // A result that came before the finish: the budget counts its charge (again harmlessly when run again).
  if (job.lateCostUsd !== undefined) await chargeBudget(job, job.lateCostUsd, deps);
  const base = {
    code: CANCELLED_CODE,
    message: error.message,
    stage: error.stage,
    taskAccepted,
    ...(job.lateCostUsd !== undefined ? { lateCostUsd: job.lateCostUsd } : {}),
  } as const;
  if (!written.written) return { ...base, errorKey: null, errorKeyHeldBy: written.holder };
  return { ...base, errorKey: written.key };
}

/**
 * What Runware charged for the task of a CANCELLED attempt, reported after the cancel (a webhook): recorded on the
 * job as `lateCostUsd` (and counted in `costUsd`), counted by the budget instead of the estimate it kept, and
 * never delivered. Returns the amount recorded, or undefined when the task's attempt is not a cancelled one or
 * nothing was charged. Idempotent: a repeated report changes nothing and adds nothing to the cost metric.
 */
export async function recordLateCharge(task: TaskRecord, deps: LateChargeDeps): Promise<number | undefined> {
  const cost = sumCost(task);
  if (cost === undefined) return undefined;
  const job = await deps.jobs.get(task.jobId);
  if (!job || job.attempt !== task.attempt || job.status !== 'CANCELLED') return undefined;
  // Recorded before (a repeated report, or a retry after a crash between the two writes): the budget catches up.
  const recorded = job.lateCostUsd === cost || (await deps.jobs.recordLateCost(job.jobId, job.attempt, cost));
  if (!recorded) return undefined;
  await chargeBudget(job, cost, deps);
  return cost;
}

/** The budget counts `cost` for the attempt; what it adds to earlier reports goes to the cost metric. */
async function chargeBudget(job: JobRecord, cost: number, deps: LateChargeDeps): Promise<void> {
  const charge = await chargeLate(deps, job, cost);
  if (charge && charge.newUsd > 0) deps.onLateCharge?.(charge.newUsd);
}
