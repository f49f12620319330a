import * as z from 'zod';
import { ownerOf } from '../contract/output-names.js';
import { outputReservationExpiresAt } from '../contract/retention.js';
import { expr, itemExists, itemIsNew, join, keys, type Table } from './table.js';

const OutputClaimSchema = z.object({
  key: z.string(),
  stem: z.string(),
  claimedAt: z.string(),
  /** Only on a reservation nothing has been written to yet (see `outputReservationExpiresAt`). */
  expiresAt: z.number().optional(),
});

/** The outcome of reserving keys: all held by the stem now, or the first one another stem holds. */
export type ClaimOutcome = { ok: true } | { ok: false; key: string; holder: string };

/**
 * Who holds each key of the output bucket (see `output-names.ts` for the rule). Retention (see `retention.ts`): a
 * reservation lapses some time after its job has certainly ended unless the stem wrote the key; a written key is
 * held for good. A claim treats a lapsed reservation as free at once, before DynamoDB's TTL deletes it (until then
 * it still names its stem: nothing was written at that key, so the stem deleting it removes nothing of another's).
 */
export interface OutputNameStore {
  /**
   * Reserves `outputKeys` for `stem` (NFC), in order, stopping at the first key another stem holds. Keys the stem
   * holds already count as reserved, so running it again (a retried step, a new attempt) changes nothing but to
   * push back the expiry of keys it has not written.
   */
  claim(stem: string, outputKeys: readonly string[], at: string): Promise<ClaimOutcome>;
  /**
   * The stem's file is (about to be) at `outputKeys`: their reservations no longer expire. Keys nobody holds are
   * left alone (the writer claims before it writes).
   */
  keep(outputKeys: readonly string[]): Promise<void>;
  /** The stem that holds `key`, if any. */
  holderOf(key: string): Promise<string | undefined>;
}

const epochOf = (iso: string) => Math.floor(Date.parse(iso) / 1000);

export class DynamoOutputNameStore implements OutputNameStore {
  constructor(private readonly table: Table) {}

  async claim(stem: string, outputKeys: readonly string[], at: string): Promise<ClaimOutcome> {
    const owner = ownerOf(stem);
    const expiresAt = outputReservationExpiresAt(at);
    const lapsed = expr('expiresAt < :now', undefined, { ':now': epochOf(at) });
    for (const key of outputKeys) {
      // A free key (never held, or its reservation lapsed) becomes the stem's, with an expiry.
      const take = () =>
        this.table.write({
          put: { ...keys.output(key), key, stem: owner, claimedAt: at, expiresAt },
          if: join(' OR ', [itemIsNew, lapsed]),
        });
      if (await take()) continue;
      // The stem's own reservation of a key it has not written: its new job pushes the expiry back.
      const renewed = await this.table.write({
        update: keys.output(key),
        set: expr('SET claimedAt = :at, expiresAt = :expires', undefined, {
          ':at': at,
          ':expires': expiresAt,
        }),
        if: expr('stem = :stem AND expiresAt < :expires', undefined, {
          ':stem': owner,
          ':expires': expiresAt,
        }),
      });
      if (renewed) continue;
      const holder = await this.holderOf(key);
      if (holder === owner) continue; // written (held for good), or already reserved for longer
      if (holder !== undefined) return { ok: false, key, holder };
      // Reached only if the claim was removed (by hand, or by the TTL) meanwhile: try again once.
      if (!(await take())) return { ok: false, key, holder: (await this.holderOf(key)) ?? 'unknown' };
    }
    return { ok: true };
  }

  async keep(outputKeys: readonly string[]): Promise<void> {
    for (const key of outputKeys) {
      await this.table.write({ update: keys.output(key), set: expr('REMOVE expiresAt'), if: itemExists });
    }
  }

  async holderOf(key: string): Promise<string | undefined> {
    return (await this.table.get(keys.output(key), OutputClaimSchema))?.stem;
  }
}
