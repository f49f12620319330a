/**
 * Benchmark: a batch dropped at once into local mode, the way `npm start` runs it.
 *
 * Starts the local stack (the Runware simulator included), drops PAIRS portrait + voice pairs into the inbox at
 * the same moment (each voice track differs by one sample, so each pair is its own job), and waits until every
 * job has a video or an error file in the output bucket, or TIMEOUT_S passes. Every second it samples the process
 * tree of this benchmark (the stack, its Lambda processes, the simulator's ffmpeg runs): the peak number of
 * processes and the peak resident memory of the whole tree are what the local Lambda host's concurrency limits
 * are meant to bound. Prints one JSON object; exits non-zero if a job is missing or failed.
 * Run: `npx tsx bench/burst.ts` (PAIRS and TIMEOUT_S override the defaults).
 */

import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { LocalStack } from '../local/stack.js';
import {
  awaitPairs,
  dropPairs,
  endCleanlyAfterStop,
  makeSamples,
  sampleTree,
  sampleTreePeak,
} from './support.js';

const PAIRS = Number(process.env.PAIRS ?? 50);
const TIMEOUT_S = Number(process.env.TIMEOUT_S ?? 600);
const PREFIX = 'burst';

const afterStop = endCleanlyAfterStop();
const { dir, portrait, voice } = await makeSamples('avatar-burst-');

const stack = await LocalStack.start({
  workDir: join(dir, 'stack'),
  context: { settleSeconds: '2' },
  removeWorkDirOnStop: true,
});
const idle = sampleTree();
const sampler = sampleTreePeak();
const { peak } = sampler;

try {
  const started = Date.now();
  await dropPairs(stack, PREFIX, PAIRS, portrait, voice);
  const { delivered, errors, seconds } = await awaitPairs(stack, PREFIX, PAIRS, started, TIMEOUT_S);
  sampler.stop();
  const failed = errors.length;
  // Why jobs failed: their error files, counted by stage and code, with one message of each.
  const failures: Record<string, { count: number; message: string }> = {};
  for (const error of errors) {
    const kind = `${error.stage}/${error.code}`;
    failures[kind] = {
      count: (failures[kind]?.count ?? 0) + 1,
      message: String(error.message).slice(0, 300),
    };
  }
  const report = {
    bench: 'burst',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    pairs: PAIRS,
    delivered,
    failed,
    missing: PAIRS - delivered - failed,
    failures,
    seconds: Math.round(seconds * 10) / 10,
    jobsPerMinute: Math.round((delivered / seconds) * 60 * 10) / 10,
    idleTree: idle,
    peakTree: peak,
    lambdaProcesses: stack.lambdas.peak,
    lambdaWaits: Object.fromEntries(
      Object.entries(stack.lambdas.waits).map(([name, w]) => [
        name,
        { started: w.started, meanMs: Math.round(w.totalMs / w.started), maxMs: w.maxMs },
      ]),
    ),
    renders: stack.simulator?.renders,
  };
  console.log(JSON.stringify(report, null, 2));
  process.exitCode = delivered === PAIRS ? 0 : 1;
} finally {
  sampler.stop();
  await stack.stop();
  afterStop.stopped();
}
