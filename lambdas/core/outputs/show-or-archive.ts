import { recordOutputKey } from '../contract/keys.js';
import { archiveRecordKeyOf } from '../contract/output-names.js';
import { TransientError } from '../errors.js';
import type { DeliveredOutput, JobRecord, NotShown } from '../job.js';
import type { OutputCheck, OutputProblem } from '../output-check.js';
import { changedInputs } from '../stem-files.js';
import type { FileStore } from '../store/files.js';
import type { JobStore } from '../store/jobs.js';
import type { ShownOutputsStore } from '../store/shown-outputs.js';
import { followInbox } from './follow-inbox.js';
import { recordDocument } from './record-document.js';
import type { OutputWriter } from './writer.js';

export interface ShowDeps {
  jobs: JobStore;
  outputs: OutputWriter;
  shown: ShownOutputsStore;
  /** The inbox as ingest recorded it: whether the stem's files are still this job's. */
  files: FileStore;
  now: () => Date;
}

/** One archived video and the visible name it shows under. */
export interface ArchivedVideo extends DeliveredOutput {
  archiveKey: string;
}

export interface ShowOutput {
  /** The videos' keys: their visible names when shown, their archive keys when not. */
  outputs: string[];
  /** `<stem>.json` when shown; the record archived beside the videos when not. */
  recordKey: string;
  /** False when the stem's inbox held another job's files by the time this job's videos were archived. */
  shown: boolean;
  /** What the check of the videos found (for the JobSucceeded event; the record holds the full check). */
  outputCheck: { passed: boolean; problems: OutputProblem[] };
}

/**
 * The last part of delivery, once every video is whole in the job's archive: the job becomes DELIVERED, and its
 * outputs are shown under the stem's names only if the stem's inbox still holds this job. When another job's
 * image, audio or sidecar was uploaded while this one rendered (for example the inputs of a delivered job A
 * again, whose outputs ingest put back at once), showing this job would contradict the inbox: the job is
 * recorded DELIVERED with `notShown`, its record is archived beside its videos, and the output folder keeps what
 * the inbox holds. Uploading this job's inputs again shows it (the restore in ingest). After showing, the inbox is
 * read again (`followInbox`): a change that landed while the outputs were being written wins.
 */
export async function showOrArchive(
  job: JobRecord,
  videos: readonly ArchivedVideo[],
  deps: ShowDeps,
  outputCheck: OutputCheck,
): Promise<ShowOutput> {
  const checked = { passed: outputCheck.passed, problems: outputCheck.problems };
  const outputs: DeliveredOutput[] = videos.map(({ key, bytes, videoUUID }) => ({ key, bytes, videoUUID }));
  const changed = changedInputs(job, await deps.files.list(job.stem));
  if (changed.length > 0) {
    const notShown: NotShown = {
      at: deps.now().toISOString(),
      code: 'INBOX_CHANGED',
      message: notShownMessage(job, changed),
      changed,
    };
    const delivered = await deps.jobs.advance(job.jobId, job.attempt, 'DELIVERED', {
      outputs,
      outputCheck,
      notShown,
    });
    const recordKey = archiveRecordKeyOf(job.jobId);
    await deps.outputs.putArchivedJson(recordKey, recordDocument(delivered));
    return { outputs: videos.map((v) => v.archiveKey), recordKey, shown: false, outputCheck: checked };
  }
  // The archived copies were checked whole; the visible ones appear at once, complete (server-side copies).
  for (const video of videos) await publish(video.archiveKey, video.key, deps.outputs);
  const delivered = await deps.jobs.advance(job.jobId, job.attempt, 'DELIVERED', { outputs, outputCheck });
  const recordKey = recordOutputKey(job.stem);
  await deps.outputs.putJson(job.stem, recordKey, recordDocument(delivered));
  // An error file of an earlier attempt (or an orphan report) would now contradict the video beside it, and a video
  // of an earlier job of the stem in another format or count would sit beside this one; files of those names that
  // another stem holds are that stem's, and stay.
  const visible = [...outputs.map((o) => o.key), recordKey];
  await deps.outputs.deleteOthers(job.stem, visible);
  await deps.shown.put({ stem: job.stem, jobId: job.jobId, keys: visible, at: delivered.updatedAt });
  await followInbox(job.stem, job.jobId, deps);
  return { outputs: outputs.map((o) => o.key), recordKey, shown: true, outputCheck: checked };
}

const ROLE_WORDS = { image: 'image', audio: 'audio file', sidecar: 'settings sidecar' } as const;

function notShownMessage(job: JobRecord, changed: readonly (keyof typeof ROLE_WORDS)[]): string {
  const what = changed.map((role) => ROLE_WORDS[role]).join(' and ');
  return (
    `While this job was being made, another ${what} was uploaded for "${job.stem}", so the output folder shows ` +
    'what the inbox holds now. This job was delivered to its archive (made and paid for once) but not shown: ' +
    'upload its image, audio and sidecar again to put its outputs in place, with no new render and no charge.'
  );
}

async function publish(archiveKey: string, key: string, outputs: OutputWriter): Promise<void> {
  let copied: boolean;
  try {
    copied = await outputs.copyFromArchive(archiveKey, key);
  } catch (error) {
    throw new TransientError(
      'OUTPUT_WRITE_FAILED',
      `Could not copy ${key} into place in the output bucket (${(error as Error).name}).`,
      { cause: error },
    );
  }
  if (!copied) {
    throw new TransientError(
      'OUTPUT_WRITE_FAILED',
      `The archived copy of ${key} vanished before it was copied.`,
    );
  }
}
