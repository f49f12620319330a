/**
 * One delivery of a synthetic MP4 into S3, in a process of its own so that its peak memory is its own:
 * `tsx bench/delivery.ts <pipeline|baseline> <MiB>` prints `{ mode, mb, seconds, peakRssMiB, startRssMiB }`.
 *
 * - `pipeline`: the real deliver core (the HTTP video source, its upload into the job's archive: one streamed
 *   PutObject for a known length, then the server-side copy to the visible name; the job table on dynalite), as
 *   bench/deliver-memory.ts runs it. It also reports `copySeconds`, the time of that server-side copy, a second
 *   write of the whole video that the baseline does not make (the archive that restores need).
 * - `baseline`: the same copy with the least code: a presigned PUT URL, and the HTTP download piped into one
 *   `http.request` PUT (what `curl <video> | curl -T - <presigned>` does).
 * Both run against the same in-process emulators (s3rver, dynalite) and video server, so their absolute memory
 * includes those; the comparison between the modes does not depend on it.
 */

import { get, request } from 'node:http';
import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { deliverOne, MiB, startDeliveryRig, storedBytes } from './support.js';

const mode = process.argv[2] === 'baseline' ? 'baseline' : 'pipeline';
const mb = Number(process.argv[3] ?? 1024);

const rig = await startDeliveryRig(mb);
const { origin, s3 } = rig;

/** The least code that copies the video: download piped into one presigned PUT. */
async function baselineCopy(key: string): Promise<void> {
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: rig.bucket, Key: key }), {
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
let copySeconds = 0;
if (mode === 'pipeline') {
  // Times the server-side copy from the archive to the visible name (the rest of the delivery is the upload).
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== CopyObjectCommand.name) return next(args);
      const at = performance.now();
      try {
        return await next(args);
      } finally {
        copySeconds += (performance.now() - at) / 1000;
      }
    },
    { step: 'initialize', name: 'benchCopyTimer' },
  );
}
const started = performance.now();
if (mode === 'pipeline') {
  key = await deliverOne(rig, `${origin}/video.mp4`);
} else {
  key = 'baseline/video.mp4';
  await baselineCopy(key);
}
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
const bytes = await storedBytes(rig, key);
await rig.stop();
if (bytes !== mb * MiB) {
  console.error(`delivery ${mode}: the stored video has ${bytes} bytes, not ${mb * MiB}`);
  process.exit(1);
}
console.log(
  JSON.stringify({
    mode,
    mb,
    seconds,
    ...(mode === 'pipeline' ? { copySeconds } : {}),
    peakRssMiB: Math.round(peak / MiB),
    startRssMiB: Math.round(startRss / MiB),
  }),
);
