/**
 * Benchmark: deliver streams a video into the output bucket in constant memory, whatever its size.
 *
 * Serves synthetic MP4s over HTTP on 127.0.0.1 and runs the real deliver core on them (the real lib-storage
 * multipart upload into the local S3 emulator, the job table on dynalite), sampling the process's resident
 * memory: first a small video (SMALL_MB), then a large one (VIDEO_MB). Memory that grows with the video shows
 * up as the large run's peak above the small run's; the bench fails if that passes the target. The emulator
 * runs in the same process, so absolute numbers include it; the difference does not.
 * Run: `npm run bench` (VIDEO_MB, SMALL_MB and TARGET_EXTRA_MB override the defaults).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { OutputWriter } from '../lambdas/core/outputs.js';
import { DynamoJobStore } from '../lambdas/core/store/jobs.js';
import { DynamoShownOutputsStore } from '../lambdas/core/store/shown.js';
import { Table } from '../lambdas/core/store/table.js';
import { deliverJob } from '../lambdas/deliver/deliver.js';
import { HttpVideoSource } from '../lambdas/deliver/video-source.js';
import { startDynamo } from '../test/support/dynamo.js';
import { result, seedValidatedJob } from '../test/support/jobs.js';
import { MemoryOutputNameStore } from '../test/support/output-names.js';

const VIDEO_MB = Number(process.env.VIDEO_MB ?? 1024);
const SMALL_MB = Number(process.env.SMALL_MB ?? 64);
/** Parts of 8 MiB, two in flight: the large video may cost at most this much more than the small one. */
const TARGET_EXTRA_MB = Number(process.env.TARGET_EXTRA_MB ?? 32);

const chunk = Buffer.alloc(1024 * 1024, 7);
const header = Buffer.from([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d]);
const server = createServer((req, res) => {
  const mb = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('mb'));
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

const s3Dir = mkdtempSync(join(tmpdir(), 'avatar-bench-'));
const s3rver = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: s3Dir,
  configureBuckets: [{ name: 'bench-out' }],
});
const s3Address = await s3rver.run();

const dynamo = await startDynamo();
const table = new Table(dynamo.client, dynamo.tableName);
const jobs = new DynamoJobStore(table);
const shown = new DynamoShownOutputsStore(table);
const s3 = new S3Client({
  region: 'us-east-1',
  endpoint: `http://127.0.0.1:${s3Address.port}`,
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

/** Delivers one video of `mb` MiB; returns the peak RSS seen and the seconds it took. */
async function deliverOnce(mb: number): Promise<{ peak: number; seconds: number }> {
  const job = await seedValidatedJob(jobs, {
    status: 'GENERATED',
    results: [result(1, { videoURL: `${origin}/video.mp4?mb=${mb}` })],
  });
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const started = performance.now();
  await deliverJob(
    { jobId: job.jobId, attempt: 1 },
    {
      jobs,
      s3,
      outputs: new OutputWriter(s3, 'bench-out', new MemoryOutputNameStore()),
      videos: new HttpVideoSource([origin]),
      shown,
    },
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'bench-out', Key: `${job.stem}.mp4` }));
  if (head.ContentLength !== mb * chunk.length) {
    console.error(
      `deliver: FAILED, the stored video has ${head.ContentLength} bytes, not ${mb * chunk.length}`,
    );
    process.exit(1);
  }
  return { peak: Math.max(peak, process.memoryUsage().rss), seconds };
}

const baseline = process.memoryUsage().rss;
const small = await deliverOnce(SMALL_MB);
const large = await deliverOnce(VIDEO_MB);
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const extra = (large.peak - small.peak) / 1024 / 1024;
console.log(
  `deliver: ${SMALL_MB} MiB in ${small.seconds.toFixed(2)} s, peak RSS +${mib(small.peak - baseline)} MiB`,
);
console.log(
  `deliver: ${VIDEO_MB} MiB in ${large.seconds.toFixed(2)} s (${(VIDEO_MB / large.seconds).toFixed(0)} MiB/s), ` +
    `peak RSS +${mib(large.peak - baseline)} MiB`,
);
console.log(
  `deliver: the ${VIDEO_MB / SMALL_MB}x larger video cost ${extra.toFixed(1)} MiB more (target < ${TARGET_EXTRA_MB} MiB)`,
);
server.close();
await dynamo.stop();
await s3rver.close();
rmSync(s3Dir, { recursive: true, force: true });
if (extra >= TARGET_EXTRA_MB) {
  console.error('deliver: FAILED, memory grows with the video: the copy is not streaming');
  process.exit(1);
}
console.log('deliver: OK');
