/**
 * Figure 1's user-side line: the wait a user sees beyond the render. For each of `jobs` jobs one after another
 * (on a stack synthesized with `settleSeconds` 0), the time from the second input's PutObject being acknowledged
 * to the video being visible under its shown name in the output bucket (a HeadObject every few ms from outside),
 * minus only the Runware simulator's ffmpeg work on the task (probing the inputs, the still, the render: from its
 * inputs downloaded to the task finished). Nothing else is subtracted.
 *
 * The stages add up to the whole wait, from timestamps taken outside the functions: when each Lambda invocation of
 * the job started and ended in the local host, and when the simulator accepted the task, had its inputs and
 * finished it.
 */
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { LocalStack } from '../local/stack.js';
import type { FunctionName } from '../local/template.js';
import { summarizeCalls, timeCalls } from './call-times.js';
import { fmt, quantile, type Row, round, spread, variant } from './support.js';

/**
 * How often the output bucket is asked whether the video is visible, in ms (plus a HeadObject's own time). Every
 * poll is served by the same process as the stack's emulators: at 5 ms the polling alone was a large share of
 * that process's CPU time (s3rver answering HeadObject 404s), which slowed the jobs it measured.
 */
const POLL_MS = Number(process.env.USER_WAIT_POLL_MS ?? 10);
const JOB_TIMEOUT_MS = 60_000;

/** The stages, in order; each runs from the end of the one before. `render` is the part subtracted. */
export const USER_STAGES = [
  'ingest + start (→ validate runs)',
  'validate',
  'wait-for-slot (→ submit runs)',
  'submit (→ task accepted)',
  'simulator fetches the inputs',
  'render (subtracted)',
  'webhook + record (→ record ends)',
  'deliver (→ video visible)',
] as const;
type Stage = (typeof USER_STAGES)[number];

interface Run {
  name: FunctionName;
  waitForSlot: boolean;
  jobId: string;
  startedAt: number;
  endedAt: number;
}

/** Records when each invocation that carries a `jobId` started running and ended. */
function recordRuns(stack: LocalStack): { runs: Run[]; stop(): void } {
  const runs: Run[] = [];
  const invoke = stack.lambdas.invoke;
  stack.lambdas.invoke = (name, event, options = {}) => {
    const { jobId, waitForSlot } = (event ?? {}) as { jobId?: unknown; waitForSlot?: unknown };
    let startedAt = 0;
    const done = () => {
      if (startedAt && typeof jobId === 'string')
        runs.push({ name, waitForSlot: waitForSlot === true, jobId, startedAt, endedAt: Date.now() });
    };
    const promise = invoke.call(stack.lambdas, name, event, {
      ...options,
      onStart: () => {
        startedAt = Date.now();
        options.onStart?.();
      },
    });
    promise.then(done, done);
    return promise;
  };
  return {
    runs,
    stop: () => {
      stack.lambdas.invoke = invoke;
    },
  };
}

async function visible(stack: LocalStack, key: string): Promise<boolean> {
  try {
    await stack.s3.send(new HeadObjectCommand({ Bucket: stack.names.outputBucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface UserWait {
  rows: Row[];
  report: Record<string, unknown>;
}

/** Runs `jobs` jobs one after another on `stack` (which must have `settleSeconds` 0) and measures the user's wait. */
export async function measureUserWait(
  stack: LocalStack,
  { jobs, portrait, voice }: { jobs: number; portrait: Buffer; voice: Buffer },
): Promise<UserWait> {
  await stack.idle();
  const recorder = recordRuns(stack);
  const callTimes = timeCalls(stack);
  const waits: number[] = [];
  const totals: number[] = [];
  const renders: number[] = [];
  const ffmpegRenders: number[] = [];
  const stages = Object.fromEntries(USER_STAGES.map((s) => [s, [] as number[]])) as Record<Stage, number[]>;
  const runMs: Record<string, number[]> = {};
  let failed = 0;
  try {
    for (let i = 0; i < jobs; i++) {
      const stem = `user-wait/job-${String(i).padStart(3, '0')}`;
      const put = (key: string, body: Buffer) =>
        stack.s3.send(
          new PutObjectCommand({ Bucket: stack.names.inputBucket, Key: `inbox/${key}`, Body: body }),
        );
      await put(`${stem}.png`, portrait);
      await put(`${stem}.wav`, variant(voice, i));
      const landed = Date.now();
      let shown = 0;
      for (let polls = 0; Date.now() - landed < JOB_TIMEOUT_MS; polls++) {
        if (await visible(stack, `${stem}.mp4`)) {
          shown = Date.now();
          break;
        }
        if (polls % 20 === 19) {
          const execution = executionOf(stack, stem);
          if (execution && execution.status !== 'RUNNING') break;
        }
        await sleep(POLL_MS);
      }
      await stack.idle();
      const jobId = executionOf(stack, stem)?.jobId;
      const task = [...(stack.simulator?.tasks.values() ?? [])].find((t) => t.acceptedAt.getTime() >= landed);
      const runs = recorder.runs.filter((r) => r.jobId === jobId);
      const first = (name: FunctionName, waitForSlot = false) =>
        runs.find((r) => r.name === name && r.waitForSlot === waitForSlot);
      const validate = first('validate');
      const submit = first('submit');
      const record = runs.filter((r) => r.name === 'record').at(-1);
      const fetched = task?.inputsFetchedAt?.getTime();
      const finished = task?.finishedAt?.getTime();
      if (!shown || !task || !validate || !submit || !record || !fetched || !finished) {
        failed += 1;
        continue;
      }
      const ends: [Stage, number][] = [
        ['ingest + start (→ validate runs)', validate.startedAt],
        ['validate', validate.endedAt],
        ['wait-for-slot (→ submit runs)', submit.startedAt],
        ['submit (→ task accepted)', task.acceptedAt.getTime()],
        ['simulator fetches the inputs', fetched],
        ['render (subtracted)', finished],
        ['webhook + record (→ record ends)', record.endedAt],
        ['deliver (→ video visible)', shown],
      ];
      let previous = landed;
      for (const [stage, end] of ends) {
        stages[stage].push(end - previous);
        previous = end;
      }
      const render = finished - fetched;
      totals.push(shown - landed);
      renders.push(render);
      ffmpegRenders.push(task.results.reduce((sum, r) => sum + (r.renderMs ?? 0), 0));
      waits.push(shown - landed - render);
      for (const run of runs) {
        const name = run.name === 'submit' && run.waitForSlot ? 'submit (WaitForSlot)' : run.name;
        runMs[name] = [...(runMs[name] ?? []), run.endedAt - run.startedAt];
      }
    }
  } finally {
    recorder.stop();
    callTimes.stop();
  }
  const p = (values: number[]) => ({ p50: quantile(values, 0.5), p95: quantile(values, 0.95) });
  const wait = { ...p(waits), ...spread(waits) };
  const rows: Row[] = [
    {
      figure: '1 user wait',
      metric: `PUT acknowledged → video visible, minus the render, settle 0 (p95 ${round(wait.p95)} ms), ${waits.length}/${jobs} delivered`,
      median: `${round(wait.p50)} ms`,
      spread: `${round(wait.min)}–${round(wait.max)} (n=${waits.length})`,
      target: '< 300 ms',
      met: wait.p50 < 300,
    },
  ];
  for (const stage of USER_STAGES) {
    const values = stages[stage];
    rows.push({
      figure: '1 user stage',
      metric: `${stage} (p95 ${round(quantile(values, 0.95))} ms)`,
      ...fmt(spread(values), 'ms'),
      target: '',
    });
  }
  return {
    rows,
    report: {
      jobs,
      delivered: waits.length,
      failed,
      pollMs: POLL_MS,
      userWaitMs: wait,
      totalMs: { ...p(totals), ...spread(totals) },
      subtractedRenderMs: spread(renders),
      ffmpegRenderOnlyMs: spread(ffmpegRenders),
      stagesMs: Object.fromEntries(USER_STAGES.map((s) => [s, { ...p(stages[s]), ...spread(stages[s]) }])),
      lambdaRunMs: Object.fromEntries(Object.entries(runMs).map(([k, v]) => [k, { ...p(v), n: v.length }])),
      callsPerJob: summarizeCalls(callTimes.calls, jobs),
    },
  };
}

function executionOf(stack: LocalStack, stem: string) {
  for (const execution of stack.sfn.listExecutions()) {
    const input = JSON.parse(execution.input) as { stem: string; jobId: string };
    if (input.stem === stem) return { status: execution.status, jobId: input.jobId };
  }
  return undefined;
}
