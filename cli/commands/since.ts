import type { JobRecord } from '../../lambdas/core/job.js';
import { CliError, EXIT } from '../errors.js';
import type { Target } from '../target.js';

/** `2026-11-01`, an ISO time, or a span back from now: `90m`, `24h`, `7d`. */
export function parseSince(value: string | undefined, now = new Date()): Date | undefined {
  if (value === undefined) return undefined;
  const span = /^(\d+)([mhd])$/.exec(value);
  if (span) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[span[2] as 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(span[1]) * unit);
  }
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw new CliError(
      `--since must be a date, an ISO time or a span like 24h or 7d (got "${value}").`,
      EXIT.usage,
      'USAGE',
    );
  return new Date(at);
}

export async function jobsSince(
  target: Target,
  since: Date | undefined,
): Promise<{ jobs: JobRecord[]; complete: boolean }> {
  const { items, complete } = await target.jobs.list();
  const jobs = items
    .filter((j) => !since || Date.parse(j.createdAt) >= since.getTime())
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  return { jobs, complete };
}

export const partial = (complete: boolean) =>
  complete ? '' : '\n(The listing stopped at the scan limit: narrow it with --since.)';
