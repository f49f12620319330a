import { claimNextAttempt, isRetryable, newAttempt } from '../core/attempt.js';
import type { ExecutionStarter } from '../core/aws/executions.js';
import { classifyKey, decodeS3Key, type FileRole, normalizeSequencer } from '../core/contract/keys.js';
import { jobExpiresAt, pairingExpiresAt } from '../core/contract/retention.js';
import type { FileRef, JobRecord, StoredFile } from '../core/job.js';
import { followInbox } from '../core/outputs/follow-inbox.js';
import { restoreDelivered } from '../core/outputs/restore.js';
import { HOW_TO_RETRY, type OutputWriter } from '../core/outputs/writer.js';
import { ambiguityOf, jobIdOf } from '../core/stem-files.js';
import type { FileStore } from '../core/store/files.js';
import type { JobStore } from '../core/store/jobs.js';
import type { ShownOutputsStore } from '../core/store/shown-outputs.js';

export { jobIdOf } from '../core/stem-files.js';

/** One `Object Created` notification of the input bucket, key still URL-encoded as S3 sends it. */
export interface ObjectCreated {
  /** Id of the notification: the same when the same event is delivered again. */
  eventId: string;
  encodedKey: string;
  etag: string;
  size: number;
  sequencer: string;
}

export type IngestOutcome =
  | { kind: 'ignored'; key: string }
  | { kind: 'forgotten'; key: string; stem: string }
  | { kind: 'outdated'; key: string }
  | { kind: 'waiting'; stem: string; missing: FileRole }
  | { kind: 'ambiguous'; stem: string; keys: string[] }
  | { kind: 'started'; jobId: string; attempt: number; executionArn: string }
  | { kind: 'unchanged'; jobId: string; attempt: number; status: string }
  /** The stem's inputs became those of a delivered job again: its outputs are back, with no new render. */
  | { kind: 'restored'; jobId: string; outputs: string[]; removed: string[] }
  /** As `restored`, but the job was delivered before the archive existed: the outputs were left as they were. */
  | { kind: 'archive-missing'; jobId: string; archiveKey: string };

export interface IngestDeps {
  files: FileStore;
  jobs: JobStore;
  /** How long a lone image or audio may wait for its partner before it is reported as an orphan. */
  orphanAfterSeconds: number;
  /** Days a job record is kept after its creation (DynamoDB TTL); 0 keeps it. @default 0 */
  jobRecordRetentionDays?: number;
  executions: ExecutionStarter;
  outputs: OutputWriter;
  /** Which job's outputs each stem shows: a delivered job whose inputs are back gets its outputs back. */
  shown: ShownOutputsStore;
  now: () => Date;
}

/**
 * Pairs an inbox file with the others of its stem and starts the job once image and audio are both there.
 *
 * Exactly-once, without transactions: the file is recorded first; then whichever ingest creates the job item
 * (a conditional put) starts the execution, under a name derived from the content. Concurrent ingests of the
 * pair compute the same job and only one creates it; a duplicated event finds the job and does nothing; a
 * retried event (same id) that crashed between the two writes may finish starting it, and Step Functions'
 * unique execution names make even that start idempotent.
 */
export async function ingestObject(event: ObjectCreated, deps: IngestDeps): Promise<IngestOutcome> {
  const key = decodeS3Key(event.encodedKey);
  const inbox = classifyKey(key);
  if (!inbox) return { kind: 'ignored', key };

  const file: StoredFile = {
    stem: inbox.stem,
    role: inbox.role,
    key,
    etag: event.etag.replace(/"/g, ''),
    size: event.size,
    sequencer: normalizeSequencer(event.sequencer),
    seenAt: deps.now().toISOString(),
  };
  if (!(await deps.files.put(file, pairingExpiresAt(file.seenAt, deps.orphanAfterSeconds))))
    return { kind: 'outdated', key };

  const files = await deps.files.list(inbox.stem);
  const images = files.filter((f) => f.role === 'image');
  const audios = files.filter((f) => f.role === 'audio');
  const sidecar = files.find((f) => f.role === 'sidecar');

  const ambiguous = ambiguityOf(inbox.stem, files);
  if (ambiguous) {
    // Not written when another stem holds `<stem>.error.json` (see output-names.ts); the outcome says why.
    await deps.outputs.putError({
      stem: inbox.stem,
      stage: 'RECEIVED',
      code: 'AMBIGUOUS_INPUT',
      message: ambiguous.message,
      inputs: Object.fromEntries(ambiguous.keys.map((k, i) => [`${ambiguous.role}${i + 1}`, k])),
      howToRetry: HOW_TO_RETRY,
      failedAt: deps.now().toISOString(),
    });
    return { kind: 'ambiguous', stem: inbox.stem, keys: ambiguous.keys };
  }
  const [image] = images;
  const [audio] = audios;
  if (!image || !audio) {
    // Each new lone upload restarts the clock; the sweeper reports the stem if its partner never comes.
    const now = deps.now();
    const dueAt = new Date(now.getTime() + deps.orphanAfterSeconds * 1000).toISOString();
    await deps.files.watchOrphan({ stem: inbox.stem, dueAt, since: now.toISOString() });
    return { kind: 'waiting', stem: inbox.stem, missing: image ? 'audio' : 'image' };
  }
  await deps.files.unwatchOrphan(inbox.stem);

  const inputs = { image: ref(image), audio: ref(audio), ...(sidecar ? { sidecar: ref(sidecar) } : {}) };
  const jobId = jobIdOf(inbox.stem, inputs.image, inputs.audio, inputs.sidecar);
  const now = deps.now().toISOString();
  const start = {
    inputs,
    claimedBy: event.eventId,
    now,
    expiresAt: jobExpiresAt(now, deps.jobRecordRetentionDays ?? 0),
  };
  const fresh = newAttempt({ ...start, jobId, stem: inbox.stem });

  let job: JobRecord | undefined = fresh;
  if (!(await deps.jobs.create(fresh))) {
    job = await deps.jobs.get(jobId);
    if (!job) throw new Error(`Job ${jobId} vanished while being created`);
    if (isRetryable(job) && isNewerThanAttempt(file, job)) {
      // A new upload after a failure or a cancel is the user's retry: a new attempt, with a new execution name.
      const claim = await claimNextAttempt(deps.jobs, job, start);
      if (!claim.claimed) {
        return {
          kind: 'unchanged',
          jobId,
          attempt: claim.current?.attempt ?? job.attempt,
          status: claim.current?.status ?? 'UNKNOWN',
        };
      }
      job = claim.job;
    } else if (job.status === 'DELIVERED') {
      // The stem's inputs are this delivered job's (again): the output folder must show its outputs, which another
      // job of the stem may have replaced meanwhile. Copied back from the archive: no task, no charge.
      const restored = await restoreDelivered(job, deps);
      if (restored.kind === 'shown') {
        return { kind: 'unchanged', jobId, attempt: job.attempt, status: job.status };
      }
      // Another upload (or a delivery) may have landed while the outputs were copied: the newest inbox wins.
      if (restored.kind === 'restored') await followInbox(inbox.stem, jobId, deps);
      return restored;
    } else if (!(job.claimedBy === event.eventId && job.status === 'RECEIVED' && !job.executionArn)) {
      return { kind: 'unchanged', jobId, attempt: job.attempt, status: job.status };
    }
  }

  const started = await deps.executions.start(job.executionName, {
    jobId,
    attempt: job.attempt,
    stem: job.stem,
  });
  await deps.jobs.update(jobId, job.attempt, { executionArn: started.executionArn });
  return { kind: 'started', jobId, attempt: job.attempt, executionArn: started.executionArn };
}

/** One `Object Deleted` notification of the input bucket. */
export interface ObjectDeleted {
  encodedKey: string;
  sequencer: string;
}

/**
 * A deleted inbox file stops counting for its stem: deleting the extra image of an ambiguous stem (as the
 * AMBIGUOUS_INPUT message says) or a sidecar makes the next upload run without it. Nothing is started here.
 */
export async function forgetObject(
  event: ObjectDeleted,
  deps: Pick<IngestDeps, 'files'>,
): Promise<IngestOutcome> {
  const key = decodeS3Key(event.encodedKey);
  const inbox = classifyKey(key);
  if (!inbox) return { kind: 'ignored', key };
  if (!(await deps.files.forget(inbox.stem, key, normalizeSequencer(event.sequencer)))) {
    return { kind: 'outdated', key };
  }
  // A sidecar left alone is still watched: it is reported like a lone image or audio file.
  const left = await deps.files.list(inbox.stem);
  if (left.length === 0) await deps.files.unwatchOrphan(inbox.stem);
  return { kind: 'forgotten', key, stem: inbox.stem };
}

const ref = (f: StoredFile): FileRef => ({ key: f.key, etag: f.etag, size: f.size, sequencer: f.sequencer });

/** Was this upload made after the failed attempt began (and so is not just a late copy of an old event)? */
function isNewerThanAttempt(file: StoredFile, job: JobRecord): boolean {
  const used = job.inputs[file.role];
  return !used || file.sequencer > used.sequencer;
}
