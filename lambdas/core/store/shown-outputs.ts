import * as z from 'zod';
import { ownerOf } from '../contract/output-names.js';
import { keys, type Table } from './table.js';

/** Which job's outputs a stem's visible output keys hold now. */
export const ShownOutputsSchema = z.object({
  stem: z.string(),
  jobId: z.string(),
  /** The visible keys that job put in place (its videos and `<stem>.json`). */
  keys: z.array(z.string()),
  /** When they were put in place (a delivery, or a restore from the archive). */
  at: z.string(),
});
export type ShownOutputs = z.infer<typeof ShownOutputsSchema>;

/**
 * One item per stem: the job whose outputs are in the output bucket under the stem's names. Deliver and the
 * restore in ingest set it after putting a job's outputs in place, so that ingest can tell whether a stem's inputs
 * becoming those of a delivered job need its outputs back, or find them there already (a duplicated event, the
 * same bytes dropped again). Kept as long as the outputs (no TTL).
 */
export interface ShownOutputsStore {
  get(stem: string): Promise<ShownOutputs | undefined>;
  /** Records `shown` for its stem, replacing what was there: the last job put in place is the one shown. */
  put(shown: ShownOutputs): Promise<void>;
}

export class DynamoShownOutputsStore implements ShownOutputsStore {
  constructor(private readonly table: Table) {}

  get(stem: string): Promise<ShownOutputs | undefined> {
    return this.table.get(keys.shown(ownerOf(stem)), ShownOutputsSchema);
  }

  async put(shown: ShownOutputs): Promise<void> {
    const stem = ownerOf(shown.stem);
    await this.table.write({ put: { ...keys.shown(stem), ...shown, stem } });
  }
}
