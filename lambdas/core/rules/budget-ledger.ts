/**
 * The budget ledger's rules, without I/O: amounts in micro-USD, the periods a reservation counts in, what a
 * refused reservation is explained by, what closing a reservation moves, and how a charge reported after a cancel
 * corrects what was counted. `store/budget.ts` applies them to the month's item; tests run them without a table.
 */

/** Limits in USD; 0 means no limit. */
export interface BudgetLimits {
  dailyUsd: number;
  monthlyUsd: number;
}

export type BudgetPeriodKind = 'daily' | 'monthly';

/** Why a reservation was refused: the limit that has no room, and what is left of it. */
export interface BudgetRefusal {
  reserved: false;
  /** The limit that has no room for the estimate (the daily one when both have none). */
  limit: BudgetPeriodKind;
  limitUsd: number;
  /** What is left of that limit (limit - spent - reserved), never below 0. */
  leftUsd: number;
  /** The UTC day (`YYYY-MM-DD`) or month (`YYYY-MM`) of that limit. */
  period: string;
}

export type ReserveOutcome =
  | {
      reserved: true /** The attempt had reserved before (a retried step): nothing was added. */;
      already: boolean;
    }
  | BudgetRefusal;

/** How an open reservation was closed. */
export interface Settlement {
  /** What the reservation held. */
  estimateUsd: number;
  /** What was counted as spent instead. */
  spentUsd: number;
  day: string;
}

/** What a charge reported after a cancel changed (see `BudgetStore.chargeLate`). */
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

/** An open reservation: the estimate an attempt holds, in micro-USD, and the UTC day it counts in. */
export interface Reservation {
  jobId: string;
  attempt: number;
  day: string;
  micros: number;
  at: string;
}

export interface BudgetPeriod extends BudgetTotals {
  month: string;
  days: Record<string, BudgetTotals>;
  reservations: Record<string, Reservation>;
}

/**
 * The budget's count of a cancelled attempt whose charge may still come: what it counted as spent and on which
 * day, and whether that is Runware's charge (`actual`) or still the estimate.
 */
export interface LateEntry {
  day: string;
  micros: number;
  actual: boolean;
}

const MICROS = 1_000_000;
/** Amounts are integers of micro-USD, so that many additions never drift. */
export const toMicros = (usd: number): number => Math.round(usd * MICROS);
export const toUsd = (micros: number): number => micros / MICROS;

export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);
export const utcMonth = (at: Date): string => at.toISOString().slice(0, 7);

/** The key of an attempt's reservation (and late count): one per job attempt. */
export const holderOf = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;

/** How many times a refused reservation is tried again when the read that explains it shows room. */
export const RESERVE_TRIES = 3;

/** How many times a late charge is written again after losing to a concurrent report of the same attempt. */
export const LATE_CHARGE_TRIES = 3;

/** A reservation lives in the month it was made in; it closes within a job's hard deadline (at most 7 days). */
const LOOK_BACK_MS = 8 * 86_400_000;

/** The months an attempt's budget items can be in at `now`: this one, and the one a reservation may date from. */
export function ledgerMonths(now: Date): string[] {
  return [...new Set([utcMonth(now), utcMonth(new Date(now.getTime() - LOOK_BACK_MS))])];
}

/** Attribute names of a day's totals inside its month's item, and of an attempt's late count. */
export const dayAttr = (kind: 'spent' | 'reserved' | 'committed', day: string): string => `${kind}@${day}`;
export const lateAttr = (holder: string): string => `late@${holder}`;
const DAY_ATTR = /^(spent|reserved)@(\d{4}-\d{2}-\d{2})$/;

/**
 * The most each period may have committed (spent + reserved) before a reservation of `micros`, for the write's
 * condition (conditions cannot add); undefined for a period without a limit. Undefined as a whole when the estimate
 * is larger than a whole limit: it never fits, and no write can help.
 */
export function reserveRooms(
  micros: number,
  limits: BudgetLimits,
): { daily: number | undefined; monthly: number | undefined } | undefined {
  const rooms = {
    daily: limits.dailyUsd > 0 ? toMicros(limits.dailyUsd) - micros : undefined,
    monthly: limits.monthlyUsd > 0 ? toMicros(limits.monthlyUsd) - micros : undefined,
  };
  return (rooms.daily ?? 0) < 0 || (rooms.monthly ?? 0) < 0 ? undefined : rooms;
}

/** The totals of a month's item: the month's, each day's (from its `spent@<day>` attributes), its reservations. */
export function periodOf(
  month: string,
  item: { spent: number; reserved: number; reservations: Record<string, Reservation> } & Record<
    string,
    unknown
  >,
): BudgetPeriod {
  const days: Record<string, BudgetTotals> = {};
  for (const [name, value] of Object.entries(item)) {
    const match = DAY_ATTR.exec(name);
    if (!match?.[1] || !match[2] || typeof value !== 'number') continue;
    const totals = days[match[2]] ?? { spentUsd: 0, reservedUsd: 0 };
    days[match[2]] = totals;
    if (match[1] === 'spent') totals.spentUsd = toUsd(value);
    else totals.reservedUsd = toUsd(value);
  }
  return {
    month,
    spentUsd: toUsd(item.spent),
    reservedUsd: toUsd(item.reserved),
    days,
    reservations: item.reservations,
  };
}

/** What is left of each limit at `at`, given the month's totals (infinite for no limit). */
export function leftOfLimits(
  at: Date,
  limits: BudgetLimits,
  period: BudgetPeriod,
): Record<BudgetPeriodKind, BudgetRefusal> {
  const day = utcDay(at);
  const left = (limitUsd: number, totals: BudgetTotals) =>
    limitUsd > 0
      ? Math.max(0, toUsd(toMicros(limitUsd) - toMicros(totals.spentUsd) - toMicros(totals.reservedUsd)))
      : Number.POSITIVE_INFINITY;
  return {
    daily: {
      reserved: false,
      limit: 'daily',
      limitUsd: limits.dailyUsd,
      leftUsd: left(limits.dailyUsd, period.days[day] ?? { spentUsd: 0, reservedUsd: 0 }),
      period: day,
    },
    monthly: {
      reserved: false,
      limit: 'monthly',
      limitUsd: limits.monthlyUsd,
      leftUsd: left(limits.monthlyUsd, period),
      period: period.month,
    },
  };
}

/**
 * Explains a refused reservation from what is left after it: the limit too short for the estimate (the daily one
 * when both are), `final`; or, when both show room (a reservation closed in between), the tighter one, not final:
 * the write is worth trying again.
 */
export function explainRefusal(
  left: Record<BudgetPeriodKind, BudgetRefusal>,
  estimateUsd: number,
): { refusal: BudgetRefusal; final: boolean } {
  const short = (['daily', 'monthly'] as const).find((kind) => left[kind].leftUsd < estimateUsd);
  if (short) return { refusal: left[short], final: true };
  return { refusal: left.daily.leftUsd <= left.monthly.leftUsd ? left.daily : left.monthly, final: false };
}

/** What closing a reservation of `reservedMicros` with `spentMicros` counted as spent adds to each total. */
export function closing(
  reservedMicros: number,
  spentMicros: number,
): { spent: number; reserved: number; committed: number } {
  return { spent: spentMicros, reserved: -reservedMicros, committed: spentMicros - reservedMicros };
}

/**
 * How a late charge of `micros` (Runware's charge, `actualUsd`) corrects the count `entry` kept for a cancelled
 * attempt: unchanged when that charge was counted already; otherwise the new entry, what the totals gain
 * (`delta`, negative when the estimate was higher) and what the cost metric adds.
 */
export function lateCorrection(
  entry: LateEntry,
  micros: number,
  actualUsd: number,
):
  | { unchanged: true; charge: LateCharge }
  | { unchanged: false; entry: LateEntry; delta: number; charge: LateCharge } {
  const previousUsd = toUsd(entry.micros);
  if (entry.actual && entry.micros === micros) {
    return { unchanged: true, charge: { previousUsd, spentUsd: actualUsd, newUsd: 0, day: entry.day } };
  }
  return {
    unchanged: false,
    entry: { day: entry.day, micros, actual: true },
    delta: micros - entry.micros,
    charge: {
      previousUsd,
      spentUsd: actualUsd,
      newUsd: toUsd(micros - (entry.actual ? entry.micros : 0)),
      day: entry.day,
    },
  };
}
