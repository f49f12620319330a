import * as z from 'zod';
import { orphanWatchExpiresAt } from '../contract/retention.js';
import { type StoredFile, StoredFileSchema } from '../job.js';
import {
  dueAt,
  duePartitions,
  expr,
  inDueIndex,
  itemExists,
  itemIsNew,
  keyRanges,
  keys,
  leaveDueIndex,
  type Table,
} from './table.js';

/** A stem with a lone file, watched so that it is reported if its partner never comes. */
export const OrphanWatchSchema = z.object({
  stem: z.string(),
  /** When the lone file(s) count as orphaned. */
  dueAt: z.string(),
  since: z.string(),
});
export type OrphanWatch = z.infer<typeof OrphanWatchSchema>;

/** The inbox as the pipeline saw it: the files of each stem (pairing) and the orphan clocks of lone files. */
export interface FileStore {
  /**
   * Records a file; false when a newer event of the same key was recorded already (an outdated event). `expiresAt`
   * (epoch seconds) lets the table's TTL delete the record once no job can need it.
   */
  put(file: StoredFile, expiresAt?: number): Promise<boolean>;
  list(stem: string): Promise<StoredFile[]>;
  /** Forgets a file whose object was deleted; false when a newer upload of the key replaced it meanwhile. */
  forget(stem: string, key: string, sequencer: string): Promise<boolean>;
  /** Starts (or restarts) the orphan clock of a stem that has only one of its two files. */
  watchOrphan(watch: OrphanWatch): Promise<void>;
  /** The pair is complete (or the files are gone): stop watching. */
  unwatchOrphan(stem: string): Promise<void>;
  /** Watches that fell due at or before `now`, oldest first. */
  dueOrphans(now: string, limit?: number): Promise<OrphanWatch[]>;
  /** Marks a watch as reported; false when another sweep reported it first. */
  markOrphanReported(stem: string, at: string): Promise<boolean>;
}

export class DynamoFileStore implements FileStore {
  constructor(private readonly table: Table) {}

  put(file: StoredFile, expiresAt?: number): Promise<boolean> {
    return this.table.write({
      put: { ...keys.file(file.stem, file.key), ...file, ...(expiresAt ? { expiresAt } : {}) },
      // An equal sequencer is the same event delivered again: let it through, so a retried ingest can
      // finish what a crashed one started. The job claim stops it from doing anything twice.
      if: expr(`${itemIsNew.text} OR sequencer <= :seq`, undefined, { ':seq': file.sequencer }),
    });
  }

  forget(stem: string, key: string, sequencer: string): Promise<boolean> {
    return this.table.write({
      delete: keys.file(stem, key),
      // A delete event older than the upload on record (a late or re-ordered event) must not remove it.
      if: expr(`${itemExists.text} AND sequencer < :seq`, undefined, { ':seq': sequencer }),
    });
  }

  list(stem: string): Promise<StoredFile[]> {
    return this.table.query(keyRanges.filesOf(stem), StoredFileSchema);
  }

  async watchOrphan(watch: OrphanWatch): Promise<void> {
    await this.table.write({
      put: {
        ...keys.orphanWatch(watch.stem),
        ...dueAt(duePartitions.orphans, watch.dueAt, watch.stem),
        ...watch,
        expiresAt: orphanWatchExpiresAt(watch.dueAt),
      },
    });
  }

  async unwatchOrphan(stem: string): Promise<void> {
    await this.table.write({ delete: keys.orphanWatch(stem) });
  }

  dueOrphans(now: string, limit = 100): Promise<OrphanWatch[]> {
    return this.table.due(duePartitions.orphans, now, limit, OrphanWatchSchema);
  }

  markOrphanReported(stem: string, at: string): Promise<boolean> {
    return this.table.write({
      update: keys.orphanWatch(stem),
      // Leaving the due index is what makes the report happen once.
      set: expr(`${leaveDueIndex} SET reportedAt = :at`, undefined, { ':at': at }),
      if: inDueIndex,
    });
  }
}
