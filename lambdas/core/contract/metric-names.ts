/**
 * The pipeline's own CloudWatch metrics: their namespace, names, units and dimensions, shared by the functions
 * that emit them (`metrics.ts`, Embedded Metric Format) and by the dashboard and alarms that read them
 * (`lib/dashboard.ts`, `lib/monitoring.ts`). No imports, so the CDK app can load it without Powertools.
 */

export const METRICS_NAMESPACE = 'AvatarPipeline';

/** Powertools adds `service` (`POWERTOOLS_SERVICE_NAME`, set by the house function) to every metric. */
export const METRICS_SERVICE = 'avatar-pipeline';

export const METRIC = {
  /** Count: a job's videos reached the output bucket (deliver). */
  jobsDelivered: 'JobsDelivered',
  /** Count, by {@link FAILURE_CATEGORY_DIMENSION}: a job ended FAILED (fail). */
  jobsFailed: 'JobsFailed',
  /** Count: a job ended CANCELLED (fail, for a cancelled job). */
  jobsCancelled: 'JobsCancelled',
  /** Seconds, by {@link STAGE_DIMENSION}: how long a delivered job spent in each stage (deliver). */
  stageSeconds: 'StageSeconds',
  /** USD: what Runware charged for a delivered job (deliver), or for a cancelled one's task (webhook, fail). */
  costUsd: 'CostUsd',
  /** Count, by {@link CODE_DIMENSION}: Runware refused, failed or was at capacity for a task. */
  runwareErrors: 'RunwareErrors',
  /** Count: a webhook request was refused (bad token, body, method or task) (webhook). */
  webhookRefused: 'WebhookRefused',
  /** Gauge: Runware slots taken, i.e. tasks in flight (sweep, every run). */
  slotsHeld: 'SlotsHeld',
  /** Gauge: job attempts waiting for a slot (sweep, every run). */
  jobsWaiting: 'JobsWaitingForSlot',
  /**
   * Seconds: how long the oldest waiting job has waited for a slot, 0 when none waits (sweep, every run); and how
   * long a job waited when it took its slot (submit: slots go to the oldest waiters first, so it was the oldest).
   */
  oldestSlotWaitSeconds: 'OldestSlotWaitSeconds',
  /** Gauge, USD: spent plus reserved in the current UTC month (sweep, every run; CloudWatch cannot sum a month). */
  budgetMonthUsd: 'BudgetMonthUsd',
  /** Gauge, USD: spent plus reserved in the current UTC day (sweep, every run). */
  budgetDayUsd: 'BudgetDayUsd',
} as const;

export const FAILURE_CATEGORY_DIMENSION = 'Category';
export const STAGE_DIMENSION = 'Stage';
export const CODE_DIMENSION = 'Code';

/**
 * Why a job failed, in the words an operator acts on:
 * - `InputRefused`: the user's files or sidecar were refused (their fix, not an operator's: never alarmed);
 * - `Runware`: Runware refused or failed the task (its answer is in the job's error);
 * - `Stopped`: an operator stopped the execution (not a fault: never alarmed);
 * - `Pipeline`: anything else (a crash, a timeout, a deadline, a delivery problem): someone should look.
 */
export const FAILURE_CATEGORIES = ['InputRefused', 'Runware', 'Stopped', 'Pipeline'] as const;
export type FailureCategory = (typeof FAILURE_CATEGORIES)[number];

/** The categories whose failures raise an alarm. */
export const ALARMED_FAILURE_CATEGORIES = [
  'Runware',
  'Pipeline',
] as const satisfies readonly FailureCategory[];

const CATEGORY_OF_ERROR: Readonly<Record<string, FailureCategory>> = {
  ValidationError: 'InputRefused',
  RunwareRejectedError: 'Runware',
  RunwareTaskError: 'Runware',
  InvalidWebhookBodyError: 'Runware',
  'Execution.ABORTED': 'Stopped',
};

/** A job that ends with one of these codes was cancelled, not failed: it counts as `JobsCancelled`. */
export const CANCELLED_CODE = /(^|_)CANCELLED$/;

/** The category of a failure, from the error name Step Functions saw (`$.error.Error`). */
export function failureCategory(errorName: string): FailureCategory {
  return Object.hasOwn(CATEGORY_OF_ERROR, errorName)
    ? (CATEGORY_OF_ERROR[errorName] ?? 'Pipeline')
    : 'Pipeline';
}

/** The stages whose durations a delivered job reports, and the stage times each is measured between. */
export const STAGE_SPANS = {
  /** Settle wait plus validation. */
  Validate: ['RECEIVED', 'VALIDATED'],
  /** Waiting for a Runware slot (or for Runware to take work) plus the submission itself. */
  Submit: ['VALIDATED', 'SUBMITTED'],
  /** Runware's generation, until the result was recorded. */
  Generate: ['SUBMITTED', 'GENERATED'],
  /** Copying the videos into the output bucket. */
  Deliver: ['GENERATED', 'DELIVERED'],
  /** From the job's start to its delivery. */
  Total: ['RECEIVED', 'DELIVERED'],
} as const;
export type StageSpan = keyof typeof STAGE_SPANS;
