import type { JobCancelledDetail, JobEventPublisher } from '../../lambdas/core/aws/job-event-publisher.js';
import type { TaskNotifier } from '../../lambdas/core/completion.js';
import type { GenerationResult, JobRecord } from '../../lambdas/core/job.js';
import type { RunwareClient, SubmitOutcome, TaskPoll } from '../../lambdas/core/runware/client.js';
import type { VideoInferenceTask } from '../../lambdas/core/runware/schemas.js';
import type { JobStore } from '../../lambdas/core/store/jobs.js';
import type { SubmitDeps } from '../../lambdas/submit/submit.js';
import type { TestStores } from './harness.js';

let counter = 0;

/** A job as validation leaves it: VALIDATED, with media facts, settings and a deadline. */
export async function seedValidatedJob(
  jobs: JobStore,
  overrides: Partial<JobRecord> = {},
): Promise<JobRecord> {
  counter += 1;
  const jobId = counter.toString(16).padStart(32, 'a');
  const job: JobRecord = {
    jobId,
    stem: `promo/anna-${counter}`,
    attempt: 1,
    status: 'VALIDATED',
    stages: { RECEIVED: '2026-11-24T10:00:00.000Z', VALIDATED: '2026-11-24T10:00:12.000Z' },
    inputs: {
      image: {
        key: `inbox/promo/anna-${counter}.jpg`,
        etag: 'img',
        size: 1000,
        sequencer: '1'.padStart(32, '0'),
      },
      audio: {
        key: `inbox/promo/anna-${counter}.mp3`,
        etag: 'aud',
        size: 2000,
        sequencer: '2'.padStart(32, '0'),
      },
    },
    executionName: `${jobId}-1`,
    claimedBy: 'event-1',
    media: {
      image: { format: 'jpeg', width: 720, height: 1280, bytes: 1000, sha256: 'a'.repeat(64) },
      audio: { format: 'mp3', durationSeconds: 12.5, bytes: 2000, sha256: 'b'.repeat(64) },
    },
    settings: {
      model: 'klingai:avatar@2.0-pro',
      prompt: 'A calm presenter',
      outputFormat: 'MP4',
      outputQuality: 95,
      numberResults: 1,
    },
    deadline: '2026-11-24T12:00:12.000Z',
    // 12.5 s x $0.087/s x 1 result.
    estimatedCostUsd: 1.088,
    priceUsdPerSecond: 0.087,
    createdAt: '2026-11-24T10:00:00.000Z',
    updatedAt: '2026-11-24T10:00:12.000Z',
    ...overrides,
  };
  await jobs.create(job);
  return job;
}

export function result(n: number, overrides: Partial<GenerationResult> = {}): GenerationResult {
  return {
    videoUUID: `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`,
    videoURL: `https://vm.runware.ai/video/os/a1/ws/5/vi/${n}.mp4`,
    cost: 1.20634,
    seed: 1000 + n,
    receivedAt: `2026-11-24T10:0${n}:00.000Z`,
    ...overrides,
  };
}

/** Runware stand-in at the client interface (the HTTP client has its own tests with a fetch stub). */
export class FakeRunware implements RunwareClient {
  readonly submitted: VideoInferenceTask[] = [];
  readonly polled: string[] = [];
  submitAnswers: (() => Promise<SubmitOutcome>)[] = [];
  pollAnswer: TaskPoll = { results: [], pending: 1, errors: [] };

  async submit(task: VideoInferenceTask): Promise<SubmitOutcome> {
    this.submitted.push(task);
    const next = this.submitAnswers.shift();
    return next ? next() : { status: 'accepted' };
  }

  async getResponse(taskUUID: string): Promise<TaskPoll> {
    this.polled.push(taskUUID);
    return this.pollAnswer;
  }
}

export class RecordingNotifier implements TaskNotifier {
  readonly successes: { taskToken: string; output: { taskUUID: string; results: number } }[] = [];
  readonly failures: { taskToken: string; error: string; cause: string }[] = [];
  gone = false;
  async succeed(taskToken: string, output: { taskUUID: string; results: number }) {
    this.successes.push({ taskToken, output });
    return this.gone ? ('gone' as const) : ('delivered' as const);
  }
  async fail(taskToken: string, error: string, cause: string) {
    this.failures.push({ taskToken, error, cause });
    return this.gone ? ('gone' as const) : ('delivered' as const);
  }
}

/** The events the functions put, kept in memory. */
export class RecordingEvents implements JobEventPublisher {
  readonly cancelled: JobCancelledDetail[] = [];
  async jobCancelled(detail: JobCancelledDetail) {
    this.cancelled.push(detail);
  }
}

/**
 * The submit step's dependencies over the test stores, with a fake Runware and notifier: no slot cap, no budget,
 * presigned inputs and a webhook of fixed shape. `overrides` sets what a test needs otherwise.
 */
export function submitDeps(
  db: Pick<TestStores, 'jobs' | 'tasks' | 'slots' | 'budget'>,
  runware: FakeRunware,
  notifier: RecordingNotifier,
  overrides: Partial<SubmitDeps> & Pick<SubmitDeps, 'now'>,
): SubmitDeps {
  return {
    jobs: db.jobs,
    tasks: db.tasks,
    slots: db.slots,
    maxConcurrentTasks: 1000,
    budget: db.budget,
    budgetLimits: { dailyUsd: 0, monthlyUsd: 0 },
    runware,
    notifier,
    presigner: { presign: async (key) => `https://input.s3.amazonaws.com/${key}?X-Amz-Signature=sig` },
    webhook: { baseUrl: 'https://hooks.example.com/runware', secret: async () => 'secret' },
    ...overrides,
  };
}
