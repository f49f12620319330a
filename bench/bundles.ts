/** Figure 4's measurement: a Lambda bundle's size and the time its module takes to import in a fresh Node process. */

import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LocalFunction } from '../local/template.js';
import { type Spread, spread } from './support.js';

export interface BundleTimes {
  bytes: number;
  /** Wall time of the import, ms. */
  initMs: Spread;
  /** CPU time of the same import, ms: what the wall time is on an idle machine. */
  initCpuMs: Spread;
  error?: string;
}

/**
 * Imports `fn`'s bundle `runs` times, each in a fresh Node process with the function's environment (and the
 * local endpoints' `clientEnvironment`), `NODE_OPTIONS` included, as Lambda would load it.
 */
export function timeBundleImport(
  fn: LocalFunction,
  clientEnvironment: Record<string, string>,
  runs: number,
): BundleTimes {
  const file = join(fn.assetDir, 'index.mjs');
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let error: string | undefined;
  for (let i = 0; i < runs && !error; i++) {
    const run = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        'const c = process.cpuUsage(); const t = performance.now(); await import(process.env.BENCH_ENTRY); ' +
          'const u = process.cpuUsage(c); console.log(performance.now() - t, (u.user + u.system) / 1000);',
      ],
      {
        encoding: 'utf8',
        timeout: 30_000,
        env: {
          PATH: process.env.PATH ?? '',
          ...clientEnvironment,
          ...fn.environment,
          BENCH_ENTRY: pathToFileURL(file).href,
        },
      },
    );
    const [ms = Number.NaN, cpuMs = Number.NaN] = (run.stdout.trim().split('\n').at(-1) ?? '')
      .split(' ')
      .map(Number);
    if (run.status !== 0 || Number.isNaN(ms) || Number.isNaN(cpuMs))
      error = (run.stderr || run.stdout).slice(0, 300);
    else {
      times.push(ms);
      cpuTimes.push(cpuMs);
    }
  }
  const measured: BundleTimes = {
    bytes: statSync(file).size,
    initMs: spread(times),
    initCpuMs: spread(cpuTimes),
    ...(error ? { error } : {}),
  };
  return measured;
}
