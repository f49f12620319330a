import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  jobExpiresAt,
  MAX_HARD_DEADLINE_SECONDS,
  normalizedCopyExpirationDays,
  orphanWatchExpiresAt,
  outputReservationExpiresAt,
  pairingExpiresAt,
  taskExpiresAt,
} from '../../lambdas/core/contract/retention.js';
import { TABLE_SCHEMA } from '../../lambdas/core/store/schema.js';
import { keys } from '../../lambdas/core/store/table.js';
import { useStores } from '../support/harness.js';

const db = useStores();
const raw = z.object({ expiresAt: z.number().optional() });

const DAY = 86_400;
const at = '2026-01-01T00:00:00.000Z';
const epochAt = Date.parse(at) / 1000;

describe('retention (DynamoDB TTL values)', () => {
  it('expires a task 7 days after the latest its job can end', () => {
    expect(MAX_HARD_DEADLINE_SECONDS).toBe(7 * DAY);
    expect(taskExpiresAt(at)).toBe(epochAt + 14 * DAY);
  });

  it('expires a pairing record 30 days after the orphan wait and the longest job', () => {
    expect(pairingExpiresAt(at, DAY)).toBe(epochAt + DAY + 7 * DAY + 30 * DAY);
    expect(pairingExpiresAt(at, 3600)).toBeGreaterThan(epochAt + 3600 + MAX_HARD_DEADLINE_SECONDS);
  });

  it('expires an orphan watch 30 days after it fell due', () => {
    expect(orphanWatchExpiresAt(at)).toBe(epochAt + 30 * DAY);
  });

  it('keeps job records unless a retention is set, and never less than the longest job', () => {
    expect(jobExpiresAt(at, 0)).toBeUndefined();
    expect(jobExpiresAt(at, 90)).toBe(epochAt + 90 * DAY);
    expect(jobExpiresAt(at, 1)).toBe(epochAt + 8 * DAY);
  });

  it('lets an unwritten output-name reservation lapse 30 days after the latest its job can end', () => {
    expect(outputReservationExpiresAt(at)).toBe(epochAt + 7 * DAY + 30 * DAY);
    // Counted from the claim (at validation): never before the job's hard deadline, whatever it is set to.
    expect(outputReservationExpiresAt(at)).toBeGreaterThan(epochAt + MAX_HARD_DEADLINE_SECONDS + 1800);
  });

  it.each([
    // hardDeadlineSeconds, presignTtlSeconds, days: the defaults, a day, and the largest both settings accept
    [7200, 3600, 8],
    [DAY, 3600, 9],
    [MAX_HARD_DEADLINE_SECONDS, 604_800, 21],
  ])(
    'keeps a normalized image (deadline %i s, presigned URLs %i s) for %i days',
    (deadline, presign, days) => {
      expect(normalizedCopyExpirationDays(deadline, presign)).toBe(days);
      // It outlives every retry of its submit step and the last URL handed to Runware, by the task's support window.
      expect(days * DAY).toBeGreaterThanOrEqual(deadline + presign + 7 * DAY);
    },
  );

  it('writes the TTL attribute the table declares', async () => {
    expect(TABLE_SCHEMA.timeToLiveAttribute).toBe('expiresAt');
    await db.tasks.save({
      taskUUID: 't-ttl',
      jobId: 'j',
      attempt: 1,
      numberResults: 1,
      taskToken: 'a',
      createdAt: at,
    });
    expect((await db.table.get(keys.task('t-ttl'), raw))?.expiresAt).toBe(taskExpiresAt(at));
    // A rotated token (the submit step retried) keeps the first expiry.
    await db.tasks.save({
      taskUUID: 't-ttl',
      jobId: 'j',
      attempt: 1,
      numberResults: 1,
      taskToken: 'b',
      createdAt: '2026-02-01T00:00:00.000Z',
    });
    expect((await db.table.get(keys.task('t-ttl'), raw))?.expiresAt).toBe(taskExpiresAt(at));
    await db.files.watchOrphan({ stem: 'lone', dueAt: at, since: at });
    expect((await db.table.get(keys.orphanWatch('lone'), raw))?.expiresAt).toBe(orphanWatchExpiresAt(at));
    await db.outputNames.claim('ttl/x', ['ttl/x.mp4'], at);
    expect((await db.table.get(keys.output('ttl/x.mp4'), raw))?.expiresAt).toBe(
      outputReservationExpiresAt(at),
    );
  });
});
