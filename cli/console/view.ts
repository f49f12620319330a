import { HOW_TO_RETRY_CANCELLED } from '../../lambdas/core/cancel.js';
import { STAGES } from '../../lambdas/core/contract/lifecycle.js';
import { CANCELLABLE_STATUSES, type JobRecord, RETRYABLE_STATUSES } from '../../lambdas/core/job.js';
import { HOW_TO_RETRY } from '../../lambdas/core/outputs/writer.js';
import { nextStep, statusWords, videoSeconds } from '../format.js';

/**
 * What the console page shows of jobs, made from the job records (pure, so the page's words are tested here): the
 * list rows, a job's timeline, and its error in the words and fields of `<stem>.error.json`.
 */

/** The states in the order a job goes through them, then the two other ends. */
export const ALL_STATES = [...STAGES, 'FAILED', 'CANCELLED'] as const;

export interface JobRow {
  jobId: string;
  stem: string;
  status: string;
  /** The status with a pending cancel (`SUBMITTED (being cancelled)`). */
  statusWords: string;
  attempt: number;
  createdAt: string;
  updatedAt: string;
  videoSeconds?: number;
  estimatedCostUsd?: number;
  costUsd?: number;
  errorCode?: string;
}

export function jobRow(job: JobRecord): JobRow {
  const seconds = videoSeconds(job);
  return {
    jobId: job.jobId,
    stem: job.stem,
    status: job.status,
    statusWords: statusWords(job),
    attempt: job.attempt,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(seconds !== undefined ? { videoSeconds: seconds } : {}),
    ...(job.estimatedCostUsd !== undefined ? { estimatedCostUsd: job.estimatedCostUsd } : {}),
    ...(job.costUsd !== undefined ? { costUsd: job.costUsd } : {}),
    ...(job.error ? { errorCode: job.error.code } : {}),
  };
}

export interface TimelineStep {
  stage: string;
  at: string;
  /** Seconds since the step before (none for the first). */
  tookSeconds?: number;
}

/** The stages this attempt reached, in time order, each with how long it took since the one before. */
export function timeline(stages: JobRecord['stages']): TimelineStep[] {
  const reached = ALL_STATES.flatMap((stage) => {
    const at = stages[stage];
    return at === undefined ? [] : [{ stage, at }];
  });
  // A late stamp (a step that ran after the job went further) keeps the lifecycle order; time order is what a
  // person reads as a timeline, and it is the same for every ordinary job.
  reached.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return reached.map((step, i) => {
    const previous = reached[i - 1];
    return previous ? { ...step, tookSeconds: (Date.parse(step.at) - Date.parse(previous.at)) / 1000 } : step;
  });
}

/** The error of a failed or cancelled attempt, with the fields `<stem>.error.json` has (the same words). */
export interface ErrorReport {
  stage: string;
  code: string;
  message: string;
  howToRetry: string;
  failedAt: string;
  cancelledBy?: string;
  taskAccepted?: boolean;
  problems?: { code: string; message: string; file: string }[];
}

export function errorReport(job: JobRecord): ErrorReport | undefined {
  const error = job.error;
  if (!error || (job.status !== 'FAILED' && job.status !== 'CANCELLED')) return undefined;
  const cancelled = job.status === 'CANCELLED';
  return {
    stage: error.stage,
    code: error.code,
    message: error.message,
    // As fail and finishCancel write them (lambdas/fail/fail.ts, lambdas/core/cancel.ts).
    howToRetry: cancelled ? HOW_TO_RETRY_CANCELLED : HOW_TO_RETRY,
    failedAt: error.at,
    ...(cancelled && job.cancel ? { cancelledBy: job.cancel.by } : {}),
    ...(cancelled ? { taskAccepted: job.taskAccepted ?? false } : {}),
    ...(error.stage === 'VALIDATED' && job.problems?.length ? { problems: job.problems } : {}),
  };
}

export interface JobDetail extends JobRow {
  timeline: TimelineStep[];
  /** From the first stage to the last one reached (or to now, for a job still running). */
  elapsedSeconds?: number;
  running: boolean;
  settings?: JobRecord['settings'];
  priceUsdPerSecond?: number;
  lateCostUsd?: number;
  media?: JobRecord['media'];
  inputs: { image: string; audio: string; sidecar?: string };
  outputs: { key: string; bytes: number }[];
  notShown?: string;
  /** The delivery's check of the videos, when the record has one (shown as it is). */
  outputCheck?: unknown;
  error?: ErrorReport;
  /** What an operator can do next (the CLI's words). */
  nextStep?: string;
  cancel?: { by: string; requestedAt: string };
  history: { attempt: number; status: string; errorCode?: string; errorMessage?: string }[];
  canRetry: boolean;
  canCancel: boolean;
}

export function jobDetail(job: JobRecord, now = new Date()): JobDetail {
  const steps = timeline(job.stages);
  const first = steps[0];
  const last = steps[steps.length - 1];
  const running = !['DELIVERED', 'FAILED', 'CANCELLED'].includes(job.status);
  const end = running ? now.toISOString() : last?.at;
  const error = errorReport(job);
  // The record's schema may gain an output check (deliver's); shown when the parsed record carries one.
  const outputCheck = (job as Record<string, unknown>).outputCheck;
  return {
    ...jobRow(job),
    timeline: steps,
    ...(first && end ? { elapsedSeconds: (Date.parse(end) - Date.parse(first.at)) / 1000 } : {}),
    running,
    ...(job.settings ? { settings: job.settings } : {}),
    ...(job.priceUsdPerSecond !== undefined ? { priceUsdPerSecond: job.priceUsdPerSecond } : {}),
    ...(job.lateCostUsd !== undefined ? { lateCostUsd: job.lateCostUsd } : {}),
    ...(job.media ? { media: job.media } : {}),
    inputs: {
      image: job.inputs.image.key,
      audio: job.inputs.audio.key,
      ...(job.inputs.sidecar ? { sidecar: job.inputs.sidecar.key } : {}),
    },
    outputs: (job.outputs ?? []).map((o) => ({ key: o.key, bytes: o.bytes })),
    ...(job.notShown ? { notShown: job.notShown.message } : {}),
    ...(outputCheck !== undefined ? { outputCheck } : {}),
    ...(error ? { error, nextStep: nextStep(job) } : {}),
    ...(job.cancel ? { cancel: { by: job.cancel.by, requestedAt: job.cancel.requestedAt } } : {}),
    history: (job.history ?? []).map((h) => ({
      attempt: h.attempt,
      status: h.status,
      ...(h.error ? { errorCode: h.error.code, errorMessage: h.error.message } : {}),
    })),
    canRetry: (RETRYABLE_STATUSES as readonly string[]).includes(job.status),
    canCancel: (CANCELLABLE_STATUSES as readonly string[]).includes(job.status) && !job.cancel,
  };
}

export interface JobFilter {
  state?: string;
  /** Stems that start with it. */
  prefix?: string;
  /** Jobs created at or after it. */
  since?: Date;
}

/** Newest first. */
export const newestFirst = (a: { createdAt: string }, b: { createdAt: string }): number =>
  b.createdAt.localeCompare(a.createdAt);

/**
 * The jobs the filter selects, newest first, and the count per state of those its prefix and time select (so the
 * counts say what each state filter would show).
 */
export function selectJobs(
  jobs: readonly JobRecord[],
  filter: JobFilter,
): { rows: JobRow[]; counts: Record<string, number>; total: number } {
  const scoped = jobs.filter(
    (j) =>
      (!filter.prefix || j.stem.startsWith(filter.prefix)) &&
      (!filter.since || Date.parse(j.createdAt) >= filter.since.getTime()),
  );
  const counts: Record<string, number> = Object.fromEntries(ALL_STATES.map((s) => [s, 0]));
  for (const job of scoped) counts[job.status] = (counts[job.status] ?? 0) + 1;
  const rows = scoped
    .filter((j) => !filter.state || j.status === filter.state)
    .sort(newestFirst)
    .map(jobRow);
  return { rows, counts, total: scoped.length };
}
