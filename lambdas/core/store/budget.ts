import * as z from 'zod';
import {
  type BudgetLimits,
  type BudgetPeriod,
  closing,
  dayAttr,
  explainRefusal,
  holderOf,
  LATE_CHARGE_TRIES,
  type LateCharge,
  type LateEntry,
  lateAttr,
  lateCorrection,
  ledgerMonths,
  leftOfLimits,
  periodOf,
  RESERVE_TRIES,
  type Reservation,
  type ReserveOutcome,
  reserveRooms,
  type Settlement,
  toMicros,
  toUsd,
  utcDay,
  utcMonth,
} from '../rules/budget-ledger.js';
import { type Expr, expr, itemIsNew, join, keys, type Table } from './table.js';

/**
 * The budget: what was spent and what is reserved, per UTC day and per UTC month, against the optional limits
 * `dailyBudgetUsd` and `monthlyBudgetUsd`.
 *
 * A job attempt reserves its estimated charge at submit, after it took its Runware slot and before Runware is
 * asked; the reservation is replaced by the actual cost when Runware reports it (record), released when nothing
 * was charged (fail before acceptance), or kept as spent when the cost stays unknown.
 *
 * One item per UTC month holds the month's totals, the totals of each of its days (attributes `spent@<day>`...)
 * and the open reservations (a map keyed `<jobId>#<attempt>`). A day always falls within one month, so "reserve
 * only if both the day and the month have room" is one conditional UpdateItem: atomic on DynamoDB and on the
 * local emulator alike (dynalite has no TransactWriteItems). Conditions cannot add, so each period also keeps
 * `committed` (spent + reserved) and the condition compares it with `limit - estimate`. Amounts are integers of
 * micro-USD, so that many additions never drift. The map holds only open reservations (at most one per job in
 * flight), so the item stays small.
 */

export type {
  BudgetLimits,
  BudgetPeriod,
  BudgetPeriodKind,
  BudgetTotals,
  LateCharge,
  Reservation,
  ReserveOutcome,
  Settlement,
} from '../rules/budget-ledger.js';
export { utcDay, utcMonth } from '../rules/budget-ledger.js';

const ReservationSchema = z.object({
  jobId: z.string(),
  attempt: z.number(),
  day: z.string(),
  /** The estimate reserved, in micro-USD. */
  micros: z.number(),
  at: z.string(),
}) satisfies z.ZodType<Reservation>;

/**
 * The count of a cancelled attempt whose charge may still come (see `LateEntry`): a top-level attribute
 * `late@<jobId>#<attempt>` of the month's item, so the count and the total change in one conditional write.
 */
const LateEntrySchema = z.object({
  day: z.string(),
  micros: z.number(),
  actual: z.boolean(),
}) satisfies z.ZodType<LateEntry>;

const BudgetItemSchema = z.looseObject({
  month: z.string().optional(),
  spent: z.number().default(0),
  reserved: z.number().default(0),
  reservations: z.record(z.string(), ReservationSchema).default({}),
});

export interface BudgetStore {
  /** Reserves `estimateUsd` for the attempt if the day and the month both have room; idempotent per attempt. */
  reserve(jobId: string, attempt: number, estimateUsd: number, limits: BudgetLimits): Promise<ReserveOutcome>;
  /**
   * Replaces the attempt's reservation by what was charged (`actualUsd`), or by its estimate when the charge is
   * unknown (`undefined`). Undefined when it held none (never reserved, or closed already: retrying is harmless).
   */
  settle(
    jobId: string,
    attempt: number,
    actualUsd: number | undefined,
    options?: { lateChargeMayCome?: boolean },
  ): Promise<Settlement | undefined>;
  /**
   * Makes the budget count Runware's charge `actualUsd` for a cancelled attempt instead of what it counted (the
   * estimate kept by `settle` with `lateChargeMayCome`, or an open reservation, or nothing). Idempotent: the same
   * charge reported again changes nothing (`newUsd` 0). Undefined when a concurrent change won every try.
   */
  chargeLate(jobId: string, attempt: number, actualUsd: number): Promise<LateCharge | undefined>;
  /** Gives the reservation back: nothing was charged. Undefined when it held none. */
  release(jobId: string, attempt: number): Promise<Settlement | undefined>;
  /** The spend of one UTC month (`YYYY-MM`) and of its days. */
  month(month: string): Promise<BudgetPeriod>;
}

export class DynamoBudgetStore implements BudgetStore {
  private readonly now: () => Date;

  constructor(
    private readonly table: Table,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async reserve(
    jobId: string,
    attempt: number,
    estimateUsd: number,
    limits: BudgetLimits,
  ): Promise<ReserveOutcome> {
    const holder = holderOf(jobId, attempt);
    const seen = await this.find(holder);
    if (seen.found) return { reserved: true, already: true };
    let refusal: ReserveOutcome | undefined;
    // A refusal is explained from a read made after it; if that read shows room (a reservation was closed in
    // between), the write is tried again, a few times at most.
    for (let tries = 0; tries < RESERVE_TRIES; tries += 1) {
      const at = this.now();
      const micros = toMicros(estimateUsd);
      if (await this.tryReserve(holder, { jobId, attempt, at }, micros, limits, seen.months)) {
        return { reserved: true, already: false };
      }
      if ((await this.find(holder)).found) return { reserved: true, already: true };
      const explained = explainRefusal(leftOfLimits(at, limits, await this.month(utcMonth(at))), estimateUsd);
      refusal = explained.refusal;
      if (explained.final) return refusal;
    }
    return refusal ?? leftOfLimits(this.now(), limits, await this.month(utcMonth(this.now()))).daily;
  }

  /**
   * One conditional write: the reservation, if the day and the month have room and the attempt holds none. The
   * month's item is created first unless a read showed it (`existing`).
   */
  private async tryReserve(
    holder: string,
    who: { jobId: string; attempt: number; at: Date },
    micros: number,
    limits: BudgetLimits,
    existing: ReadonlySet<string>,
  ): Promise<boolean> {
    const day = utcDay(who.at);
    const month = utcMonth(who.at);
    const rooms = reserveRooms(micros, limits);
    if (!rooms) return false;
    if (!existing.has(month)) await this.createMonth(month);
    const conditions: Expr[] = [expr('attribute_not_exists(reservations.#h)', { '#h': holder })];
    if (rooms.monthly !== undefined) {
      conditions.push(expr('committed <= :monthRoom', undefined, { ':monthRoom': rooms.monthly }));
    }
    if (rooms.daily !== undefined) {
      conditions.push(
        expr(
          '(attribute_not_exists(#dc) OR #dc <= :dayRoom)',
          { '#dc': dayAttr('committed', day) },
          { ':dayRoom': rooms.daily },
        ),
      );
    }
    const reservation: Reservation = {
      jobId: who.jobId,
      attempt: who.attempt,
      day,
      micros,
      at: who.at.toISOString(),
    };
    return this.table.write({
      update: keys.budget(month),
      set: expr(
        'SET reservations.#h = :reservation ADD reserved :e, committed :e, #dr :e, #dc :e',
        { '#h': holder, '#dr': dayAttr('reserved', day), '#dc': dayAttr('committed', day) },
        { ':reservation': reservation, ':e': micros },
      ),
      if: join(' AND ', conditions),
    });
  }

  /** The month's item, with every total at 0, unless it exists. */
  private async createMonth(month: string): Promise<void> {
    await this.table.write({
      put: { ...keys.budget(month), month, spent: 0, reserved: 0, committed: 0, reservations: {} },
      if: itemIsNew,
    });
  }

  settle(
    jobId: string,
    attempt: number,
    actualUsd: number | undefined,
    options: { lateChargeMayCome?: boolean } = {},
  ): Promise<Settlement | undefined> {
    return this.close(
      holderOf(jobId, attempt),
      (r) => (actualUsd === undefined ? r.micros : toMicros(actualUsd)),
      options.lateChargeMayCome ? actualUsd !== undefined : undefined,
    );
  }

  async chargeLate(jobId: string, attempt: number, actualUsd: number): Promise<LateCharge | undefined> {
    const holder = holderOf(jobId, attempt);
    const micros = toMicros(actualUsd);
    // A write loses only to another change of the same attempt's count (a concurrent report): read and try again.
    for (let tries = 0; tries < LATE_CHARGE_TRIES; tries += 1) {
      const late = await this.findLate(holder);
      if (late) {
        const correction = lateCorrection(late.entry, micros, actualUsd);
        if (correction.unchanged) return correction.charge;
        const updated = await this.countLate(
          late.month,
          holder,
          correction.entry,
          correction.delta,
          expr(
            '#l.micros = :prev AND #l.actual = :was',
            { '#l': lateAttr(holder) },
            { ':prev': late.entry.micros, ':was': late.entry.actual },
          ),
        );
        if (updated) return correction.charge;
        continue;
      }
      // The attempt still holds its reservation (the fail step has not closed it yet): closed with the charge.
      const settled = await this.close(holder, () => micros, true);
      if (settled)
        return { previousUsd: settled.estimateUsd, spentUsd: actualUsd, newUsd: actualUsd, day: settled.day };
      if ((await this.find(holder)).found) continue;
      // It never reserved (validated before estimates were recorded): the charge is counted today.
      const at = this.now();
      const day = utcDay(at);
      const month = utcMonth(at);
      await this.createMonth(month);
      const added = await this.countLate(
        month,
        holder,
        { day, micros, actual: true },
        micros,
        expr('attribute_not_exists(#l)', { '#l': lateAttr(holder) }),
      );
      if (added) return { previousUsd: 0, spentUsd: actualUsd, newUsd: actualUsd, day };
    }
    return undefined;
  }

  release(jobId: string, attempt: number): Promise<Settlement | undefined> {
    return this.close(holderOf(jobId, attempt), () => 0);
  }

  async month(month: string): Promise<BudgetPeriod> {
    const item = await this.table.get(keys.budget(month), BudgetItemSchema);
    return periodOf(month, item ?? { spent: 0, reserved: 0, reservations: {} });
  }

  /** Sets the attempt's late count to `entry` and adds `delta` to the spend of the month and of its day, if `when`. */
  private countLate(
    month: string,
    holder: string,
    entry: LateEntry,
    delta: number,
    when: Expr,
  ): Promise<boolean> {
    return this.table.write({
      update: keys.budget(month),
      set: expr(
        'SET #l = :entry ADD spent :d, committed :d, #ds :d, #dc :d',
        {
          '#l': lateAttr(holder),
          '#ds': dayAttr('spent', entry.day),
          '#dc': dayAttr('committed', entry.day),
        },
        { ':entry': entry, ':d': delta },
      ),
      if: when,
    });
  }

  /** The open reservation of an attempt and the month it is in, if any; and the months whose item exists. */
  private async find(
    holder: string,
  ): Promise<{ found?: { month: string; reservation: Reservation }; months: Set<string> }> {
    const months = new Set<string>();
    for (const month of ledgerMonths(this.now())) {
      const item = await this.table.get(keys.budget(month), BudgetItemSchema);
      if (item) months.add(month);
      const reservation = item?.reservations[holder];
      if (reservation) return { found: { month, reservation }, months };
    }
    return { months };
  }

  /** The count kept for a cancelled attempt's late charge, and the month it is in, if any. */
  private async findLate(holder: string): Promise<{ month: string; entry: LateEntry } | undefined> {
    for (const month of ledgerMonths(this.now())) {
      const item = await this.table.get(keys.budget(month), BudgetItemSchema);
      const entry = LateEntrySchema.safeParse(item?.[lateAttr(holder)]);
      if (entry.success) return { month, entry: entry.data };
    }
    return undefined;
  }

  /**
   * Moves an open reservation to spent (`spentMicros` of it); the condition makes a second close a no-op. With
   * `lateActual` (true when the amount is Runware's charge, false for the estimate) the count is also kept for
   * {@link chargeLate}.
   */
  private async close(
    holder: string,
    spentMicros: (r: Reservation) => number,
    lateActual?: boolean,
  ): Promise<Settlement | undefined> {
    const { found } = await this.find(holder);
    if (!found) return undefined;
    const { month, reservation } = found;
    const spent = spentMicros(reservation);
    const moved = closing(reservation.micros, spent);
    const late: LateEntry | undefined =
      lateActual === undefined ? undefined : { day: reservation.day, micros: spent, actual: lateActual };
    const closed = await this.table.write({
      update: keys.budget(month),
      set: expr(
        `${late ? 'SET #l = :late ' : ''}REMOVE reservations.#h ADD spent :spent, reserved :unreserve, committed :delta, #ds :spent, #dr :unreserve, #dc :delta`,
        {
          '#h': holder,
          '#ds': dayAttr('spent', reservation.day),
          '#dr': dayAttr('reserved', reservation.day),
          '#dc': dayAttr('committed', reservation.day),
          ...(late ? { '#l': lateAttr(holder) } : {}),
        },
        {
          ':spent': moved.spent,
          ':unreserve': moved.reserved,
          ':delta': moved.committed,
          ...(late ? { ':late': late } : {}),
        },
      ),
      if: expr('attribute_exists(reservations.#h)', { '#h': holder }),
    });
    if (!closed) return undefined;
    return { estimateUsd: toUsd(reservation.micros), spentUsd: toUsd(spent), day: reservation.day };
  }
}
