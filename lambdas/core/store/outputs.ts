import * as z from 'zod';
import { ownerOf } from '../output-names.js';
import { expr, itemIsNew, keys, type Table } from './table.js';

const OutputClaimSchema = z.object({ key: z.string(), stem: z.string(), claimedAt: z.string() });

/** The outcome of reserving keys: all held by the stem now, or the first one another stem holds. */
export type ClaimOutcome = { ok: true } | { ok: false; key: string; holder: string };

/** Who holds each key of the output bucket (see `output-names.ts` for the rule). */
export interface OutputNameStore {
  /**
   * Reserves `outputKeys` for `stem` (NFC), in order, stopping at the first key another stem holds. Keys the stem
   * holds already count as reserved, so running it again (a retried step, a new attempt) changes nothing.
   */
  claim(stem: string, outputKeys: readonly string[], at: string): Promise<ClaimOutcome>;
  /** The stem that holds `key`, if any. */
  holderOf(key: string): Promise<string | undefined>;
}

export class DynamoOutputNameStore implements OutputNameStore {
  constructor(private readonly table: Table) {}

  async claim(stem: string, outputKeys: readonly string[], at: string): Promise<ClaimOutcome> {
    const owner = ownerOf(stem);
    for (const key of outputKeys) {
      const put = () =>
        this.table.write({
          put: { ...keys.output(key), key, stem: owner, claimedAt: at },
          if: expr(`${itemIsNew.text} OR stem = :stem`, undefined, { ':stem': owner }),
        });
      if (await put()) continue;
      const holder = await this.holderOf(key);
      if (holder !== undefined) return { ok: false, key, holder };
      // Claims are never deleted, so this is only reached if one was removed by hand meanwhile: try again once.
      if (!(await put())) return { ok: false, key, holder: (await this.holderOf(key)) ?? 'unknown' };
    }
    return { ok: true };
  }

  async holderOf(key: string): Promise<string | undefined> {
    return (await this.table.get(keys.output(key), OutputClaimSchema))?.stem;
  }
}
