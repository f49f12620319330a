import { readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { basename, extname } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { executionArnOf, SfnExecutionStarter, SfnExecutionStopper } from '../lambdas/core/aws/executions.js';
import { requestCancel } from '../lambdas/core/cancel.js';
import { DEFAULT_SETTINGS } from '../lambdas/core/contract/defaults.js';
import {
  AUDIO_EXTENSIONS,
  acceptedExtensionsText,
  errorOutputKey,
  IMAGE_EXTENSIONS,
} from '../lambdas/core/contract/keys.js';
import { type JobRecord, TERMINAL_STATUSES } from '../lambdas/core/job.js';
import { retryJob } from '../lambdas/core/retry.js';
import { CliError, EXIT } from './errors.js';
import { type Estimate, estimateCost, measureAudio, parseModel } from './estimate-cost.js';
import {
  describeJob,
  jobsTable,
  outputCheckLines,
  outputLocations,
  progressLine,
  statusWords,
  totalCost,
  totalEstimate,
  unknownCostCount,
  usd,
  videoSeconds,
} from './format.js';
import { DEFAULT_PRICE_TABLE, type PriceTable } from './prices.js';
import type { Target } from './target.js';

/** What a command hands back: data for `--json`, words for people, and the exit code. */
export interface Outcome {
  json: unknown;
  text: string;
  exitCode?: number;
}

const dotted = (list: readonly string[]) => list.map((extension) => `.${extension}`);

export interface SubmitOptions {
  image: string;
  audio: string;
  prompt?: string;
  format?: string;
  quality?: string;
  results?: string;
  stem?: string;
  wait: boolean;
  timeoutSeconds: number;
  /** Where the live progress goes (stderr with --json, so stdout stays one JSON document). */
  progress: (line: string, final: boolean) => void;
}

const int = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new CliError(`--${name} must be a whole number.`, EXIT.usage, 'USAGE');
  return n;
};

/**
 * Reads an input the drop folder would pair. The CLI does not know the target's `acceptOggAudio`: it lets `.ogg`
 * through (validation then refuses or takes it by the setting), and its message says so rather than list it as
 * accepted.
 */
async function readInput(file: string, role: 'image' | 'audio'): Promise<Buffer> {
  const ext = extname(file).toLowerCase();
  const allowed = dotted(role === 'image' ? IMAGE_EXTENSIONS : AUDIO_EXTENSIONS);
  if (!allowed.includes(ext)) {
    throw new CliError(
      `The ${role} must be one of ${acceptedExtensionsText(role, undefined)} (got ${file}).`,
      EXIT.usage,
      'USAGE',
    );
  }
  try {
    return await readFile(file);
  } catch {
    throw new CliError(`Cannot read the ${role} file ${file}.`, EXIT.usage, 'USAGE');
  }
}

export async function submit(target: Target, o: SubmitOptions): Promise<Outcome> {
  const image = await readInput(o.image, 'image');
  const audio = await readInput(o.audio, 'audio');
  const stem = (o.stem ?? basename(o.image, extname(o.image))).replace(/^\/+|\/+$/g, '');
  const sidecar = {
    ...(o.prompt !== undefined ? { prompt: o.prompt } : {}),
    ...(o.format !== undefined ? { outputFormat: o.format.toUpperCase() } : {}),
    ...(o.quality !== undefined ? { outputQuality: int('quality', o.quality) } : {}),
    ...(o.results !== undefined ? { numberResults: int('results', o.results) } : {}),
  };
  const bucket = target.names.inputBucket;
  const put = async (key: string, body: Buffer | string) => {
    const out = await target.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    return (out.ETag ?? '').replace(/"/g, '');
  };
  const started = new Date();
  const uploaded: string[] = [];
  // The sidecar goes first, so the job's settings are there before the pair can start it.
  if (Object.keys(sidecar).length > 0) {
    await put(`inbox/${stem}.json`, JSON.stringify(sidecar));
    uploaded.push(`inbox/${stem}.json`);
  }
  const imageKey = `inbox/${stem}${extname(o.image).toLowerCase()}`;
  const audioKey = `inbox/${stem}${extname(o.audio).toLowerCase()}`;
  const imageEtag = await put(imageKey, image);
  const audioEtag = await put(audioKey, audio);
  uploaded.push(imageKey, audioKey);
  const where = uploaded.map((k) => `s3://${bucket}/${k}`);
  if (!o.wait) {
    return {
      json: { stem, uploaded: where },
      text: `Uploaded ${where.join(', ')}.\nFollow it with: avatar-pipeline status ${stem}`,
    };
  }

  const isOurs = (job: JobRecord) =>
    job.stem === stem && job.inputs.image.etag === imageEtag && job.inputs.audio.etag === audioEtag;
  // A failure recorded before this upload belongs to the attempt before: the upload starts the next one.
  const ended = (job: JobRecord) =>
    job.status === 'DELIVERED' ||
    ((job.status === 'FAILED' || job.status === 'CANCELLED') &&
      Date.parse(job.updatedAt) >= started.getTime());
  const job = await follow(
    async () => (await target.jobs.list()).items.find(isOurs),
    ended,
    started,
    stem,
    o,
  );
  return ending(target, job);
}

/** Follows a job with a progress line per change until `ended` says it is over (or --timeout passes). */
async function follow(
  read: () => Promise<JobRecord | undefined>,
  ended: (job: JobRecord) => boolean,
  started: Date,
  stem: string,
  o: Pick<SubmitOptions, 'timeoutSeconds' | 'progress'>,
): Promise<JobRecord> {
  const deadline = started.getTime() + o.timeoutSeconds * 1000;
  let last = '';
  let job: JobRecord | undefined;
  for (;;) {
    job = await read();
    const line = progressLine(job, (Date.now() - started.getTime()) / 1000);
    const phase = line.replace(/^\[[^\]]*\] /, '');
    if (phase !== last) o.progress(line, false);
    last = phase;
    if (job && ended(job)) break;
    if (Date.now() > deadline)
      throw new CliError(
        `Gave up waiting after ${o.timeoutSeconds} s; the job goes on. Follow it with: avatar-pipeline status ${stem}`,
        EXIT.timeout,
        'TIMEOUT',
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
  o.progress('', true);
  return job;
}

/** What `--wait` ends with: where the video is, its length and cost; or the record with its error. */
function ending(target: Target, job: JobRecord): Outcome {
  const seconds = videoSeconds(job);
  const videos = outputLocations(job, target.names.outputBucket);
  const text =
    job.status === 'DELIVERED'
      ? [
          `Delivered ${job.stem} (job ${job.jobId}).`,
          ...videos.map((v) => `Video: ${v}`),
          `Duration: ${seconds === undefined ? '-' : `${seconds.toFixed(2)} s`}   Cost: ${
            job.costUnknown
              ? `unknown (Runware reported none; estimated ${usd(job.estimatedCostUsd)})`
              : usd(job.costUsd)
          }`,
          ...outputCheckLines(job),
        ].join('\n')
      : describeJob(job, target.names.outputBucket);
  return {
    json: { job, videos, durationSeconds: seconds, costUsd: job.costUsd },
    text,
    exitCode: job.status === 'DELIVERED' ? EXIT.ok : EXIT.jobFailed,
  };
}

/** The job named by id, or else the latest job of that stem. */
export async function findJob(target: Target, ref: string): Promise<JobRecord> {
  if (/^[0-9a-f]{32}$/.test(ref)) {
    const job = await target.jobs.get(ref);
    if (job) return job;
  }
  const stem = ref.replace(/^inbox\//, '').replace(/\.[A-Za-z0-9]+$/, '');
  const matching = (await target.jobs.list()).items.filter((j) => j.stem === ref || j.stem === stem);
  const latest = matching.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  if (!latest)
    throw new CliError(
      `No job "${ref}" (by stem or job id) in ${target.description}. List the jobs with: avatar-pipeline jobs`,
      EXIT.notFound,
      'UNKNOWN_JOB',
    );
  return latest;
}

export async function status(target: Target, ref: string): Promise<Outcome> {
  const job = await findJob(target, ref);
  return { json: job, text: describeJob(job, target.names.outputBucket) };
}

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

async function jobsSince(
  target: Target,
  since: Date | undefined,
): Promise<{ jobs: JobRecord[]; complete: boolean }> {
  const { items, complete } = await target.jobs.list();
  const jobs = items
    .filter((j) => !since || Date.parse(j.createdAt) >= since.getTime())
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  return { jobs, complete };
}

const partial = (complete: boolean) =>
  complete ? '' : '\n(The listing stopped at the scan limit: narrow it with --since.)';

export async function jobs(target: Target, options: { state?: string; since?: string }): Promise<Outcome> {
  const since = parseSince(options.since);
  const state = options.state?.toUpperCase();
  const listed = await jobsSince(target, since);
  const selected = listed.jobs.filter((j) => !state || j.status === state);
  return {
    json: {
      jobs: selected,
      count: selected.length,
      totalUsd: totalCost(selected),
      estimatedUsd: totalEstimate(selected),
      complete: listed.complete,
    },
    text: `${jobsTable(selected)}${partial(listed.complete)}`,
  };
}

export async function cost(target: Target, options: { since?: string }): Promise<Outcome> {
  const since = parseSince(options.since);
  const { jobs: all, complete } = await jobsSince(target, since);
  const paid = all.filter((j) => j.costUsd !== undefined || j.costUnknown);
  const unknown = unknownCostCount(all);
  const total = totalCost(all);
  const estimated = totalEstimate(all);
  const from = since ? ` since ${since.toISOString()}` : '';
  return {
    json: {
      since: since?.toISOString(),
      jobs: all.length,
      paidJobs: paid.length,
      unknownCostJobs: unknown,
      totalUsd: total,
      estimatedUsd: estimated,
      complete,
    },
    text:
      `${usd(total)} recorded for ${paid.length} of ${all.length} job(s)${from}; ` +
      `their estimates total ${usd(estimated)}.` +
      (unknown
        ? ` Runware reported no cost for ${unknown} of them: their estimate is counted in the total instead.`
        : '') +
      partial(complete),
  };
}

export async function estimate(
  options: { audio: string; results?: string; model?: string },
  /** Reads the target's price table (cli/prices.ts), after the arguments were checked; the defaults when not given. */
  readTable: () => Promise<PriceTable> = async () => ({
    prices: DEFAULT_SETTINGS.modelPricesUsdPerSecond,
    source: DEFAULT_PRICE_TABLE,
  }),
): Promise<Outcome> {
  const model = parseModel(options.model);
  const results = int('results', options.results) ?? 1;
  if (results < 1) throw new CliError('--results must be at least 1.', EXIT.usage, 'USAGE');
  const seconds = await measureAudio(options.audio);
  const table = await readTable();
  const result: Estimate = estimateCost(seconds, model, results, table.prices);
  const prices =
    table.source === DEFAULT_PRICE_TABLE
      ? `Prices: the default table (modelPricesUsdPerSecond defaults)${table.note ? `: ${table.note}` : ''}.`
      : `Prices: the table of ${table.source}.`;
  return {
    json: { ...result, priceTable: { source: table.source, ...(table.note ? { note: table.note } : {}) } },
    text:
      `${result.audioSeconds.toFixed(2)} s of audio x USD ${result.usdPerSecond}/s (${model}) x ${results} result(s)` +
      ` = ${usd(result.estimatedUsd)}\n${prices}`,
  };
}

/** Who runs the command, as the job record keeps it (`cancel.by`, `claimedBy`). */
export function operator(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no user entry (some containers): the host still says where it came from
  }
  return `${user}@${hostname()}`;
}

export interface CancelOptions {
  /** How long to wait for the job to end CANCELLED once its execution is stopped. @default 60 */
  timeoutSeconds?: number;
  by?: string;
}

const isTerminal = (job: JobRecord) => (TERMINAL_STATUSES as readonly string[]).includes(job.status);

/**
 * Stops a running job: marks the cancel, stops its execution (which gives back its Runware slot), and waits for
 * the job to end CANCELLED. Refused (exit 6) for a job that has ended or whose video is already made.
 */
export async function cancel(target: Target, ref: string, o: CancelOptions = {}): Promise<Outcome> {
  const job = await findJob(target, ref);
  const outcome = await requestCancel(job, o.by ?? operator(), {
    jobs: target.jobs,
    executions: new SfnExecutionStopper(target.sfn),
    executionArnOf: (name) => executionArnOf(target.names.stateMachineArn, name),
    now: () => new Date(),
  });
  if (outcome.kind === 'refused')
    throw new CliError(
      `Cannot cancel ${job.stem} (job ${job.jobId}, ${statusWords(outcome.job)}): ${outcome.reason}`,
      EXIT.wrongState,
      'NOT_CANCELLABLE',
    );
  // The fail function finishes the cancel when the stopped execution's end reaches it: seconds.
  const deadline = Date.now() + (o.timeoutSeconds ?? 60) * 1000;
  let current: JobRecord = outcome.job;
  for (;;) {
    current = (await target.jobs.get(job.jobId)) ?? current;
    if (current.attempt !== job.attempt || isTerminal(current) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const cancelled = current.attempt === job.attempt && current.status === 'CANCELLED';
  const taskAccepted = current.taskAccepted ?? outcome.taskAccepted;
  const during = outcome.job.cancel?.during ?? job.status;
  const lines = cancelled
    ? [
        `Cancelled ${job.stem} (job ${job.jobId}, attempt ${job.attempt}) at ${during}${during === 'QUEUED' ? ' (it was waiting for a Runware slot)' : ''}.`,
        taskAccepted
          ? `Runware had already accepted task ${current.taskUUID}: it cannot be recalled, and its charge may still come. ` +
            `If it does, it is recorded on the job (see: avatar-pipeline status ${job.stem}); the video is not delivered.`
          : current.taskUUID
            ? `Runware may have received task ${current.taskUUID} just before the cancel: if so, its charge may still ` +
              `come and is recorded on the job (see: avatar-pipeline status ${job.stem}).`
            : 'Runware never got the task: nothing was charged.',
        'Its Runware slot was given back.',
        `Report: s3://${target.names.outputBucket}/${errorOutputKey(job.stem)}`,
        `Start it again with the same inputs: avatar-pipeline retry ${job.stem}`,
      ]
    : [
        `Asked to cancel ${job.stem} (job ${job.jobId}); its execution was ${outcome.execution}. It is ${statusWords(current)} now.`,
        current.status === 'FAILED' || current.status === 'DELIVERED'
          ? 'It ended before the cancel could stop it.'
          : `It ends CANCELLED as soon as its execution stops. Follow it with: avatar-pipeline status ${job.stem}`,
      ];
  return {
    json: { job: current, cancelled, taskAccepted, execution: outcome.execution },
    text: lines.join('\n'),
  };
}

export interface RetryOptions extends Pick<SubmitOptions, 'timeoutSeconds' | 'progress'> {
  wait: boolean;
  by?: string;
}

/**
 * Starts the next attempt of a FAILED or CANCELLED job with the same inputs, without uploading them again.
 * Refused (exit 6) for a running or delivered job, or one whose inputs changed in the inbox since.
 */
export async function retry(target: Target, ref: string, o: RetryOptions): Promise<Outcome> {
  const job = await findJob(target, ref);
  const started = new Date();
  const outcome = await retryJob(job, o.by ?? operator(), {
    jobs: target.jobs,
    files: target.files,
    executions: new SfnExecutionStarter(target.sfn, target.names.stateMachineArn),
    now: () => started,
  });
  if (outcome.kind === 'refused')
    throw new CliError(
      `Cannot retry ${job.stem} (job ${job.jobId}, ${statusWords(outcome.job)}): ${outcome.reason}`,
      EXIT.wrongState,
      outcome.code,
    );
  const next = outcome.job;
  if (!o.wait)
    return {
      json: { job: next, executionArn: outcome.executionArn },
      text:
        `Started attempt ${next.attempt} of ${next.stem} (job ${next.jobId}) with the same inputs.\n` +
        `Follow it with: avatar-pipeline status ${next.stem}`,
    };
  const final = await follow(
    () => target.jobs.get(next.jobId),
    (j) => j.attempt !== next.attempt || isTerminal(j),
    started,
    next.stem,
    o,
  );
  return ending(target, final);
}
