import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { JobRecord } from '../lambdas/core/job.js';
import { CliError, EXIT } from './errors.js';
import { type Estimate, estimateCost, measureAudio, parseModel } from './estimate.js';
import {
  describeJob,
  jobsTable,
  outputLocations,
  progressLine,
  totalCost,
  totalEstimate,
  usd,
  videoSeconds,
} from './format.js';
import type { Target } from './target.js';

/** What a command hands back: data for `--json`, words for people, and the exit code. */
export interface Outcome {
  json: unknown;
  text: string;
  exitCode?: number;
}

const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];
const AUDIO_EXTENSIONS = ['.mp3', '.wav', '.m4a', '.aac', '.ogg'];

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

async function readInput(file: string, role: string, allowed: string[]): Promise<Buffer> {
  const ext = extname(file).toLowerCase();
  if (!allowed.includes(ext))
    throw new CliError(`The ${role} must be one of ${allowed.join(' ')} (got ${file}).`, EXIT.usage, 'USAGE');
  try {
    return await readFile(file);
  } catch {
    throw new CliError(`Cannot read the ${role} file ${file}.`, EXIT.usage, 'USAGE');
  }
}

export async function submit(target: Target, o: SubmitOptions): Promise<Outcome> {
  const image = await readInput(o.image, 'image', IMAGE_EXTENSIONS);
  const audio = await readInput(o.audio, 'audio', AUDIO_EXTENSIONS);
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
    job.status === 'DELIVERED' || (job.status === 'FAILED' && Date.parse(job.updatedAt) >= started.getTime());
  const deadline = started.getTime() + o.timeoutSeconds * 1000;
  let last = '';
  let job: JobRecord | undefined;
  for (;;) {
    job = (await target.jobs.list()).items.find(isOurs);
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
  const seconds = videoSeconds(job);
  const videos = outputLocations(job, target.names.outputBucket);
  const text =
    job.status === 'DELIVERED'
      ? [
          `Delivered ${stem} (job ${job.jobId}).`,
          ...videos.map((v) => `Video: ${v}`),
          `Duration: ${seconds === undefined ? '-' : `${seconds.toFixed(2)} s`}   Cost: ${usd(job.costUsd)}`,
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
  const paid = all.filter((j) => j.costUsd !== undefined);
  const total = totalCost(all);
  const estimated = totalEstimate(all);
  const from = since ? ` since ${since.toISOString()}` : '';
  return {
    json: {
      since: since?.toISOString(),
      jobs: all.length,
      paidJobs: paid.length,
      totalUsd: total,
      estimatedUsd: estimated,
      complete,
    },
    text:
      `${usd(total)} recorded for ${paid.length} of ${all.length} job(s)${from}; ` +
      `their estimates total ${usd(estimated)}.${partial(complete)}`,
  };
}

export async function estimate(options: {
  audio: string;
  results?: string;
  model?: string;
}): Promise<Outcome> {
  const model = parseModel(options.model);
  const results = int('results', options.results) ?? 1;
  if (results < 1) throw new CliError('--results must be at least 1.', EXIT.usage, 'USAGE');
  const result: Estimate = estimateCost(await measureAudio(options.audio), model, results);
  return {
    json: result,
    text:
      `${result.audioSeconds.toFixed(2)} s of audio x USD ${result.usdPerSecond}/s (${model}) x ${results} result(s)` +
      ` = ${usd(result.estimatedUsd)}`,
  };
}
