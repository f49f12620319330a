import { STAGES } from '../lambdas/core/contract/lifecycle.js';
import { archiveKeyOf, archiveRecordKeyOf } from '../lambdas/core/contract/output-names.js';
import type { JobRecord } from '../lambdas/core/job.js';

/** Pure formatting of job records for people: the CLI's human output (`--json` prints the records instead). */

export const usd = (amount: number | undefined): string =>
  amount === undefined ? '-' : `USD ${amount.toFixed(amount < 1 ? 4 : 2)}`;

/** Seconds as `4.2 s`, `3 min 05 s` or `1 h 02 min`. */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

const secondsBetween = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

/** The stages the job reached, in order, with the time each took since the one before. */
export function stageLines(job: JobRecord): string[] {
  const order = [...STAGES, 'FAILED', 'CANCELLED'] as const;
  const reached = order.filter((stage) => job.stages[stage] !== undefined);
  return reached.map((stage, i) => {
    const at = job.stages[stage] ?? '';
    const previous = i > 0 ? job.stages[reached[i - 1] ?? stage] : undefined;
    const took = previous ? ` (+${duration(secondsBetween(previous, at))})` : '';
    return `  ${stage.padEnd(10)} ${at}${took}`;
  });
}

/** What an operator can do about an error code (the record's message says what went wrong). */
export function nextStep(job: JobRecord): string {
  if (job.status === 'CANCELLED')
    return `Start it again with the same inputs: avatar-pipeline retry ${job.stem}`;
  const stage = job.error?.stage;
  if (job.error?.code === 'BUDGET_EXCEEDED')
    return 'Wait for the budget to have room (next UTC day or month) or raise the limit as the message says, then upload one of its files again.';
  if (stage === 'RECEIVED' || stage === 'VALIDATED')
    return 'Fix the input as the message says and upload it again (same stem): that starts a new attempt.';
  return (
    `Retry it with: avatar-pipeline retry ${job.stem} (or upload any of its files again); ` +
    'the function logs have the details.'
  );
}

/** The status, with a cancel that was asked for and is not finished yet. */
export const statusWords = (job: JobRecord): string =>
  job.cancel && job.status !== 'CANCELLED' ? `${job.status} (being cancelled)` : job.status;

/** The video length from the record: Runware renders the audio's length. */
export const videoSeconds = (job: JobRecord): number | undefined => job.media?.audio.durationSeconds;

/**
 * Where the job's videos are: under the stem's names, or only in its archive when the inbox had changed by the
 * time it was delivered (`notShown`: the output folder shows what the inbox holds).
 */
export function outputLocations(job: JobRecord, outputBucket: string): string[] {
  return (job.outputs ?? []).map((o, index) =>
    job.notShown
      ? `s3://${outputBucket}/${archiveKeyOf(job.jobId, index, o.key.slice(o.key.lastIndexOf('.') + 1))}`
      : `s3://${outputBucket}/${o.key}`,
  );
}

/** The record in words. */
export function describeJob(job: JobRecord, outputBucket: string): string {
  const lines = [
    `Job ${job.stem} (${job.jobId}, attempt ${job.attempt}): ${statusWords(job)}`,
    ...(job.settings ? [`  model ${job.settings.model}, ${job.settings.numberResults} result(s)`] : []),
    'Stages:',
    ...stageLines(job),
  ];
  const seconds = videoSeconds(job);
  if (seconds !== undefined) lines.push(`Video length: ${duration(seconds)}`);
  lines.push(
    job.costUnknown
      ? `Cost: unknown (Runware reported none); the estimate ${usd(job.estimatedCostUsd)} is counted instead`
      : `Cost: ${usd(job.costUsd)}${job.lateCostUsd !== undefined ? ' (charged by Runware after the cancel)' : ''}${estimateNote(job)}`,
  );
  if (job.cancel) lines.push(`Cancel asked by ${job.cancel.by} at ${job.cancel.requestedAt}`);
  if (job.status === 'DELIVERED') {
    if (job.notShown) lines.push(`Not shown: ${job.notShown.message}`);
    lines.push(
      job.notShown ? 'Archived:' : 'Outputs:',
      ...outputLocations(job, outputBucket).map((o) => `  ${o}`),
    );
    const record = job.notShown ? archiveRecordKeyOf(job.jobId) : `${job.stem}.json`;
    lines.push(`  s3://${outputBucket}/${record} (the job record)`);
    lines.push(...outputCheckLines(job));
  }
  if (job.error) {
    lines.push(
      job.status === 'CANCELLED'
        ? `Cancelled while ${job.error.stage} (code ${job.error.code})`
        : `Error at ${job.error.stage}: ${job.error.code}`,
      `  ${job.error.message}`,
    );
    lines.push(`  s3://${outputBucket}/${job.stem}.error.json`, `What to do: ${nextStep(job)}`);
  }
  return lines.join('\n');
}

/** The check of the delivered videos: passed, or each problem (the videos were delivered all the same). */
export function outputCheckLines(job: JobRecord): string[] {
  const check = job.outputCheck;
  if (!check) return [];
  const against =
    check.expectedSeconds === undefined
      ? ''
      : ` (length within ${check.toleranceSeconds ?? 0} s of the audio's ${check.expectedSeconds} s)`;
  if (check.passed) return [`Output check: passed${against}`];
  return [
    `Output check: ${check.problems.length} problem(s); the video was delivered all the same (it was paid for):`,
    ...check.problems.map((p) => `  ${p.code}: ${p.message}`),
  ];
}

/** A fixed-width table; the last `amounts` columns are right-aligned, so their decimal points line up. */
export function table(header: string[], rows: string[][], amounts = 1): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)));
  const firstAmount = header.length - amounts;
  return all
    .map((row) =>
      row
        .map((cell, c) => (c >= firstAmount ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The estimate beside the actual cost: what validation expected, at which price. */
function estimateNote(job: JobRecord): string {
  if (job.estimatedCostUsd === undefined) return '';
  const price = job.priceUsdPerSecond === undefined ? '' : ` at USD ${job.priceUsdPerSecond}/s`;
  return ` (estimated ${usd(job.estimatedCostUsd)}${price})`;
}

/** Jobs as a table with each one's estimated and actual cost, and the totals. */
export function jobsTable(jobs: JobRecord[]): string {
  const rows = jobs.map((job) => [
    job.createdAt.slice(0, 19).replace('T', ' '),
    job.stem,
    statusWords(job),
    job.jobId.slice(0, 12),
    usd(job.estimatedCostUsd),
    job.costUnknown ? `~${usd(job.estimatedCostUsd)}` : usd(job.costUsd),
  ]);
  const body = table(['CREATED (UTC)', 'STEM', 'STATE', 'JOB', 'ESTIMATE', 'COST'], rows, 2);
  const unknown = unknownCostCount(jobs);
  const note = unknown
    ? `\n~ Runware reported no cost for ${unknown} job(s): their estimate is counted in the total instead.`
    : '';
  return `${body}\n${jobs.length} job(s), total ${usd(totalCost(jobs))} (estimated ${usd(totalEstimate(jobs))})${note}`;
}

/** Jobs whose cost Runware did not report (their estimate stands in for it). */
export const unknownCostCount = (jobs: JobRecord[]): number => jobs.filter((job) => job.costUnknown).length;

/** The sum of the jobs' estimates (jobs validated before estimates were recorded count nothing). */
export const totalEstimate = (jobs: JobRecord[]): number =>
  Math.round(jobs.reduce((sum, job) => sum + (job.estimatedCostUsd ?? 0), 0) * 1e6) / 1e6;

/** What the jobs cost: Runware's charge, or the estimate where Runware reported none (as the budget counts). */
export const totalCost = (jobs: JobRecord[]): number =>
  Math.round(jobs.reduce((sum, job) => sum + (costOrEstimate(job) ?? 0), 0) * 1e6) / 1e6;

/** The charge Runware reported, or the estimate when it reported none (`costUnknown`). */
export const costOrEstimate = (job: JobRecord): number | undefined =>
  job.costUnknown ? job.estimatedCostUsd : job.costUsd;

/** A progress line for `submit --wait`: the stages passed and the one the job is in. */
export function progressLine(job: JobRecord | undefined, elapsedSeconds: number): string {
  const clock = `[${duration(elapsedSeconds).padStart(9)}]`;
  if (!job) return `${clock} uploaded; waiting for the pipeline to pick the job up`;
  const passed = [...STAGES, 'CANCELLED' as const].filter((s) => job.stages[s] !== undefined);
  const waiting: Record<string, string> = {
    RECEIVED: 'validating the inputs',
    VALIDATED: 'submitting to Runware',
    QUEUED: 'waiting for a Runware slot',
    SUBMITTED: 'Runware is rendering',
    GENERATED: 'copying the video to the output bucket',
    DELIVERED: 'done',
    FAILED: 'failed',
    CANCELLED: 'cancelled',
  };
  const doing = job.cancel && job.status !== 'CANCELLED' ? 'being cancelled' : waiting[job.status];
  return `${clock} ${passed.join(' > ')}: ${doing ?? job.status}`;
}
