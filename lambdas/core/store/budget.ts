import * as z from 'zod';
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

/** Limits in USD; 0 means no limit. */
export interface BudgetLimits {
  dailyUsd: number;
  monthlyUsd: number;
}

export type BudgetPeriodKind = 'daily' | 'monthly';

export type ReserveOutcome =
  | {
      reserved: true /** The attempt had reserved before (a retried step): nothing was added. */;
      already: boolean;
    }
  | {
      reserved: false;
      /** The limit that has no room for the estimate (the daily one when both have none). */
      limit: BudgetPeriodKind;
      limitUsd: number;
      /** What is left of that limit (limit - spent - reserved), never below 0. */
      leftUsd: number;
      /** The UTC day (`YYYY-MM-DD`) or month (`YYYY-MM`) of that limit. */
      period: string;
    };

/** How an open reservation was closed. */
export interface Settlement {
  /** What the reservation held. */
  estimateUsd: number;
  /** What was counted as spent instead. */
  spentUsd: number;
  day: string;
}

/** What a charge reported after a cancel changed (see {@link BudgetStore.chargeLate}). */
export interface LateCharge {
  /** What the budget counted for the attempt before (its estimate, or an earlier late charge). */
  previousUsd: number;
  /** What it counts now: Runware's charge. */
  spentUsd: number;
  /**
   * Of the charge, what no earlier call reported (all of it the first time; the growth when another result of the
   * same task arrives; 0 for a repeated report): what the cost metric adds.
   */
  newUsd: number;
  day: string;
}

export interface BudgetTotals {
  spentUsd: number;
  reservedUsd: number;
}

export interface BudgetPeriod extends BudgetTotals {
  month: string;
  days: Record<string, BudgetTotals>;
  reservations: Record<string, Reservation>;
}

const ReservationSchema = z.object({
  jobId: z.string(),
  attempt: z.number(),
  day: z.string(),
  /** The estimate reserved, in micro-USD. */
  micros: z.number(),
  at: z.string(),
});
export type Reservation = z.infer<typeof ReservationSchema>;

/**
 * The budget's count of a cancelled attempt whose charge may still come: what it counted as spent and on which
 * day, and whether that is Runware's charge (`actual`) or still the estimate. A top-level attribute
 * `late@<jobId>#<attempt>` of the month's item, so the count and the total change in one conditional write.
 */
const LateEntrySchema = z.object({ day: z.string(), micros: z.number(), actual: z.boolean() });
type LateEntry = z.infer<typeof LateEntrySchema>;

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

const MICROS = 1_000_000;
const toMicros = (usd: number): number => Math.round(usd * MICROS);
const toUsd = (micros: number): number => micros / MICROS;

/** A reservation lives in the month it was made in; it closes within a job's hard deadline (at most 7 days). */
const LOOK_BACK_MS = 8 * 86_400_000;

export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);
export const utcMonth = (at: Date): string => at.toISOString().slice(0, 7);
const holderOf = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;

/** Attribute names of a day's totals inside its month's item. */
const dayAttr = (kind: 'spent' | 'reserved' | 'committed', day: string) => `${kind}@${day}`;
const lateAttr = (holder: string) => `late@${holder}`;
const DAY_ATTR = /^(spent|reserved)@(\d{4}-\d{2}-\d{2})$/;

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
    if (await this.find(holder)) return { reserved: true, already: true };
    let refusal: ReserveOutcome | undefined;
    // A refusal is explained from a read made after it; if that read shows room (a reservation was closed in
    // between), the write is tried again, a few times at most.
    for (let tries = 0; tries < 3; tries += 1) {
      const at = this.now();
      if (await this.tryReserve(holder, { jobId, attempt, at }, toMicros(estimateUsd), limits)) {
        return { reserved: true, already: false };
      }
      if (await this.find(holder)) return { reserved: true, already: true };
      const left = await this.left(at, limits);
      const short = (['daily', 'monthly'] as const).find((kind) => left[kind].leftUsd < estimateUsd);
      refusal = {
        reserved: false,
        ...left[short ?? (left.daily.leftUsd <= left.monthly.leftUsd ? 'daily' : 'monthly')],
      };
      if (short) return refusal;
    }
    return refusal ?? { reserved: false, ...(await this.left(this.now(), limits)).daily };
  }

  /** One conditional write: the reservation, if the day and the month have room and the attempt holds none. */
  private async tryReserve(
    holder: string,
    who: { jobId: string; attempt: number; at: Date },
    micros: number,
    limits: BudgetLimits,
  ): Promise<boolean> {
    const day = utcDay(who.at);
    const month = utcMonth(who.at);
    const rooms = {
      daily: limits.dailyUsd > 0 ? toMicros(limits.dailyUsd) - micros : undefined,
      monthly: limits.monthlyUsd > 0 ? toMicros(limits.monthlyUsd) - micros : undefined,
    };
    // An estimate larger than a whole limit never fits: no write can help.
    if ((rooms.daily ?? 0) < 0 || (rooms.monthly ?? 0) < 0) return false;
    await this.table.write({
      put: { ...keys.budget(month), month, spent: 0, reserved: 0, committed: 0, reservations: {} },
      if: itemIsNew,
    });
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

  /** What is left of each limit at `at` (infinite for no limit). */
  private async left(
    at: Date,
    limits: BudgetLimits,
  ): Promise<Record<BudgetPeriodKind, Omit<Extract<ReserveOutcome, { reserved: false }>, 'reserved'>>> {
    const day = utcDay(at);
    const period = await this.month(utcMonth(at));
    const left = (limitUsd: number, totals: BudgetTotals) =>
      limitUsd > 0
        ? Math.max(0, toUsd(toMicros(limitUsd) - toMicros(totals.spentUsd) - toMicros(totals.reservedUsd)))
        : Number.POSITIVE_INFINITY;
    return {
      daily: {
        limit: 'daily',
        limitUsd: limits.dailyUsd,
        leftUsd: left(limits.dailyUsd, period.days[day] ?? { spentUsd: 0, reservedUsd: 0 }),
        period: day,
      },
      monthly: {
        limit: 'monthly',
        limitUsd: limits.monthlyUsd,
        leftUsd: left(limits.monthlyUsd, period),
        period: period.month,
      },
    };
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
    for (let tries = 0; tries < 3; tries += 1) {
      const late = await this.findLate(holder);
      if (late) {
        const { month, entry } = late;
        const previousUsd = toUsd(entry.micros);
        const newUsd = toUsd(micros - (entry.actual ? entry.micros : 0));
        if (entry.actual && entry.micros === micros)
          return { previousUsd, spentUsd: actualUsd, newUsd: 0, day: entry.day };
        const updated = await this.countLate(
          month,
          holder,
          { day: entry.day, micros, actual: true },
          micros - entry.micros,
          expr(
            '#l.micros = :prev AND #l.actual = :was',
            { '#l': lateAttr(holder) },
            {
              ':prev': entry.micros,
              ':was': entry.actual,
            },
          ),
        );
        if (updated) return { previousUsd, spentUsd: actualUsd, newUsd, day: entry.day };
        continue;
      }
      // The attempt still holds its reservation (the fail step has not closed it yet): closed with the charge.
      const settled = await this.close(holder, () => micros, true);
      if (settled)
        return { previousUsd: settled.estimateUsd, spentUsd: actualUsd, newUsd: actualUsd, day: settled.day };
      if (await this.find(holder)) continue;
      // It never reserved (validated before estimates were recorded): the charge is counted today.
      const at = this.now();
      const day = utcDay(at);
      const month = utcMonth(at);
      await this.table.write({
        put: { ...keys.budget(month), month, spent: 0, reserved: 0, committed: 0, reservations: {} },
        if: itemIsNew,
      });
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
    const days: Record<string, BudgetTotals> = {};
    for (const [name, value] of Object.entries(item ?? {})) {
      const match = DAY_ATTR.exec(name);
      if (!match?.[1] || !match[2] || typeof value !== 'number') continue;
      const totals = days[match[2]] ?? { spentUsd: 0, reservedUsd: 0 };
      days[match[2]] = totals;
      if (match[1] === 'spent') totals.spentUsd = toUsd(value);
      else totals.reservedUsd = toUsd(value);
    }
    return {
      month,
      spentUsd: toUsd(item?.spent ?? 0),
      reservedUsd: toUsd(item?.reserved ?? 0),
      days,
      reservations: item?.reservations ?? {},
    };
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

  /** The months an attempt's budget items can be in: this one, and the one a reservation may still date from. */
  private months(): string[] {
    const now = this.now();
    return [...new Set([utcMonth(now), utcMonth(new Date(now.getTime() - LOOK_BACK_MS))])];
  }

  /** The open reservation of an attempt and the month it is in, if any. */
  private async find(holder: string): Promise<{ month: string; reservation: Reservation } | undefined> {
    for (const month of this.months()) {
      const item = await this.table.get(keys.budget(month), BudgetItemSchema);
      const reservation = item?.reservations[holder];
      if (reservation) return { month, reservation };
    }
    return undefined;
  }

  /** The count kept for a cancelled attempt's late charge, and the month it is in, if any. */
  private async findLate(holder: string): Promise<{ month: string; entry: LateEntry } | undefined> {
    for (const month of this.months()) {
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
    const found = await this.find(holder);
    if (!found) return undefined;
    const { month, reservation } = found;
    const spent = spentMicros(reservation);
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
          ':spent': spent,
          ':unreserve': -reservation.micros,
          ':delta': spent - reservation.micros,
          ...(late ? { ':late': late } : {}),
        },
      ),
      if: expr('attribute_exists(reservations.#h)', { '#h': holder }),
    });
    if (!closed) return undefined;
    return { estimateUsd: toUsd(reservation.micros), spentUsd: toUsd(spent), day: reservation.day };
  }
}
