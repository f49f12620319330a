import { ownerOf } from '../../lambdas/core/contract/output-names.js';
import type { ClaimOutcome, OutputNameStore } from '../../lambdas/core/store/output-claims.js';

/** The output-name claims in memory, for tests that mock S3 and have no table (same rule as the real store). */
export class MemoryOutputNameStore implements OutputNameStore {
  readonly holders = new Map<string, string>();
  /** Keys whose reservation no longer expires (written); expiry itself is the Dynamo store's (see store tests). */
  readonly kept = new Set<string>();

  async claim(stem: string, outputKeys: readonly string[]): Promise<ClaimOutcome> {
    const owner = ownerOf(stem);
    for (const key of outputKeys) {
      const holder = this.holders.get(key);
      if (holder !== undefined && holder !== owner) return { ok: false, key, holder };
      this.holders.set(key, owner);
    }
    return { ok: true };
  }

  async keep(outputKeys: readonly string[]): Promise<void> {
    for (const key of outputKeys) if (this.holders.has(key)) this.kept.add(key);
  }

  async holderOf(key: string): Promise<string | undefined> {
    return this.holders.get(key);
  }
}
