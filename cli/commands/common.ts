import { hostname, userInfo } from 'node:os';
import { type JobRecord, TERMINAL_STATUSES } from '../../lambdas/core/job.js';
import { CliError, EXIT } from '../errors.js';
import {
  describeJob,
  outputCheckLines,
  outputLocations,
  progressLine,
  usd,
  videoSeconds,
} from '../format.js';
import type { Target } from '../target.js';

/** What every command shares: its outcome, finding a job by stem or id, following it, and who runs it. */

/** What a command hands back: data for `--json`, words for people, and the exit code. */
export interface Outcome {
  json: unknown;
  text: string;
  exitCode?: number;
}

/** How a command that waits follows its job. */
export interface FollowOptions {
  timeoutSeconds: number;
  /** Where the live progress goes (stderr with --json, so stdout stays one JSON document). */
  progress: (line: string, final: boolean) => void;
}

export const int = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new CliError(`--${name} must be a whole number.`, EXIT.usage, 'USAGE');
  return n;
};

/** Follows a job with a progress line per change until `ended` says it is over (or --timeout passes). */
export async function follow(
  read: () => Promise<JobRecord | undefined>,
  ended: (job: JobRecord) => boolean,
  started: Date,
  stem: string,
  o: FollowOptions,
): Promise<JobRecord> {
  const deadline = started.getTime() + o.timeoutSeconds * 1000;
  let last = '';
  let job: JobRecord | undefined;
  for (;;) {
    job = await read();
    const line = progressLine(job, (Date.now() - started.getTime()) / 1000);
    const phase = line.replace(/^\[[^\]]*\] /, '');
    if (phase !== last) o.progress(line, false);
    last = phase;
    if (job && ended(job)) break;
    if (Date.now() > deadline)
      throw new CliError(
        `Gave up waiting after ${o.timeoutSeconds} s; the job goes on. Follow it with: avatar-pipeline status ${stem}`,
        EXIT.timeout,
        'TIMEOUT',
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
  o.progress('', true);
  return job;
}

/** What `--wait` ends with: where the video is, its length and cost; or the record with its error. */
export function ending(target: Target, job: JobRecord): Outcome {
  const seconds = videoSeconds(job);
  const videos = outputLocations(job, target.names.outputBucket);
  const text =
    job.status === 'DELIVERED'
      ? [
          `Delivered ${job.stem} (job ${job.jobId}).`,
          ...videos.map((v) => `Video: ${v}`),
          `Duration: ${seconds === undefined ? '-' : `${seconds.toFixed(2)} s`}   Cost: ${
            job.costUnknown
              ? `unknown (Runware reported none; estimated ${usd(job.estimatedCostUsd)})`
              : usd(job.costUsd)
          }`,
          ...outputCheckLines(job),
        ].join('\n')
      : describeJob(job, target.names.outputBucket);
  return {
    json: { job, videos, durationSeconds: seconds, costUsd: job.costUsd },
    text,
    exitCode: job.status === 'DELIVERED' ? EXIT.ok : EXIT.jobFailed,
  };
}

/** The job named by id, or else the latest job of that stem. */
export async function findJob(target: Target, ref: string): Promise<JobRecord> {
  if (/^[0-9a-f]{32}$/.test(ref)) {
    const job = await target.jobs.get(ref);
    if (job) return job;
  }
  const stem = ref.replace(/^inbox\//, '').replace(/\.[A-Za-z0-9]+$/, '');
  const matching = (await target.jobs.list()).items.filter((j) => j.stem === ref || j.stem === stem);
  const latest = matching.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  if (!latest)
    throw new CliError(
      `No job "${ref}" (by stem or job id) in ${target.description}. List the jobs with: avatar-pipeline jobs`,
      EXIT.notFound,
      'UNKNOWN_JOB',
    );
  return latest;
}

/** Who runs the command, as the job record keeps it (`cancel.by`, `claimedBy`). */
export function operator(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no user entry (some containers): the host still says where it came from
  }
  return `${user}@${hostname()}`;
}

export const isTerminal = (job: JobRecord) => (TERMINAL_STATUSES as readonly string[]).includes(job.status);
