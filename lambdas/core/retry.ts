import { claimNextAttempt, isRetryable } from './attempt.js';
import type { ExecutionStarter } from './aws/executions.js';
import { SupersededAttemptError } from './errors.js';
import type { FileRef, JobRecord } from './job.js';
import type { FileStore } from './store/files.js';
import type { JobStore } from './store/jobs.js';

/**
 * An operator's explicit retry of a FAILED or CANCELLED job (`avatar-pipeline retry`), without uploading again.
 *
 * Why the CLI claims the attempt in the table and starts the execution itself, rather than copying an inbox file
 * onto itself so that ingest sees a new upload: a copy is a write into the user's inbox (which nothing but the user
 * writes); a multipart upload's copy gets another ETag, which is another job id, so it would make a new job rather
 * than retry this one; and the retry would wait for an S3 event. Claiming goes through the same conditional write
 * as ingest's claim of a re-drop (`claimNextAttempt`), so a retry racing a new upload still makes one attempt, and
 * it needs only what an operator has: DynamoDB and states:StartExecution.
 */

export type RetryOutcome =
  | { kind: 'started'; job: JobRecord; executionArn: string }
  | { kind: 'refused'; job: JobRecord; code: 'NOT_RETRYABLE' | 'INPUTS_CHANGED'; reason: string };

export interface RetryDeps {
  jobs: JobStore;
  files: FileStore;
  executions: ExecutionStarter;
  now: () => Date;
}

/** What a person reads about a job that is not FAILED or CANCELLED. */
function notRetryable(job: JobRecord): string {
  if (job.status === 'DELIVERED')
    return (
      'it was delivered; there is nothing to retry. To make another video, change an input ' +
      '(another prompt in the settings sidecar makes a new job).'
    );
  const what = job.cancel ? 'it is being cancelled' : `it is still running (${job.status})`;
  return `${what}. Wait for it to end, or cancel it first with: avatar-pipeline cancel ${job.stem}`;
}

const sameFile = (a: FileRef | undefined, b: { key: string; etag: string } | undefined) =>
  a?.key === b?.key && a?.etag === b?.etag;

/**
 * How the inbox differs from the job's inputs, as the pipeline last saw it (the pairing records ingest keeps);
 * empty when it still holds exactly the job's files. Another file there is another job: retrying this one then
 * would render inputs the user has replaced.
 */
export async function inputChanges(job: JobRecord, files: FileStore): Promise<string[]> {
  const seen = await files.list(job.stem);
  const changes: string[] = [];
  for (const role of ['image', 'audio', 'sidecar'] as const) {
    const used = job.inputs[role];
    const now = seen.filter((f) => f.role === role);
    if (now.length === 1 && sameFile(used, now[0])) continue;
    if (!used && now.length === 0) continue;
    if (now.length === 0) changes.push(`${used?.key} is no longer in the inbox`);
    else if (!used) changes.push(`a ${role} (${now.map((f) => f.key).join(', ')}) was added`);
    else if (now.length > 1) changes.push(`the inbox holds ${now.length} ${role} files for the stem`);
    else changes.push(`${now[0]?.key} was replaced by other content`);
  }
  return changes;
}

/** The TTL of the next attempt's record: as long after its claim as the previous one's was after its own. */
function nextExpiry(job: JobRecord, now: Date): number | undefined {
  if (job.expiresAt === undefined) return undefined;
  const claimed = Date.parse(job.stages.RECEIVED ?? job.createdAt);
  const span = Number.isNaN(claimed) ? 0 : job.expiresAt - Math.floor(claimed / 1000);
  return Math.floor(now.getTime() / 1000) + Math.max(span, 0);
}

/**
 * Starts the next attempt of a FAILED or CANCELLED job with the same inputs. Refused, changing nothing, for a job
 * that is running or delivered, or whose inputs in the inbox changed since. A retry whose start was cut short
 * (claimed, execution not started) is finished by running it again.
 */
export async function retryJob(job: JobRecord, by: string, deps: RetryDeps): Promise<RetryOutcome> {
  let next: JobRecord;
  if (job.status === 'RECEIVED' && !job.executionArn && job.claimedBy.startsWith('retry:')) {
    next = job;
  } else {
    if (!isRetryable(job)) return { kind: 'refused', job, code: 'NOT_RETRYABLE', reason: notRetryable(job) };
    const changes = await inputChanges(job, deps.files);
    if (changes.length > 0)
      return {
        kind: 'refused',
        job,
        code: 'INPUTS_CHANGED',
        reason:
          `its inputs changed in the inbox since: ${changes.join('; ')}. The files there now are another job ` +
          '(it starts by itself once its image and audio are both there); this one is not retried with them.',
      };
    const now = deps.now();
    const claim = await claimNextAttempt(deps.jobs, job, {
      inputs: job.inputs,
      claimedBy: `retry:${by}`,
      now: now.toISOString(),
      expiresAt: nextExpiry(job, now),
    });
    if (!claim.claimed) {
      const current = claim.current ?? job;
      return {
        kind: 'refused',
        job: current,
        code: 'NOT_RETRYABLE',
        reason: `attempt ${current.attempt} was started by someone else first (${current.status}).`,
      };
    }
    next = claim.job;
  }
  const started = await deps.executions.start(next.executionName, {
    jobId: next.jobId,
    attempt: next.attempt,
    stem: next.stem,
  });
  const recorded = await deps.jobs
    .update(next.jobId, next.attempt, { executionArn: started.executionArn })
    .catch((error: unknown) => {
      // Started, and already over (or cancelled) before the ARN was written: the start is what counts.
      if (error instanceof SupersededAttemptError) return { ...next, executionArn: started.executionArn };
      throw error;
    });
  return { kind: 'started', job: recorded, executionArn: started.executionArn };
}
