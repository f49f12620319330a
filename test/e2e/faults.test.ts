import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Stage } from '../../lambdas/core/contract/lifecycle.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { probe } from '../../local/ffmpeg.js';
import type { RunwareSimulator, SimulatorFaults } from '../../local/runware-simulator.js';
import type { IngestEvent, LocalStack } from '../../local/stack.js';
import type { FunctionName } from '../../local/template.js';
import {
  drop,
  finishedJob,
  inputExists,
  outputKeys,
  readOutput,
  type Samples,
  startLocal,
  storesOf,
} from '../support/local.js';

/**
 * "Hold under faults": the whole pipeline in local mode (E2E_CONTEXT: settle 1 s, webhook wait 8 s, hard deadline
 * 40 s) while S3 events are duplicated and reordered, Runware refuses, fails, lies and loses things, the video
 * download breaks, the output bucket throttles, and Lambdas die mid-step. Every scenario checks the same things:
 * the job's terminal state and its record (DynamoDB item and `<stem>.json` / `<stem>.error.json`, with a code and
 * a message a person can act on), the exact files in the output folder, that the inputs are still there, and how
 * many tasks Runware accepted (money spent) and how many videos it rendered.
 *
 * Each scenario uses its own folder (`<group>/<scenario>/avatar`), so its output folder holds only its files.
 * The fault scenarios are rows of typed tables ({@link FaultScenario}: the faults, then what must hold), played by
 * {@link runScenario}; the S3 event scenarios, each its own choreography of deliveries, are written out.
 */

const SLOW = 120_000;

let stack: LocalStack;
let samples: Samples;
let dir: string;
let sim: RunwareSimulator;

/** Every Lambda invocation, when it ran and how it ended (`error` is the errorType Step Functions saw). */
interface Call {
  name: FunctionName;
  start: number;
  end?: number;
  error?: string;
}
const calls: Call[] = [];
/** Faults for the Submit step's next invocations, armed as each comes (WaitForSlot runs the same function first). */
const submitStepFaults: (() => void)[] = [];
/** When each request the S3 fault proxy failed was answered (same order as `stack.s3Faults.failed`). */
const s3FaultTimes: number[] = [];
/** Called at the next request the S3 fault proxy fails (a scenario that acts at that moment sets it). */
let onS3Fault: (() => void) | undefined;

beforeAll(async () => {
  ({ stack, samples, dir } = await startLocal());
  if (!stack.simulator) throw new Error('These tests need the Runware simulator.');
  sim = stack.simulator;
  // Record the outcome of every invocation (Step Functions, the webhook endpoint and ingest all go through here).
  const invoke = stack.lambdas.invoke.bind(stack.lambdas);
  stack.lambdas.invoke = async (name, event, options) => {
    // The submit function also runs the WaitForSlot step before Submit: scenarios count and fault the Submit step.
    if (name === 'submit' && (event as { waitForSlot?: unknown } | null)?.waitForSlot === true) {
      return invoke(name, event, options);
    }
    if (name === 'submit') submitStepFaults.shift()?.();
    const call: Call = { name, start: Date.now() };
    calls.push(call);
    try {
      return await invoke(name, event, options);
    } catch (error) {
      call.error = (error as Error).name;
      throw error;
    } finally {
      call.end = Date.now();
    }
  };
  const failed = stack.s3Faults.failed;
  const push = failed.push.bind(failed);
  failed.push = (...items) => {
    for (const _ of items) s3FaultTimes.push(Date.now());
    onS3Fault?.();
    return push(...items);
  };
}, 180_000);
afterAll(async () => stack?.stop());

/** Counters at the start of each test; assertions are about what one scenario did. */
let before: {
  accepted: number;
  renders: number;
  submitRequests: number;
  calls: number;
  deadLetters: number;
  s3Faults: number;
};
beforeEach(() => {
  before = {
    accepted: sim.acceptedTasks(),
    renders: sim.renders,
    submitRequests: sim.requests.videoInference ?? 0,
    calls: calls.length,
    deadLetters: stack.deadLetters.length,
    s3Faults: stack.s3Faults.failed.length,
  };
});
// Heal whatever a scenario queued and did not use up, so that it cannot leak into the next one.
afterEach(() => {
  sim.faults = {};
  onS3Fault = undefined;
  submitStepFaults.length = 0;
  stack.sfn.retryIntervalMs = undefined;
});

// ------------------------------------------------------------------------------------------------ helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tasks Runware accepted during this test (each one is a video paid for). */
const acceptedSince = () => sim.acceptedTasks() - before.accepted;
/** Videos the simulator rendered during this test. */
const rendersSince = () => sim.renders - before.renders;
/** `videoInference` requests that reached Runware during this test, refused and dropped ones included. */
const submitRequestsSince = () => (sim.requests.videoInference ?? 0) - before.submitRequests;
/** The invocations of one function during this test, in order. */
const invocationsSince = (name: FunctionName) => calls.slice(before.calls).filter((c) => c.name === name);
/** How the invocations of one function ended during this test: 'ok' or the error type. */
const callsSince = (name: FunctionName) => invocationsSince(name).map((c) => c.error ?? 'ok');

function executionsOf(stem: string) {
  return stack.sfn.listExecutions().filter((e) => (JSON.parse(e.input) as { stem: string }).stem === stem);
}

const jobById = (jobId: string): Promise<JobRecord | undefined> => storesOf(stack).jobs.get(jobId);

async function readJson(key: string): Promise<Record<string, unknown>> {
  return JSON.parse((await readOutput(stack, key)).toString('utf8')) as Record<string, unknown>;
}

async function probeOutput(key: string) {
  const file = join(dir, key.replaceAll('/', '_'));
  writeFileSync(file, await readOutput(stack, key));
  return probe(file);
}

/** The `Object Created` events EventBridge sent to ingest for an inbox key, once there are at least `count`. */
async function ingestEventsOf(name: string, count = 1): Promise<IngestEvent[]> {
  const key = `inbox/${name}`;
  for (let waited = 0; ; waited += 20) {
    const found = stack.ingestEvents.filter((e) => e.detail.object.key === key);
    if (found.length >= count) return found;
    if (waited > 5_000) throw new Error(`No ingest event for ${key}`);
    await sleep(20);
  }
}

const stemOf = (folder: string) => `${folder}/avatar`;

/** Drops the portrait and a voice track (and a sidecar first, when given) into `inbox/<stem>.*`. */
async function dropPair(stem: string, options: { audio?: Buffer; sidecar?: object } = {}): Promise<void> {
  if (options.sidecar) await drop(stack, `${stem}.json`, JSON.stringify(options.sidecar));
  await drop(stack, `${stem}.png`, samples.portrait);
  await drop(stack, `${stem}.wav`, options.audio ?? samples.voice3s);
}

interface Expected {
  status: 'DELIVERED' | 'FAILED';
  /** FAILED only: where, which code, and phrases the message must contain (the provider's words, advice). */
  failure?: { stage: Stage; code: string; phrases: (string | RegExp)[] };
  /**
   * File names in the stem's output folder, exactly.
   * @default the video and the record when DELIVERED, the error document when FAILED
   */
  outputs?: string[];
  /** Extensions of the inputs that must still be in the inbox. @default ['png', 'wav'] */
  inputs?: string[];
  /** Tasks Runware accepted for the job's task UUID, and in all during the test (no second UUID either). */
  accepted: number;
  /** Videos the simulator rendered during the test (at most one per result). */
  renders: number;
}

/**
 * Waits for the job of `stem` (its newest execution) to end and checks what every scenario must hold: terminal
 * state and record, output folder, inputs, Runware submissions and renders, one JobSucceeded/JobFailed event.
 */
async function expectJob(stem: string, expected: Expected): Promise<JobRecord> {
  const job = await finishedJob(stack, stem);
  const folder = stem.slice(0, stem.lastIndexOf('/') + 1);
  const name = stem.slice(folder.length);

  const outputs =
    expected.outputs ??
    (expected.status === 'DELIVERED' ? [`${name}.mp4`, `${name}.json`] : [`${name}.error.json`]);

  expect(job.status).toBe(expected.status);
  expect(await outputKeys(stack, folder)).toEqual(outputs.map((file) => `${folder}${file}`).sort());
  for (const ext of expected.inputs ?? ['png', 'wav']) {
    expect(await inputExists(stack, `${stem}.${ext}`), `inbox/${stem}.${ext} is kept`).toBe(true);
  }

  const events = stack.events.filter((e) => e.detail.jobId === job.jobId);
  if (expected.status === 'DELIVERED') {
    expect(job.stages.DELIVERED).toEqual(expect.any(String));
    const record = await readJson(`${stem}.json`);
    expect(record).toMatchObject({
      jobId: job.jobId,
      attempt: job.attempt,
      status: 'DELIVERED',
      stem,
      taskUUID: job.taskUUID,
      outputs: (job.outputs ?? []).map((o) => ({ key: o.key, bytes: o.bytes })),
    });
    expect(record.error).toBeUndefined();
    for (const output of job.outputs ?? []) {
      expect((await readOutput(stack, output.key)).length, `${output.key} is complete`).toBe(output.bytes);
    }
    expect(events.map((e) => e.detailType)).toEqual(['JobSucceeded']);
    expect(events[0]?.detail).toMatchObject({ stem, recordKey: `${stem}.json` });
  } else {
    const failure = expected.failure;
    if (!failure) throw new Error('A FAILED expectation needs its failure');
    expect(job.error).toMatchObject({ stage: failure.stage, code: failure.code });
    const document = await readJson(`${folder}${name}.error.json`);
    expect(document).toMatchObject({
      stem,
      jobId: job.jobId,
      attempt: job.attempt,
      stage: failure.stage,
      code: failure.code,
      message: job.error?.message,
      howToRetry: expect.stringContaining('upload'),
      inputs: { image: `inbox/${stem}.png`, audio: `inbox/${stem}.wav` },
    });
    for (const phrase of failure.phrases) expect(document.message).toMatch(phrase);
    // Nothing a person must not see: no presigned signature, no API key.
    expect(document.message).not.toMatch(/X-Amz-Signature|local-simulator-key/i);
    expect(events.map((e) => e.detailType)).toEqual(['JobFailed']);
    expect(events[0]?.detail).toMatchObject({
      stem,
      code: failure.code,
      stage: failure.stage,
      errorKey: `${stem}.error.json`,
    });
  }

  expect(job.taskUUID === undefined ? 0 : sim.acceptedTasks(job.taskUUID)).toBe(expected.accepted);
  expect(acceptedSince(), 'tasks accepted in all').toBe(expected.accepted);
  expect(rendersSince(), 'videos rendered').toBe(expected.renders);
  expect(executionsOf(stem).filter((e) => e.name.startsWith(job.jobId))).toHaveLength(1);
  expect(stack.deadLetters.length, 'dead letters').toBe(before.deadLetters);
  return job;
}

const delivered = (extra: Partial<Expected> = {}): Expected => ({
  status: 'DELIVERED',
  accepted: 1,
  renders: 1,
  ...extra,
});

const failed = (failure: Expected['failure'], extra: Partial<Expected> = {}): Expected => ({
  status: 'FAILED',
  failure,
  accepted: 1,
  renders: 1,
  ...extra,
});

/** What a scenario's own assertions are given. */
interface Outcome {
  stem: string;
  /** The job, finished and checked by {@link expectJob}. */
  job: JobRecord;
  /** When the scenario's files began to land. */
  startedAt: number;
}

/**
 * One job under one fault plan: what goes wrong, and what must hold once the job has ended. Rows of the tables
 * below; {@link runScenario} plays one.
 */
interface FaultScenario {
  /** The behaviour, as the test says it. */
  name: string;
  /** `<group>/<scenario>`: where the job's files go (its output folder then holds only its files). */
  folder: string;
  /** Faults queued in the Runware simulator, used up by the job's requests. */
  faults?: SimulatorFaults;
  /** Arms the faults outside Runware before the files land: S3 throttling, Lambda invocations that die. */
  arrange?: (stem: string) => void;
  /** A sidecar dropped before the pair. */
  sidecar?: object;
  /** What every scenario checks: terminal state and record, outputs, inputs kept, tasks accepted, renders. */
  expected: Expected;
  /** How the invocations of these functions ended during the scenario, in order ('ok' or the error type). */
  calls?: Partial<Record<FunctionName, string[]>>;
  /** `videoInference` requests that reached Runware, refused and dropped ones included. */
  submitRequests?: number;
  /** Assertions particular to this scenario. */
  check?: (outcome: Outcome) => void | Promise<void>;
  /**
   * The steps' bounded retries wait {@link QUICK_RETRY_MS} instead of their backoff (2, 4, 8, 16 s): for scenarios
   * that count retries and do not depend on when they happen. The retry policy itself is checked in
   * test/infra/stack.test.ts.
   */
  quickRetries?: boolean;
}

const QUICK_RETRY_MS = 200;

/** Arms the scenario's faults, drops its files, and checks everything it expects. */
async function runScenario(scenario: FaultScenario): Promise<void> {
  const stem = stemOf(scenario.folder);
  stack.sfn.retryIntervalMs = scenario.quickRetries ? QUICK_RETRY_MS : undefined;
  if (scenario.faults) sim.queueFault(scenario.faults);
  scenario.arrange?.(stem);
  const startedAt = Date.now();
  await dropPair(stem, { sidecar: scenario.sidecar });
  const job = await expectJob(stem, scenario.expected);
  for (const [name, outcomes] of Object.entries(scenario.calls ?? {})) {
    expect(callsSince(name as FunctionName), `${name} invocations`).toEqual(outcomes);
  }
  if (scenario.submitRequests !== undefined) {
    expect(submitRequestsSince(), 'videoInference requests').toBe(scenario.submitRequests);
  }
  await scenario.check?.({ stem, job, startedAt });
}

/**
 * `it.each` over scenario rows, each test named by its row's behaviour: `it.each(rows)('%s', (_name, row) => ...)`.
 * (`'$name'` would cut the name at 40 characters.)
 */
const eachScenario = (rows: FaultScenario[]) =>
  it.each(rows.map((row): [string, FaultScenario] => [row.name, row]));

/** `value`, `count` times (invocations that all ended the same way, statuses a fault repeats). */
const times = <T>(count: number, value: T): T[] => Array.from({ length: count }, () => value);

// ------------------------------------------------------------------------------------------------ events

describe('S3 events: duplicated, reordered, simultaneous, dropped again', () => {
  it(
    'a duplicated S3 event starts no second execution and submits once',
    async () => {
      const stem = stemOf('events/duplicated');
      await dropPair(stem);
      const [image] = await ingestEventsOf(`${stem}.png`);
      const [audio] = await ingestEventsOf(`${stem}.wav`);
      if (!image || !audio) throw new Error('no events');
      // EventBridge delivers at least once: the same events again while the job runs...
      stack.deliverToIngest(image);
      stack.deliverToIngest(audio);
      const job = await expectJob(stem, delivered());

      // ...and again after it succeeded.
      stack.deliverToIngest(image);
      stack.deliverToIngest(audio);
      await stack.idle();
      expect(callsSince('ingest')).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
      expect(executionsOf(stem)).toHaveLength(1);
      expect(await jobById(job.jobId)).toEqual(job);
      expect(acceptedSince()).toBe(1);
      expect(await outputKeys(stack, 'events/duplicated/')).toEqual([`${stem}.json`, `${stem}.mp4`]);
    },
    SLOW,
  );

  it(
    'an older event delivered after a newer one of the same key is outdated and changes nothing',
    async () => {
      const stem = stemOf('events/reordered');
      await drop(stack, `${stem}.wav`, samples.voice3s);
      const [older] = await ingestEventsOf(`${stem}.wav`, 1);
      if (!older) throw new Error('no event');
      await stack.idle();
      // The audio is replaced (5 s instead of 3 s) before the image lands.
      await sleep(5);
      await drop(stack, `${stem}.wav`, samples.voice5s);
      const [, newer] = await ingestEventsOf(`${stem}.wav`, 2);
      await stack.idle();
      // The first upload's event arrives late: it must not bring back the replaced audio.
      stack.deliverToIngest(older);
      await stack.idle();
      const pairing = (await storesOf(stack).files.list(stem)).find((f) => f.key === `inbox/${stem}.wav`);
      if (!newer) throw new Error('no event');
      expect(pairing?.etag).toBe((newer.detail.object.etag ?? '').replace(/"/g, ''));
      expect(newer.detail.object.etag).not.toBe(older.detail.object.etag);
      await drop(stack, `${stem}.png`, samples.portrait);

      const job = await expectJob(stem, delivered());
      expect(job.media?.audio.durationSeconds).toBeCloseTo(5, 0);
      expect(Math.abs((await probeOutput(`${stem}.mp4`)).durationSeconds - 5)).toBeLessThan(0.5);

      // And late again after the job succeeded: still outdated, nothing moves.
      stack.deliverToIngest(older);
      await stack.idle();
      expect(executionsOf(stem)).toHaveLength(1);
      expect(await jobById(job.jobId)).toEqual(job);
      expect(acceptedSince()).toBe(1);
      expect(callsSince('ingest').every((c) => c === 'ok')).toBe(true);
    },
    SLOW,
  );

  it(
    'an image and its audio landing in the same instant start exactly one execution',
    async () => {
      const stem = stemOf('events/same-instant');
      await Promise.all([
        drop(stack, `${stem}.png`, samples.portrait),
        drop(stack, `${stem}.wav`, samples.voice3s),
      ]);
      await expectJob(stem, delivered());
      expect(executionsOf(stem)).toHaveLength(1);
      expect(callsSince('ingest')).toEqual(['ok', 'ok']);
    },
    SLOW,
  );

  it(
    'the same bytes dropped again after success are the same job: no new submission',
    async () => {
      const stem = stemOf('events/same-bytes');
      await dropPair(stem);
      const job = await expectJob(stem, delivered());
      const video = await readOutput(stack, `${stem}.mp4`);

      await drop(stack, `${stem}.png`, samples.portrait);
      await drop(stack, `${stem}.wav`, samples.voice3s);
      await ingestEventsOf(`${stem}.wav`, 2);
      await stack.idle();
      expect(executionsOf(stem)).toHaveLength(1);
      expect(await jobById(job.jobId)).toEqual(job);
      expect(acceptedSince()).toBe(1);
      expect(rendersSince()).toBe(1);
      expect(await outputKeys(stack, 'events/same-bytes/')).toEqual([`${stem}.json`, `${stem}.mp4`]);
      expect((await readOutput(stack, `${stem}.mp4`)).equals(video)).toBe(true);
    },
    SLOW,
  );

  it(
    'a changed file dropped again is a new job whose video and record replace the first',
    async () => {
      const stem = stemOf('events/changed');
      await dropPair(stem, { audio: samples.voice3s });
      const first = await expectJob(stem, delivered());
      const firstVideo = await readOutput(stack, `${stem}.mp4`);

      before.accepted = sim.acceptedTasks();
      before.renders = sim.renders;
      await drop(stack, `${stem}.wav`, samples.voice5s);
      const second = await expectJob(stem, delivered());

      expect(second.jobId).not.toBe(first.jobId);
      expect(second.taskUUID).not.toBe(first.taskUUID);
      expect(sim.acceptedTasks(first.taskUUID)).toBe(1);
      expect(executionsOf(stem)).toHaveLength(2);
      // The first job keeps its own record in the table; the output folder shows the second, consistently.
      expect((await jobById(first.jobId))?.status).toBe('DELIVERED');
      const record = await readJson(`${stem}.json`);
      expect(record).toMatchObject({
        jobId: second.jobId,
        taskUUID: second.taskUUID,
        inputs: { audio: { durationSeconds: 5 } },
      });
      const video = await readOutput(stack, `${stem}.mp4`);
      expect(video.equals(firstVideo)).toBe(false);
      expect(video.length).toBe(second.outputs?.[0]?.bytes);
      expect(Math.abs((await probeOutput(`${stem}.mp4`)).durationSeconds - 5)).toBeLessThan(0.5);
    },
    SLOW,
  );
});

// ---------------------------------------------------------------------------------------- Runware: submit

/** Final refusals, not retried: a refusal would only be repeated (and each retry of a 402 could be billed once topped up). */
const REFUSALS: { status: number; code: string; phrases: string[] }[] = [
  {
    status: 400,
    code: 'RUNWARE_INVALID_REQUEST',
    phrases: ['invalidRequest', 'The request was unacceptable to the provider'],
  },
  {
    status: 401,
    code: 'RUNWARE_UNAUTHORIZED',
    phrases: [
      'invalidApiKey',
      'Invalid API key',
      'Check that the Runware API key secret holds a valid, active key',
    ],
  },
  {
    status: 402,
    code: 'RUNWARE_INSUFFICIENT_BALANCE',
    phrases: ['insufficientCredits', 'Insufficient credits', 'Top up your Runware balance'],
  },
];

/** Refusals worth retrying, twice each, then accepted: two refusals and the accepted third of the client's 3 tries. */
const TRANSIENT_REFUSALS: { label: string; slug: string; faults: SimulatorFaults }[] = [
  { label: '429 (queue full)', slug: '429', faults: { submitStatus: [429, 429] } },
  { label: '503 (unavailable)', slug: '503', faults: { submitStatus: [503, 503] } },
  { label: '504 (queue wait exceeded)', slug: '504', faults: { submitStatus: [504, 504] } },
  { label: 'network errors', slug: 'network', faults: { submitNetworkError: 2 } },
];

/** Answers lost after Runware accepted the task: the retry's `conflictTaskUUID` counts as accepted. */
const LOST_ACCEPTANCES: { label: string; slug: string; faults: SimulatorFaults }[] = [
  {
    label: 'a 504 after Runware accepted the task',
    slug: '504',
    faults: { submitStatus: [504], acceptThenFail: true },
  },
  {
    label: 'a connection dropped after Runware accepted the task',
    slug: 'drop',
    faults: { submitNetworkError: 1, acceptThenDrop: true },
  },
];

const SUBMIT: FaultScenario[] = [
  ...REFUSALS.map(
    ({ status, code, phrases }): FaultScenario => ({
      name: `HTTP ${status} is final: FAILED at SUBMITTED with ${code} and the provider message, nothing accepted`,
      folder: `submit/http-${status}`,
      faults: { httpStatus: status },
      expected: failed({ stage: 'SUBMITTED', code, phrases }, { accepted: 0, renders: 0 }),
      calls: { submit: ['RunwareRejectedError'] },
      submitRequests: 1,
      check: ({ job }) => expect(job.taskUUID).toEqual(expect.any(String)),
    }),
  ),
  ...TRANSIENT_REFUSALS.map(
    ({ label, slug, faults }): FaultScenario => ({
      name: `retries ${label} with backoff, then submits once and delivers`,
      folder: `submit/retry-${slug}`,
      faults,
      expected: delivered(),
      calls: { submit: ['ok'] },
      submitRequests: 3,
    }),
  ),
  {
    // A 500 is an outage; a 503 (like 429 and 504) says Runware is at capacity, and the job waits for it until its
    // hard deadline instead (test/e2e/capacity.test.ts, test/unit/submit.test.ts).
    name: 'a Runware outage that outlasts every retry ends FAILED with RUNWARE_UNAVAILABLE within a bound',
    quickRetries: true,
    folder: 'submit/outage',
    faults: { submitStatus: times(30, 500) },
    expected: failed(
      {
        stage: 'SUBMITTED',
        code: 'RUNWARE_UNAVAILABLE',
        phrases: ['HTTP 500', 'on all 3 attempts', 'Retry the job later'],
      },
      { accepted: 0, renders: 0 },
    ),
    // 3 tries in the client x 5 runs of the step (the first and 4 retries with backoff).
    calls: { submit: times(5, 'TransientError') },
    submitRequests: 15,
    check: ({ job, startedAt }) => {
      // Bounded: retries 2+4+8+16 s (full jitter) plus the client's backoff, far from waiting forever.
      const failedAfter = Date.parse(job.stages.FAILED ?? '') - Date.parse(job.stages.VALIDATED ?? '');
      expect(failedAfter).toBeLessThan(45_000);
      expect(Date.now() - startedAt).toBeLessThan(60_000);
    },
  },
  ...LOST_ACCEPTANCES.map(
    ({ label, slug, faults }): FaultScenario => ({
      name: `retries ${label} with the same task UUID: conflictTaskUUID counts as accepted, one task, one render`,
      folder: `submit/conflict-${slug}`,
      faults,
      expected: delivered(),
      calls: { submit: ['ok'] },
      submitRequests: 2,
    }),
  ),
];

describe('Runware on submit', () => {
  eachScenario(SUBMIT)('%s', (_name, row) => runScenario(row), SLOW);
});

// ------------------------------------------------------------------------------------ Runware: after submit

const PROVIDER_ERROR = { code: 'providerError', message: 'The provider could not animate this face' };

const AFTER_SUBMIT: FaultScenario[] = [
  {
    name: 'an error webhook ends FAILED at GENERATED with the provider message',
    folder: 'task/error-webhook',
    faults: { errorWebhook: PROVIDER_ERROR },
    expected: failed(
      {
        stage: 'GENERATED',
        code: 'RUNWARE_TASK_FAILED',
        phrases: ['providerError', 'The provider could not animate this face', 'then retry'],
      },
      { renders: 0 },
    ),
    calls: { deliver: [] },
  },
  {
    name: 'a duplicated webhook delivers once and publishes one JobSucceeded',
    folder: 'task/duplicate-webhook',
    faults: { duplicateWebhook: true },
    expected: delivered(),
    calls: { webhook: ['ok', 'ok'], record: ['ok'], deliver: ['ok'] },
    check: ({ job }) => {
      const posts = sim.webhookDeliveries.filter((d) => d.taskUUID === job.taskUUID);
      expect(posts.map((d) => d.status)).toEqual([200, 200]);
    },
  },
  {
    name: 'a webhook that arrives before the submit call has returned still completes the job, once',
    folder: 'task/webhook-before-ack',
    faults: { ackDelayMs: 300 },
    expected: delivered(),
    calls: { deliver: ['ok'] },
    check: ({ stem, job }) => {
      const [post] = sim.webhookDeliveries.filter((d) => d.taskUUID === job.taskUUID);
      // The webhook was answered before submit recorded SUBMITTED (which it does after Runware's answer).
      expect(post?.status).toBe(200);
      expect(post?.at.getTime()).toBeLessThanOrEqual(Date.parse(job.stages.SUBMITTED ?? ''));
      const [execution] = executionsOf(stem);
      expect(execution?.states).not.toContain('Poll');
    },
  },
  {
    name: 'a lost webhook is rescued by polling',
    folder: 'task/lost-webhook',
    faults: { loseWebhook: true },
    expected: delivered(),
    calls: { webhook: [] },
    check: ({ stem }) => {
      const [execution] = executionsOf(stem);
      expect(execution?.states).toContain('Poll');
    },
  },
  {
    name: 'with numberResults 2 and one result failing, delivers the other video and records the partial failure',
    folder: 'task/partial',
    faults: { failResult: 2 },
    sidecar: { numberResults: 2 },
    // One video made (and paid for) is delivered; a single result takes the plain name.
    expected: delivered({ inputs: ['png', 'wav', 'json'] }),
    check: async ({ stem, job }) => {
      expect(job.results).toHaveLength(1);
      expect(job.outputs?.map((o) => o.key)).toEqual([`${stem}.mp4`]);
      const record = await readJson(`${stem}.json`);
      expect(record.partialFailures).toEqual([
        { code: 'RUNWARE_TASK_FAILED', message: expect.stringContaining('result 2 of 2') },
      ]);
      expect(record.results).toEqual([expect.objectContaining({ output: `${stem}.mp4` })]);
      expect(record.costUsd).toBe(job.results?.[0]?.cost);
    },
  },
];

/** Waits out the hard deadline (40 s here), hence its own, shorter test timeout. */
const NEVER_FINISHES: FaultScenario = {
  name: 'a task that never finishes ends FAILED with DEADLINE_EXCEEDED at the hard deadline',
  folder: 'task/never-finishes',
  faults: { neverFinish: true },
  expected: failed(
    {
      stage: 'GENERATED',
      code: 'DEADLINE_EXCEEDED',
      phrases: ['never reported task', 'no webhook came', 'does not wait forever', 'hardDeadlineSeconds'],
    },
    { renders: 0 },
  ),
  check: ({ stem, job }) => {
    const validated = Date.parse(job.stages.VALIDATED ?? '');
    const deadline = Date.parse(job.deadline ?? '');
    const failedAt = Date.parse(job.stages.FAILED ?? '');
    expect(deadline - validated).toBe(40_000);
    expect(failedAt).toBeGreaterThanOrEqual(deadline);
    expect(failedAt - deadline).toBeLessThan(10_000);
    expect(executionsOf(stem)[0]?.states).toContain('Poll');
  },
};

describe('Runware after submit', () => {
  eachScenario(AFTER_SUBMIT)('%s', (_name, row) => runScenario(row), SLOW);
  it(NEVER_FINISHES.name, () => runScenario(NEVER_FINISHES), 90_000);
});

// --------------------------------------------------------------------------------------------- delivery

const DELIVERY: FaultScenario[] = [
  // A video that cannot be fetched as it should be: FAILED at DELIVERED, nothing stored.
  {
    name: 'a video URL answering 404 ends FAILED with VIDEO_NOT_FOUND',
    folder: 'delivery/not-found',
    faults: { videoFault: '404' },
    expected: failed({
      stage: 'DELIVERED',
      code: 'VIDEO_NOT_FOUND',
      phrases: ['answered 404', 'gone or has expired', 'Retry the job'],
    }),
    calls: { deliver: ['DeliveryError'] },
  },
  {
    name: 'a truncated download is retried, then ends FAILED with VIDEO_TRUNCATED and no partial video',
    quickRetries: true,
    folder: 'delivery/truncated',
    faults: { videoFault: 'truncate' },
    expected: failed({ stage: 'DELIVERED', code: 'VIDEO_TRUNCATED', phrases: ['cut short'] }),
    calls: { deliver: times(5, 'TransientError') },
  },
  {
    name: 'a video URL serving an HTML page ends FAILED with VIDEO_WRONG_CONTENT_TYPE',
    folder: 'delivery/wrong-type',
    faults: { videoFault: 'wrong-content-type' },
    expected: failed({
      stage: 'DELIVERED',
      code: 'VIDEO_WRONG_CONTENT_TYPE',
      phrases: ['text/html', 'not a video', 'Nothing was stored'],
    }),
    calls: { deliver: ['DeliveryError'] },
  },
  {
    name: 'an unreachable video host is retried, then ends FAILED with VIDEO_DOWNLOAD_FAILED',
    quickRetries: true,
    folder: 'delivery/unreachable',
    faults: { videoFault: 'unreachable' },
    expected: failed({ stage: 'DELIVERED', code: 'VIDEO_DOWNLOAD_FAILED', phrases: ['Could not reach'] }),
    calls: { deliver: times(5, 'TransientError') },
  },
  {
    name: 'an output bucket that throttles past the SDK retries is retried by the step: one video delivered',
    quickRetries: true,
    folder: 'delivery/output-throttled',
    // The SDK tries 3 times; the 4th failure makes the deliver step itself fail and be retried.
    arrange: (stem) =>
      stack.s3Faults.failNext(4, { method: 'PUT', bucket: stack.names.outputBucket, keyPrefix: stem }),
    expected: delivered(),
    calls: { deliver: ['TransientError', 'ok'] },
    check: async ({ stem, job }) => {
      expect(stack.s3Faults.failed.slice(before.s3Faults)).toHaveLength(4);
      const facts = await probeOutput(`${stem}.mp4`);
      expect(Math.abs(facts.durationSeconds - 3)).toBeLessThan(0.5);
      expect(job.outputs).toHaveLength(1);
    },
  },
];

const FOREIGN_HOST =
  'a video URL on a host that is not allowed ends FAILED with VIDEO_HOST_NOT_ALLOWED, no request made';

describe('Delivery', () => {
  eachScenario(DELIVERY)('%s', (_name, row) => runScenario(row), SLOW);

  it(
    FOREIGN_HOST,
    async () => {
      // A server that would happily serve the video: it must never be asked.
      const requests: string[] = [];
      const foreign = createServer((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        res.writeHead(200, { 'Content-Type': 'video/mp4' }).end();
      });
      await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
      try {
        const origin = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
        await runScenario({
          name: FOREIGN_HOST,
          folder: 'delivery/foreign-host',
          faults: { videoUrlHost: origin },
          expected: failed({
            stage: 'DELIVERED',
            code: 'VIDEO_HOST_NOT_ALLOWED',
            phrases: [origin, 'not in allowedVideoHosts', 'add the new one to the setting'],
          }),
          calls: { deliver: ['DeliveryError'] },
          check: () => expect(requests).toEqual([]),
        });
      } finally {
        foreign.closeAllConnections();
        await new Promise<void>((resolve) => foreign.close(() => resolve()));
      }
    },
    SLOW,
  );

  it(
    'a video URL that carries credentials and a presigned query leaves them in no record, log, event or output',
    async () => {
      const password = 'pw-4f1c9e2b7a';
      const signature = 'b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184';
      const credential = 'AKIAEXAMPLE123456789%2F20261207%2Fus-east-1%2Fs3%2Faws4_request';
      await runScenario({
        name: 'signed video URL',
        folder: 'delivery/signed-url',
        faults: {
          videoUrlHost: `https://runware-user:${password}@files.elsewhere.example`,
          videoUrlQuery: `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${credential}&X-Amz-Signature=${signature}`,
        },
        expected: failed({
          stage: 'DELIVERED',
          code: 'VIDEO_HOST_NOT_ALLOWED',
          phrases: ['files.elsewhere.example', 'not in allowedVideoHosts'],
        }),
        calls: { deliver: ['DeliveryError'] },
      });
      await stack.idle();
      // Every item of the table (job records, task items, pairing), every log line, event and output.
      const items = await stack.dynamo.send(new ScanCommand({ TableName: stack.names.tableName }));
      const logDir = join(dir, 'logs');
      const outputs = await outputKeys(stack, '');
      const places: [string, string][] = [
        // The task item alone keeps the full URL, for deliver: it expires (docs/contract.md).
        ...(items.Items ?? [])
          .filter((item) => !item.pk?.S?.startsWith('TASK#'))
          .map((item, i): [string, string] => [`table item ${i}`, JSON.stringify(item)]),
        ...readdirSync(logDir).map((f): [string, string] => [
          `logs/${f}`,
          readFileSync(join(logDir, f), 'utf8'),
        ]),
        ...(await Promise.all(
          outputs.map(
            async (k): Promise<[string, string]> => [k, (await readOutput(stack, k)).toString('utf8')],
          ),
        )),
        ['pipeline events', JSON.stringify(stack.events)],
      ];
      expect(places.some(([where]) => where.startsWith('table item'))).toBe(true);
      const taskItems = (items.Items ?? []).filter((item) => item.pk?.S?.startsWith('TASK#'));
      for (const item of taskItems) expect(item.expiresAt?.N, 'a task item expires').toBeDefined();
      for (const [where, content] of places) {
        for (const secret of [password, signature, 'AKIAEXAMPLE123456789', 'X-Amz-Signature']) {
          expect(content.includes(secret), `${secret} found in ${where}`).toBe(false);
        }
      }
    },
    SLOW,
  );
});

// ----------------------------------------------------------------------------------------- Lambda crashes

const CRASHES: FaultScenario[] = [
  {
    // Runware takes the task at once but holds its answer 5 s; the submit process dies 1.5 s into the call, and
    // its retry (after at most 2 s of backoff) is waiting on a fresh token before the task even starts. The
    // retry's request gets conflictTaskUUID (already accepted).
    name: 'submit killed after Runware accepted the task: the retry reuses the UUID, one task, one render',
    folder: 'crash/submit',
    faults: { submitDelayMs: 5_000 },
    arrange: () => submitStepFaults.push(() => stack.lambdas.crashNext('submit', 1_500)),
    expected: delivered(),
    calls: { submit: ['Runtime.ExitError', 'ok'] },
    submitRequests: 2,
    check: ({ stem, job }) => {
      // Runware had the task before the process died.
      const [submission] = sim.submissions.filter((s) => s.taskUUID === job.taskUUID);
      const [crashed] = invocationsSince('submit');
      expect(submission?.receivedAt.getTime()).toBeGreaterThanOrEqual(crashed?.start ?? Number.NaN);
      expect(submission?.receivedAt.getTime()).toBeLessThanOrEqual(crashed?.end ?? Number.NaN);
      // The webhook reached the retried step.
      expect(executionsOf(stem)[0]?.states).not.toContain('Poll');
    },
  },
  {
    // As above, but the invocation ends the way a Lambda timeout ends it (Sandbox.Timedout).
    name: 'submit timing out after Runware accepted the task: the retry reuses the UUID, one task, one render',
    folder: 'timeout/submit',
    faults: { submitDelayMs: 5_000 },
    arrange: () => submitStepFaults.push(() => stack.lambdas.timeOutNext('submit', 1_500)),
    expected: delivered(),
    calls: { submit: ['Sandbox.Timedout', 'ok'] },
    submitRequests: 2,
    check: ({ job }) => expect(sim.acceptedTasks(job.taskUUID)).toBe(1),
  },
  {
    name: 'Runware reports while a crashed submit awaits its retry: the retried step is told at once',
    folder: 'crash/submit-report-between',
    // Runware takes the task, holds its answer 1 s, then fails the task at once (an error report needs no
    // render: it goes out within milliseconds). The submit process dies at 1 s, before Runware starts on the
    // task, so the report finds the crashed step's token dead. The first retry dies at once too (a bad host),
    // so the step that finally runs comes well after the report, and finds it in the table.
    faults: { submitDelayMs: 1_000, errorWebhook: PROVIDER_ERROR },
    arrange: () => {
      submitStepFaults.push(
        () => stack.lambdas.crashNext('submit', 1_000),
        () => stack.lambdas.crashNext('submit', 0),
      );
    },
    expected: failed(
      {
        stage: 'GENERATED',
        code: 'RUNWARE_TASK_FAILED',
        phrases: ['The provider could not animate this face'],
      },
      { renders: 0 },
    ),
    calls: { submit: ['Runtime.ExitError', 'Runtime.ExitError', 'ok'] },
    check: ({ stem, job }) => {
      const submits = invocationsSince('submit');
      const [report] = sim.webhookDeliveries.filter((d) => d.taskUUID === job.taskUUID);
      expect(report?.status).toBe(200);
      // As constructed: the report came after the first crash and before the step that succeeded started.
      expect(report?.at.getTime()).toBeGreaterThan(submits[0]?.end ?? Number.NaN);
      expect(report?.at.getTime()).toBeLessThan(submits[2]?.start ?? Number.NaN);
      // That step must tell its own, fresh token what Runware reported: the job should not sit out the whole
      // webhook wait (waitTimeoutSeconds: 8 s here, 30 min by default) and only then learn it by polling.
      expect(executionsOf(stem)[0]?.states, 'the retried submit step was told, no polling').not.toContain(
        'Poll',
      );
      // Well within the 8 s webhook wait that polling would have sat out (room for a loaded machine).
      expect(Date.parse(job.stages.FAILED ?? '') - (submits[2]?.end ?? 0)).toBeLessThan(6_000);
    },
  },
  {
    name: 'deliver killed mid-copy: the retry delivers exactly one video',
    folder: 'crash/deliver',
    arrange: (stem) => {
      // Throttled PUTs of the video keep the copy in progress (SDK backoff) when the process is killed. It is
      // killed the moment its first PUT of the video is refused, not after a fixed delay: on a loaded machine the
      // deliver step may not have reached the copy by then.
      stack.s3Faults.failNext(2, {
        method: 'PUT',
        bucket: stack.names.outputBucket,
        keyPrefix: `${stem}.mp4`,
      });
      stack.lambdas.crashNext(
        'deliver',
        new Promise<void>((resolve) => {
          onS3Fault = resolve;
        }),
      );
    },
    expected: delivered(),
    calls: { deliver: ['Runtime.ExitError', 'ok'] },
    check: async ({ stem, job }) => {
      // The copy had begun (a PUT of the video was attempted) when the process was killed.
      const [crashed] = invocationsSince('deliver');
      const videoPuts = s3FaultTimes.slice(before.s3Faults);
      expect(videoPuts.some((at) => at >= (crashed?.start ?? 0) && at <= (crashed?.end ?? 0))).toBe(true);
      expect(job.outputs).toHaveLength(1);
      const facts = await probeOutput(`${stem}.mp4`);
      expect(Math.abs(facts.durationSeconds - 3)).toBeLessThan(0.5);
    },
  },
];

describe('A Lambda that crashes mid-step', () => {
  eachScenario(CRASHES)('%s', (_name, row) => runScenario(row), SLOW);
});
