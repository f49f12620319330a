import { FILE_EXTENSION_OF_FORMAT } from '../contract/job-settings.js';
import { recordOutputKey } from '../contract/keys.js';
import { ARCHIVE_PREFIX, archiveKeyOf } from '../contract/output-names.js';
import type { JobRecord } from '../job.js';
import type { JobStore } from '../store/jobs.js';
import type { ShownOutputsStore } from '../store/shown-outputs.js';
import { recordDocument } from './record-document.js';
import type { OutputWriter } from './writer.js';

export interface RestoreDeps {
  jobs: JobStore;
  outputs: OutputWriter;
  shown: ShownOutputsStore;
  now: () => Date;
}

export interface RestoreOptions {
  /**
   * Put the outputs in place even when the stem's shown job is this one already: after a race with another
   * writer (a delivery, another restore), the marker may name this job while the other's files are in place.
   */
  force?: boolean;
}

export type RestoreOutcome =
  /** The job's outputs are the stem's already: nothing to do (a duplicated event, the same bytes again). */
  | { kind: 'shown'; jobId: string }
  | { kind: 'restored'; jobId: string; outputs: string[]; removed: string[] }
  /** The job was delivered before the archive existed: its outputs cannot be brought back (nothing changed). */
  | { kind: 'archive-missing'; jobId: string; archiveKey: string };

/**
 * Puts a DELIVERED job's outputs back in place: its videos copied (server side) from its archive (see
 * `archiveKeyOf`), `<stem>.json` rewritten from its record with `restoredAt`, and what another job of the stem
 * left (a video of another format or count, `<stem>.error.json`) removed, so the stem's outputs are this job's
 * again. No Runware task, no charge. Idempotent: every step overwrites or deletes the same keys, so a duplicated
 * event or a retry after a crash ends in the same state; the stem's shown job is set last, so a restore cut short
 * is done again by the next event.
 */
export async function restoreDelivered(
  job: JobRecord,
  deps: RestoreDeps,
  options: RestoreOptions = {},
): Promise<RestoreOutcome> {
  if (!options.force) {
    const shown = await deps.shown.get(job.stem);
    if (shown?.jobId === job.jobId) return { kind: 'shown', jobId: job.jobId };
  }
  const outputs = job.outputs ?? [];
  const extension = job.settings ? FILE_EXTENSION_OF_FORMAT[job.settings.outputFormat] : undefined;
  if (!extension || outputs.length === 0) {
    return { kind: 'archive-missing', jobId: job.jobId, archiveKey: `${ARCHIVE_PREFIX}${job.jobId}/` };
  }
  const recordKey = recordOutputKey(job.stem);
  const visible = [...outputs.map((o) => o.key), recordKey];
  // The stem reserved these names when the job was validated, and holds them for good since the job wrote them (see
  // `retention.ts`): this only confirms it.
  await deps.outputs.claim(job.stem, visible);
  for (const [index, output] of outputs.entries()) {
    const archiveKey = archiveKeyOf(job.jobId, index, extension);
    if (!(await deps.outputs.copyFromArchive(archiveKey, output.key))) {
      return { kind: 'archive-missing', jobId: job.jobId, archiveKey };
    }
  }
  const restoredAt = deps.now().toISOString();
  const restored = await deps.jobs.update(job.jobId, job.attempt, { restoredAt });
  await deps.outputs.putJson(job.stem, recordKey, recordDocument(restored));
  const removed = await deps.outputs.deleteOthers(job.stem, visible);
  await deps.shown.put({ stem: job.stem, jobId: job.jobId, keys: visible, at: restoredAt });
  return { kind: 'restored', jobId: job.jobId, outputs: visible, removed };
}
