/**
 * Shared pieces of the benchmarks: process-tree sampling, statistics, the machine, the delivery benchmarks' rig
 * and dropping a batch of pairs into local mode.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { OutputWriter } from '../lambdas/core/outputs/writer.js';
import { DynamoFileStore } from '../lambdas/core/store/files.js';
import { DynamoJobStore } from '../lambdas/core/store/jobs.js';
import { DynamoShownOutputsStore } from '../lambdas/core/store/shown-outputs.js';
import { Table } from '../lambdas/core/store/table.js';
import { deliverJob } from '../lambdas/deliver/deliver.js';
import { HttpVideoSource } from '../lambdas/deliver/video-source.js';
import { makeSamplePortrait, makeSampleVoice } from '../local/ffmpeg.js';
import type { LocalStack } from '../local/stack.js';
import { startDynamo } from '../test/support/dynamo.js';
import { result, seedValidatedJob } from '../test/support/jobs.js';
import { MemoryOutputNameStore } from '../test/support/output-names.js';

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

/**
 * Samples this process's tree every `intervalMs` and keeps the peak number of processes and the peak resident
 * memory seen, until `stop()` (which may be called more than once).
 */
export function sampleTreePeak(intervalMs = 1_000): {
  peak: { processes: number; rssMiB: number };
  stop(): void;
} {
  const peak = { processes: 0, rssMiB: 0 };
  const timer = setInterval(() => {
    const now = sampleTree();
    peak.processes = Math.max(peak.processes, now.processes);
    peak.rssMiB = Math.max(peak.rssMiB, now.rssMiB);
  }, intervalMs);
  return { peak, stop: () => clearInterval(timer) };
}

/**
 * Lets the bench end cleanly after it stopped a local stack with jobs still running (figure 2 leaves jobs
 * waiting for a slot). The DynamoDB emulator (dynalite) then still settles operations it had in flight and
 * rejects them with "Database is closed" where nothing listens: an unhandled rejection that crashed the bench
 * after its results were written. Once `stopped()` was called, those errors are reported in one line and
 * ignored; any other error ends the process with a failure, as it would have without this.
 */
export function endCleanlyAfterStop(): { stopped(): void } {
  let stopped = false;
  let ignored = 0;
  const late = (error: unknown) =>
    stopped && error instanceof Error && /Database is closed/.test(error.message);
  const onError = (error: unknown) => {
    if (late(error)) {
      if (ignored++ === 0)
        console.error('bench: ignored the DynamoDB emulator closing under jobs still running');
      return;
    }
    console.error(error);
    process.exit(1);
  };
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
  return {
    stopped: () => {
      stopped = true;
    },
  };
}

/** The q-quantile (0..1) of `values`, nearest rank; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export const round = (v: number, digits = 0) => Math.round(v * 10 ** digits) / 10 ** digits;

/** One line of the bench's table. */
export interface Row {
  figure: string;
  metric: string;
  median: string;
  spread: string;
  target: string;
  met?: boolean;
}

/** A spread as the table's median and min–max cells. */
export function fmt(s: Spread, unit: string, digits = 0): { median: string; spread: string } {
  return {
    median: `${round(s.median, digits)} ${unit}`.trim(),
    spread: s.n > 1 ? `${round(s.min, digits)}–${round(s.max, digits)} (n=${s.n})` : `n=${s.n}`,
  };
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

// ------------------------------------------------------------------------------- delivery rig
/**
 * What the delivery benchmarks share: a server of synthetic MP4s on 127.0.0.1 (`/video.mp4?mb=N`, N MiB, or
 * `defaultMb`), the local S3 emulator with the bucket `bench-out`, the job table on dynalite, and an S3 client
 * for them. Everything runs in this process, so its memory counts in what a benchmark samples.
 */
export interface DeliveryRig {
  origin: string;
  bucket: string;
  s3: S3Client;
  jobs: DynamoJobStore;
  shown: DynamoShownOutputsStore;
  files: DynamoFileStore;
  stop(): Promise<void>;
}

export const MiB = 1024 * 1024;

export async function startDeliveryRig(defaultMb = 1): Promise<DeliveryRig> {
  const chunk = Buffer.alloc(MiB, 7);
  const header = Buffer.from([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d]);
  const server = createServer((req, res) => {
    const mb = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('mb') ?? defaultMb);
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(mb * chunk.length) });
    let sent = 0;
    const pump = () => {
      while (sent < mb) {
        const piece = sent === 0 ? Buffer.concat([header, chunk.subarray(header.length)]) : chunk;
        sent += 1;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const bucket = 'bench-out';
  const s3Dir = mkdtempSync(join(tmpdir(), 'avatar-bench-delivery-'));
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: s3Dir,
    configureBuckets: [{ name: bucket }],
  });
  const s3Address = await s3rver.run();
  const dynamo = await startDynamo();
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${s3Address.port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    origin,
    bucket,
    s3,
    jobs: new DynamoJobStore(new Table(dynamo.client, dynamo.tableName)),
    shown: new DynamoShownOutputsStore(new Table(dynamo.client, dynamo.tableName)),
    files: new DynamoFileStore(new Table(dynamo.client, dynamo.tableName)),
    async stop() {
      server.close();
      await dynamo.stop();
      await s3rver.close();
      rmSync(s3Dir, { recursive: true, force: true });
    },
  };
}

/** Runs the real deliver core on one seeded job whose video is `videoURL`; returns the key it wrote. */
export async function deliverOne(rig: DeliveryRig, videoURL: string): Promise<string> {
  const job = await seedValidatedJob(rig.jobs, {
    status: 'GENERATED',
    results: [result(1, { videoURL })],
  });
  await deliverJob(
    { jobId: job.jobId, attempt: 1 },
    {
      jobs: rig.jobs,
      s3: rig.s3,
      outputs: new OutputWriter(rig.s3, rig.bucket, new MemoryOutputNameStore()),
      videos: new HttpVideoSource([rig.origin]),
      // No task item: the job record's URL (no query) is the one downloaded.
      tasks: { get: async () => undefined },
      shown: rig.shown,
      files: rig.files,
      now: () => new Date(),
    },
  );
  return `${job.stem}.mp4`;
}

/** The stored size of `key`, to check that a delivery wrote the whole video. */
export async function storedBytes(rig: DeliveryRig, key: string): Promise<number | undefined> {
  return (await rig.s3.send(new HeadObjectCommand({ Bucket: rig.bucket, Key: key }))).ContentLength;
}

// ----------------------------------------------------------------------------- a batch of pairs
/** A sample portrait and a 3 s voice track, made with ffmpeg in a new temporary folder (also returned). */
export async function makeSamples(prefix: string): Promise<{ dir: string; portrait: Buffer; voice: Buffer }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  await Promise.all([
    makeSamplePortrait(join(dir, 'portrait.png')),
    makeSampleVoice(join(dir, 'voice.wav'), 3),
  ]);
  return {
    dir,
    portrait: readFileSync(join(dir, 'portrait.png')),
    voice: readFileSync(join(dir, 'voice.wav')),
  };
}

/** The voice track with one PCM sample changed: a different track, so a different job. */
export function variant(voice: Buffer, i: number): Buffer {
  const audio = Buffer.from(voice);
  const at = audio.length - 2 - 2 * (i % 1000);
  audio.writeInt16LE((audio.readInt16LE(at) + 1 + Math.floor(i / 1000)) & 0x7fff, at);
  return audio;
}

/** Drops `pairs` portrait + voice pairs into the inbox at once, as `<prefix>/pair-NNNN.{png,wav}`. */
export async function dropPairs(
  stack: LocalStack,
  prefix: string,
  pairs: number,
  portrait: Buffer,
  voice: Buffer,
): Promise<void> {
  const put = (key: string, body: Buffer) =>
    stack.s3.send(new PutObjectCommand({ Bucket: stack.names.inputBucket, Key: `inbox/${key}`, Body: body }));
  await Promise.all(
    Array.from({ length: pairs }, async (_, i) => {
      const stem = `${prefix}/pair-${String(i).padStart(4, '0')}`;
      await Promise.all([put(`${stem}.png`, portrait), put(`${stem}.wav`, variant(voice, i))]);
    }),
  );
}

/**
 * Waits (listing the output bucket every second) until `pairs` jobs under `prefix` have a video or an error
 * file, or `timeoutS` has passed since `started`; then reads each error file for its stage, code and message.
 */
export async function awaitPairs(
  stack: LocalStack,
  prefix: string,
  pairs: number,
  started: number,
  timeoutS: number,
): Promise<{
  delivered: number;
  errors: { key: string; stage?: string; code?: string; message?: string }[];
  seconds: number;
}> {
  let delivered = 0;
  let errorKeys: string[] = [];
  while (Date.now() - started < timeoutS * 1000) {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await stack.s3.send(
        new ListObjectsV2Command({
          Bucket: stack.names.outputBucket,
          Prefix: `${prefix}/`,
          ContinuationToken: token,
        }),
      );
      keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
      token = page.NextContinuationToken;
    } while (token);
    delivered = keys.filter((k) => k.endsWith('.mp4')).length;
    errorKeys = keys.filter((k) => k.endsWith('.error.json'));
    if (delivered + errorKeys.length >= pairs) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const seconds = (Date.now() - started) / 1000;
  const errors = [];
  for (const key of errorKeys) {
    const object = await stack.s3.send(new GetObjectCommand({ Bucket: stack.names.outputBucket, Key: key }));
    const error = JSON.parse((await object.Body?.transformToString()) ?? '{}') as {
      stage?: string;
      code?: string;
      message?: string;
    };
    errors.push({ key, ...error });
  }
  return { delivered, errors, seconds };
}
