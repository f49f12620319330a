/** Shared pieces of the benchmarks: process-tree sampling, statistics, the machine. */

import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/** Processes in this process's tree (itself and every descendant) and their resident memory together. */
export function sampleTree(root = process.pid): { processes: number; rssMiB: number } {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,rss='], { encoding: 'utf8' });
  const rows = out
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .map(([pid = 0, ppid = 0, rss = 0]) => ({ pid, ppid, rss }));
  const children = new Map<number, number[]>();
  for (const row of rows) children.set(row.ppid, [...(children.get(row.ppid) ?? []), row.pid]);
  const rssOf = new Map(rows.map((r) => [r.pid, r.rss]));
  const tree = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop() as number;
    if (tree.has(pid)) continue;
    tree.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  let rssKiB = 0;
  for (const pid of tree) rssKiB += rssOf.get(pid) ?? 0;
  return { processes: tree.size, rssMiB: Math.round(rssKiB / 1024) };
}

/** The q-quantile (0..1) of `values`, nearest rank; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** Median and spread (min..max) of repeated measurements. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: readonly number[]): Spread {
  return {
    median: quantile(values, 0.5),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
    n: values.length,
  };
}

export function machine(): { cpu: string; cores: number; memoryGiB: number; node: string } {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}
