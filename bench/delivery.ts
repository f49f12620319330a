/**
 * One delivery of a synthetic MP4 into S3, in a process of its own so that its peak memory is its own:
 * `tsx bench/delivery.ts <pipeline|baseline> <MiB>` prints `{ mode, mb, seconds, peakRssMiB, startRssMiB }`.
 *
 * - `pipeline`: the real deliver core (the HTTP video source, lib-storage multipart upload, the job table on
 *   dynalite), as bench/deliver-memory.ts runs it.
 * - `baseline`: the same copy with the least code: a presigned PUT URL, and the HTTP download piped into one
 *   `http.request` PUT (what `curl <video> | curl -T - <presigned>` does).
 * Both run against the same in-process emulators (s3rver, dynalite) and video server, so their absolute memory
 * includes those; the comparison between the modes does not depend on it.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, get, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
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

const mode = process.argv[2] === 'baseline' ? 'baseline' : 'pipeline';
const mb = Number(process.argv[3] ?? 1024);

const chunk = Buffer.alloc(1024 * 1024, 7);
const header = Buffer.from([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d]);
const server = createServer((_req, res) => {
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

const s3Dir = mkdtempSync(join(tmpdir(), 'avatar-bench-delivery-'));
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

/** The least code that copies the video: download piped into one presigned PUT. */
async function baselineCopy(key: string): Promise<void> {
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'bench-out', Key: key }), {
    expiresIn: 900,
  });
  await new Promise<void>((resolve, reject) => {
    get(`${origin}/video.mp4`, (source) => {
      const put = request(
        url,
        { method: 'PUT', headers: { 'content-length': source.headers['content-length'] ?? '0' } },
        (answer) => {
          answer.resume();
          answer.on('end', () =>
            answer.statusCode === 200 ? resolve() : reject(new Error(`PUT ${answer.statusCode}`)),
          );
        },
      );
      put.on('error', reject);
      source.pipe(put);
    }).on('error', reject);
  });
}

const startRss = process.memoryUsage().rss;
let peak = startRss;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);
let key: string;
const started = performance.now();
if (mode === 'pipeline') {
  const job = await seedValidatedJob(jobs, {
    status: 'GENERATED',
    results: [result(1, { videoURL: `${origin}/video.mp4` })],
  });
  key = `${job.stem}.mp4`;
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
} else {
  key = 'baseline/video.mp4';
  await baselineCopy(key);
}
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
const head = await s3.send(new HeadObjectCommand({ Bucket: 'bench-out', Key: key }));
server.close();
await dynamo.stop();
await s3rver.close();
rmSync(s3Dir, { recursive: true, force: true });
if (head.ContentLength !== mb * chunk.length) {
  console.error(
    `delivery ${mode}: the stored video has ${head.ContentLength} bytes, not ${mb * chunk.length}`,
  );
  process.exit(1);
}
const MiB = 1024 * 1024;
console.log(
  JSON.stringify({
    mode,
    mb,
    seconds,
    peakRssMiB: Math.round(peak / MiB),
    startRssMiB: Math.round(startRss / MiB),
  }),
);
