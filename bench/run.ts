/**
 * `npm run bench`: the pipeline's performance figures in local mode, printed as one table (and written to
 * bench/results/latest.json), each with its median and spread, the machine and the date.
 *
 * 1. Orchestration overhead: OVERHEAD_JOBS jobs one after another; for each, the time from the second file's PUT
 *    returning to the video being in the output bucket, minus the settle wait and the simulator's time on the
 *    task (accepted -> finished, which holds its input download and render); and the time between the job
 *    record's stage timestamps. Beside it the user-side wait (bench/user-wait.ts): USER_WAIT_JOBS jobs on a
 *    second stack with `settleSeconds` 0, minus only the simulator's ffmpeg work, by stage.
 * 2. A burst: BURST_PAIRS pairs dropped at once against a simulator capacity of CAPACITY tasks in flight.
 * 3. Delivery of a VIDEO_MB video by the deliver core against the least-code baseline (bench/delivery.ts).
 * 4. Each Lambda bundle's size and its module initialisation time (wall and CPU) in a fresh Node process.
 * 5. AWS cost per job (without Runware's charge) from the requests counted during figure 1.
 *
 * Targets are reported, never asserted: the bench fails only if it cannot measure. Every loop is bounded
 * (counts and time-outs); everything it starts is stopped before it exits. Budget: under 15 minutes on 2 cores.
 * Environment overrides: OVERHEAD_JOBS, USER_WAIT_JOBS, USER_WAIT_POLL_MS, BURST_PAIRS, CAPACITY, BURST_TIMEOUT_S, VIDEO_MB, DELIVERY_RUNS,
 * INIT_RUNS, SKIP (comma-separated figure numbers to leave out).
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { LocalStack } from '../local/stack.js';
import { storesOf } from '../test/support/local.js';
import { type BundleTimes, timeBundleImport } from './bundles.js';
import { measureDelivery } from './figure-delivery.js';
import {
  countRequestsTo,
  counts,
  PRICES,
  peakInFlight,
  RUNWARE_VIDEO_SECONDS,
  setSimulatorCapacity,
  tagBenchRequests,
  timeLambdas,
} from './measure.js';
import {
  awaitPairs,
  dropPairs,
  endCleanlyAfterStop,
  fmt,
  machine,
  makeSamples,
  quantile,
  type Row,
  round,
  sampleTreePeak,
  spread,
  variant,
} from './support.js';
import { measureUserWait } from './user-wait.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const OVERHEAD_JOBS = env('OVERHEAD_JOBS', 30);
const USER_WAIT_JOBS = env('USER_WAIT_JOBS', OVERHEAD_JOBS);
const BURST_PAIRS = env('BURST_PAIRS', 200);
const CAPACITY = env('CAPACITY', 5);
// 200 pairs through 5 slots take about 6 minutes here (35 a minute); 7 leave room for a loaded machine and keep the
// whole bench under 15.
const BURST_TIMEOUT_S = env('BURST_TIMEOUT_S', 420);
const VIDEO_MB = env('VIDEO_MB', 1024);
const DELIVERY_RUNS = env('DELIVERY_RUNS', 3);
const INIT_RUNS = env('INIT_RUNS', 5);
const SKIP = new Set((process.env.SKIP ?? '').split(',').filter(Boolean).map(Number));
/** Settle wait: short, and subtracted from each of figure 1's jobs. */
const SETTLE_SECONDS = 1;
/**
 * CDK context of the stack (one synth for figures 1, 2, 4, 5: a synth costs about a minute and a half here).
 * `maxConcurrentTasks` is the deploy setting of the cap on Runware tasks in flight; a synth that does not know
 * it ignores it (lib/settings.ts reads only the settings it knows). Figure 1 runs one job at a time, so the
 * cap does not touch it.
 */
const STACK_CONTEXT: Record<string, string> = {
  settleSeconds: String(SETTLE_SECONDS),
  maxConcurrentTasks: String(CAPACITY),
};
/** Figure 3's second and later runs are left out once the bench has run this long (the budget is 15 min). */
const BUDGET_S = env('BUDGET_S', 780);

// --------------------------------------------------------------------------------------- helpers
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function put(stack: LocalStack, key: string, body: Buffer): Promise<void> {
  await stack.s3.send(
    new PutObjectCommand({ Bucket: stack.names.inputBucket, Key: `inbox/${key}`, Body: body }),
  );
}

async function exists(stack: LocalStack, key: string): Promise<boolean> {
  try {
    await stack.s3.send(new HeadObjectCommand({ Bucket: stack.names.outputBucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

function executionOf(stack: LocalStack, stem: string) {
  return stack.sfn.listExecutions().find((e) => (JSON.parse(e.input) as { stem: string }).stem === stem);
}

const rows: Row[] = [];
const report: Record<string, unknown> = { date: new Date().toISOString(), machine: machine() };

// ------------------------------------------------------------------------------------ the samples
const afterStop = endCleanlyAfterStop();
const { dir, portrait, voice } = await makeSamples('avatar-bench-');
const benchStarted = Date.now();
const progress = (line: string) =>
  console.error(`bench [${round((Date.now() - benchStarted) / 1000)} s] ${line}`);

// ------------------------------------------------------------- figures 4, 1 and 5: one quiet stack
// OVERHEAD_JOBS=0 leaves figure 1's overhead line out (USER_WAIT_JOBS then still measures the user side).
const overheadLine = !SKIP.has(1) && OVERHEAD_JOBS > 0;
if (overheadLine || !SKIP.has(2) || !SKIP.has(4) || !SKIP.has(5)) {
  progress('starting the local stack (synth)...');
  const stack = await LocalStack.start({
    workDir: join(dir, 'stack'),
    context: STACK_CONTEXT,
    removeWorkDirOnStop: true,
  });
  try {
    tagBenchRequests(stack);
    const lambdaRuns = timeLambdas(stack);

    if (!SKIP.has(4)) {
      progress(`figure 4: bundle sizes and module initialisation (${INIT_RUNS} fresh processes each)`);
      const bundles: Record<string, BundleTimes> = {};
      for (const fn of Object.values(stack.assembly.functions)) {
        const measured = timeBundleImport(fn, stack.clientEnvironment(), INIT_RUNS);
        bundles[fn.name] = measured;
        const init = fmt(measured.initMs, 'ms');
        rows.push({
          figure: '4 bundle',
          metric: `${fn.name}: size / init p50 (CPU p50 ${round(measured.initCpuMs.median)} ms)`,
          median: `${round(measured.bytes / 1000)} kB / ${init.median}`,
          spread: init.spread,
          target: '< 1000 kB / < 150 ms',
          met: measured.bytes < 1_000_000 && measured.initMs.median < 150,
        });
      }
      report.bundles = bundles;
    }

    if (overheadLine || !SKIP.has(5)) {
      progress(`figure 1: ${OVERHEAD_JOBS} jobs one after another`);
      await stack.idle();
      const eventsBefore = stack.events.length;
      lambdaRuns.length = 0;
      countRequestsTo({
        s3Port: Number(new URL(stack.endpoints.s3).port),
        dynamoPort: Number(new URL(stack.endpoints.dynamodb).port),
        webhookPort: Number(new URL(stack.endpoints.webhook).port),
      });
      const overheads: number[] = [];
      const totals: number[] = [];
      const renders: number[] = [];
      const stages: Record<string, number[]> = {};
      let failed = 0;
      for (let i = 0; i < OVERHEAD_JOBS; i++) {
        const stem = `overhead/job-${String(i).padStart(3, '0')}`;
        await put(stack, `${stem}.png`, portrait);
        await put(stack, `${stem}.wav`, variant(voice, i));
        const landed = Date.now();
        let delivered = 0;
        while (Date.now() - landed < 60_000) {
          if (await exists(stack, `${stem}.mp4`)) {
            delivered = Date.now();
            break;
          }
          const execution = executionOf(stack, stem);
          if (execution && execution.status !== 'RUNNING') break;
          await sleep(20);
        }
        await stack.idle();
        if (!delivered) {
          failed += 1;
          continue;
        }
        const tasks = [...(stack.simulator?.tasks.values() ?? [])].filter(
          (t) => t.acceptedAt.getTime() >= landed,
        );
        const render = tasks.reduce(
          (sum, t) => sum + ((t.finishedAt?.getTime() ?? t.acceptedAt.getTime()) - t.acceptedAt.getTime()),
          0,
        );
        const total = delivered - landed;
        totals.push(total);
        renders.push(render);
        overheads.push(total - SETTLE_SECONDS * 1000 - render);
        const execution = executionOf(stack, stem);
        const { jobId } = JSON.parse(execution?.input ?? '{}') as { jobId?: string };
        const job = jobId ? await storesOf(stack).jobs.get(jobId) : undefined;
        const times = Object.entries(job?.stages ?? {})
          .map(([stage, at]) => [stage, Date.parse(at as string)] as const)
          .sort((a, b) => a[1] - b[1]);
        let previous: readonly [string, number] = ['second file landed', landed];
        for (const current of times) {
          const name = `${previous[0]} → ${current[0]}`;
          stages[name] = [...(stages[name] ?? []), current[1] - previous[1]];
          previous = current;
        }
        const last = `${previous[0]} → video in bucket`;
        stages[last] = [...(stages[last] ?? []), delivered - previous[1]];
      }
      countRequestsTo(undefined);
      const jobs = overheads.length;
      const overhead = {
        p50: quantile(overheads, 0.5),
        p95: quantile(overheads, 0.95),
        ...spread(overheads),
      };
      report.overhead = {
        jobs: OVERHEAD_JOBS,
        delivered: jobs,
        failed,
        settleMs: SETTLE_SECONDS * 1000,
        overheadMs: overhead,
        totalMs: spread(totals),
        simulatorMs: spread(renders),
        stagesMs: Object.fromEntries(
          Object.entries(stages).map(([k, v]) => [k, { p50: quantile(v, 0.5), p95: quantile(v, 0.95) }]),
        ),
      };
      if (!SKIP.has(1)) {
        rows.push({
          figure: '1 overhead',
          metric: `overhead p50 (p95 ${round(overhead.p95)} ms), ${jobs}/${OVERHEAD_JOBS} delivered`,
          median: `${round(overhead.p50)} ms`,
          spread: `${round(overhead.min)}–${round(overhead.max)} (n=${jobs})`,
          target: '< 500 ms',
          met: overhead.p50 < 500,
        });
        for (const [name, values] of Object.entries(stages)) {
          if (values.length < jobs / 2) continue;
          rows.push({
            figure: '1 stage',
            metric: `${name} (p95 ${round(quantile(values, 0.95))} ms)`,
            ...fmt(spread(values), 'ms'),
            target: '',
          });
        }
      }

      // Figure 5 from what figure 1's jobs cost.
      const transitions = stack.sfn
        .listExecutions()
        .filter(
          (e) =>
            e.startDate.getTime() >= benchStarted &&
            (JSON.parse(e.input) as { stem: string }).stem.startsWith('overhead/'),
        )
        .reduce((sum, e) => sum + e.states.length, 0);
      const gbSeconds = lambdaRuns.reduce(
        (sum, run) => sum + (stack.assembly.functions[run.name].memoryMb / 1024) * (Math.ceil(run.ms) / 1000),
        0,
      );
      const perJob = (n: number) => n / Math.max(1, jobs);
      const usage = {
        stateTransitions: perJob(transitions),
        lambdaRequests: perJob(lambdaRuns.length),
        lambdaGbSeconds: perJob(gbSeconds),
        dynamoWriteUnits: perJob(counts.dynamoWrite),
        dynamoReadUnits: perJob(counts.dynamoRead),
        s3Tier1: perJob(counts.s3Tier1),
        s3Tier2: perJob(counts.s3Tier2),
        secretsCalls: perJob(counts.secrets),
        eventBridgeEvents: perJob(stack.events.length - eventsBefore),
        httpApiRequests: perJob(counts.httpApi),
      };
      const costs = {
        stepFunctions: usage.stateTransitions * PRICES.stateTransition,
        lambda: usage.lambdaGbSeconds * PRICES.lambdaGbSecond + usage.lambdaRequests * PRICES.lambdaRequest,
        dynamodb:
          usage.dynamoWriteUnits * PRICES.dynamoWriteUnit + usage.dynamoReadUnits * PRICES.dynamoReadUnit,
        s3: usage.s3Tier1 * PRICES.s3Tier1 + usage.s3Tier2 * PRICES.s3Tier2,
        secretsManager: usage.secretsCalls * PRICES.secretsCall,
        eventBridge: usage.eventBridgeEvents * PRICES.eventBridgeEvent,
        httpApi: usage.httpApiRequests * PRICES.httpApiRequest,
      };
      const total = Object.values(costs).reduce((a, b) => a + b, 0);
      const runware = PRICES.runwarePerSecond * RUNWARE_VIDEO_SECONDS;
      report.cost = {
        perJobUsage: usage,
        perJobUsd: costs,
        totalUsd: total,
        runwareUsd: runware,
        prices: PRICES,
      };
      if (!SKIP.has(5)) {
        const biggest = Object.entries(costs).sort((a, b) => b[1] - a[1])[0];
        rows.push({
          figure: '5 cost',
          metric: `AWS USD per job (${biggest?.[0]} ${round(((biggest?.[1] ?? 0) / total) * 100)} %)`,
          median: `${total.toFixed(6)}`,
          spread: `n=${jobs} jobs`,
          target: '< 0.0005',
          met: total < 0.0005,
        });
        rows.push({
          figure: '5 cost',
          metric: `share of Runware's USD ${runware.toFixed(2)} for a ${RUNWARE_VIDEO_SECONDS} s video`,
          median: `${((total / runware) * 100).toFixed(4)} %`,
          spread: '',
          target: '',
        });
      }
    }
    if (!SKIP.has(2)) {
      progress(`figure 2: ${BURST_PAIRS} pairs at once, simulator capacity ${CAPACITY}`);
      await stack.idle();
      const acceptedBefore = stack.simulator?.acceptedTasks() ?? 0;
      const tasksBefore = new Set(stack.simulator?.tasks.keys() ?? []);
      const sampler = sampleTreePeak();
      const { peak } = sampler;
      try {
        const capacity = setSimulatorCapacity(stack, CAPACITY);
        const started = Date.now();
        await dropPairs(stack, 'burst', BURST_PAIRS, portrait, voice);
        const { delivered, errors, seconds } = await awaitPairs(
          stack,
          'burst',
          BURST_PAIRS,
          started,
          BURST_TIMEOUT_S,
        );
        sampler.stop();
        const errorKeys = errors.map((e) => e.key);
        const failures: Record<string, number> = {};
        for (const error of errors) failures[error.code ?? '?'] = (failures[error.code ?? '?'] ?? 0) + 1;
        const accepted = (stack.simulator?.acceptedTasks() ?? 0) - acceptedBefore;
        const inFlight = peakInFlight(stack, tasksBefore);
        report.burst = {
          pairs: BURST_PAIRS,
          capacity: CAPACITY,
          context: STACK_CONTEXT,
          delivered,
          failed: errorKeys.length,
          failures,
          seconds,
          jobsPerMinute: (delivered / seconds) * 60,
          tasksAccepted: accepted,
          refused429: capacity.refused,
          peakInFlight: inFlight,
          peakTree: peak,
          lambdaProcesses: stack.lambdas.peak,
        };
        const busy = failures.RUNWARE_BUSY ?? 0;
        const one = (metric: string, median: string, target: string, met?: boolean) =>
          rows.push({
            figure: '2 burst',
            metric,
            median,
            spread: 'n=1',
            target,
            ...(met === undefined ? {} : { met }),
          });
        one(
          `delivered / failed of ${BURST_PAIRS} (${
            Object.entries(failures)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || 'no failure'
          })`,
          `${delivered} / ${errorKeys.length}`,
          `${BURST_PAIRS} / 0, no RUNWARE_BUSY`,
          delivered === BURST_PAIRS && busy === 0,
        );
        one('time until all ended', `${round(seconds, 1)} s`, '');
        one('jobs per minute', `${round((delivered / seconds) * 60, 1)}`, '');
        one(
          `tasks accepted (429 answers: ${capacity.refused})`,
          `${accepted}`,
          `${BURST_PAIRS}`,
          accepted === BURST_PAIRS,
        );
        one(
          `peak tasks in flight (capacity ${CAPACITY})`,
          `${inFlight}`,
          `≤ ${CAPACITY}`,
          inFlight <= CAPACITY,
        );
        one(`peak local stack RSS (${peak.processes} processes)`, `${round(peak.rssMiB / 1024, 2)} GiB`, '');
      } finally {
        sampler.stop();
      }
    }
  } finally {
    countRequestsTo(undefined);
    await stack.stop();
    afterStop.stopped();
  }
}

// ------------------------------------------------- figure 1, user side: a second stack with settleSeconds 0
if (!SKIP.has(1) && USER_WAIT_JOBS > 0) {
  progress(`figure 1, user side: starting a stack with settleSeconds 0 (synth), then ${USER_WAIT_JOBS} jobs`);
  const stack = await LocalStack.start({
    workDir: join(dir, 'user-wait'),
    context: { ...STACK_CONTEXT, settleSeconds: '0' },
    removeWorkDirOnStop: true,
  });
  try {
    tagBenchRequests(stack);
    const measured = await measureUserWait(stack, { jobs: USER_WAIT_JOBS, portrait, voice });
    report.userWait = measured.report;
    // Beside figure 1's other lines.
    const after = rows.findLastIndex((r) => r.figure.startsWith('1 '));
    rows.splice(after < 0 ? rows.length : after + 1, 0, ...measured.rows);
  } finally {
    await stack.stop();
    afterStop.stopped();
  }
}

// ------------------------------------------------------------------------------ figure 3: delivery
if (!SKIP.has(3)) {
  const delivery = measureDelivery({
    videoMb: VIDEO_MB,
    runs: DELIVERY_RUNS,
    outOfTime: () => (Date.now() - benchStarted) / 1000 > BUDGET_S,
    progress,
  });
  report.delivery = delivery.report;
  rows.push(...delivery.rows);
}

// ---------------------------------------------------------------------------------------- report
const m = machine();
report.seconds = (Date.now() - benchStarted) / 1000;
report.table = rows;
const header = `| figure | metric | median | spread (min–max) | target | met |\n| --- | --- | --- | --- | --- | --- |`;
const lines = rows.map(
  (r) =>
    `| ${r.figure} | ${r.metric} | ${r.median} | ${r.spread} | ${r.target} | ${r.met === undefined ? '' : r.met ? 'yes' : 'NO'} |`,
);
console.log(
  `avatar-pipeline bench, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}; ${round(
    (Date.now() - benchStarted) / 1000,
  )} s\n`,
);
console.log([header, ...lines].join('\n'));
const out = join(dirname(new URL(import.meta.url).pathname), 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`\n(written to bench/results/latest.json)`);
