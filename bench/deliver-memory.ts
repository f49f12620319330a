/**
 * Benchmark: deliver streams a video into the output bucket in constant memory, whatever its size.
 *
 * Serves synthetic MP4s over HTTP on 127.0.0.1 and runs the real deliver core on them (its real upload into the
 * local S3 emulator: one streamed PutObject, as the length is announced; the job table on dynalite), sampling
 * the process's resident memory: first a small video (SMALL_MB), then a large one (VIDEO_MB). Memory that grows
 * with the video shows up as the large run's peak above the small run's; the bench fails if that passes the
 * target. The emulator
 * runs in the same process, so absolute numbers include it; the difference does not.
 * Run: `npm run bench` (VIDEO_MB, SMALL_MB and TARGET_EXTRA_MB override the defaults).
 */

import { deliverOne, MiB, startDeliveryRig, storedBytes } from './support.js';

const VIDEO_MB = Number(process.env.VIDEO_MB ?? 1024);
const SMALL_MB = Number(process.env.SMALL_MB ?? 64);
/** The large video may cost at most this much more than the small one (multipart: parts of 8 MiB, two in flight). */
const TARGET_EXTRA_MB = Number(process.env.TARGET_EXTRA_MB ?? 32);

const rig = await startDeliveryRig();

/** Delivers one video of `mb` MiB; returns the peak RSS seen and the seconds it took. */
async function deliverOnce(mb: number): Promise<{ peak: number; seconds: number }> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const started = performance.now();
  const key = await deliverOne(rig, `${rig.origin}/video.mp4?mb=${mb}`);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const bytes = await storedBytes(rig, key);
  if (bytes !== mb * MiB) {
    console.error(`deliver: FAILED, the stored video has ${bytes} bytes, not ${mb * MiB}`);
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
await rig.stop();
if (extra >= TARGET_EXTRA_MB) {
  console.error('deliver: FAILED, memory grows with the video: the copy is not streaming');
  process.exit(1);
}
console.log('deliver: OK');
