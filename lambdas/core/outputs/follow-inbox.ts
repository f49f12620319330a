import { inboxJobId } from '../stem-files.js';
import type { FileStore } from '../store/files.js';
import { type RestoreDeps, restoreDelivered } from './restore.js';

export interface FollowInboxDeps extends RestoreDeps {
  files: FileStore;
}

/** Rounds of re-reading the inbox after a write: each one follows an upload made during the previous one. */
const MAX_ROUNDS = 3;

/**
 * Called after a job's outputs were put in place under its stem (a delivery, or a restore from the archive):
 * if the inbox now holds another job that was delivered, that job's outputs are put back in place (forced, see
 * `RestoreOptions.force`). The inbox may have changed while this writer wrote; the ingest of that change restored
 * its job at once, maybe before this writer overwrote it. Every writer re-reads the inbox after its own writes,
 * so the last one to finish puts in place what the inbox holds then. A job the inbox holds that is not delivered
 * (still running, failed) is left to its own delivery. Returns the job ids restored here.
 */
export async function followInbox(
  stem: string,
  shownJobId: string,
  deps: FollowInboxDeps,
): Promise<string[]> {
  const restored: string[] = [];
  let shown = shownJobId;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const current = inboxJobId(stem, await deps.files.list(stem));
    if (!current || current === shown) break;
    const job = await deps.jobs.get(current);
    if (job?.status !== 'DELIVERED') break;
    const outcome = await restoreDelivered(job, deps, { force: true });
    if (outcome.kind !== 'restored') break;
    restored.push(current);
    shown = current;
  }
  return restored;
}
