/**
 * Figure 3: delivery of a large video by the pipeline's deliver core against the least-code baseline, each run in a
 * process of its own (bench/delivery.ts) so that its peak memory is its own.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, type Row, round, spread } from './support.js';

export interface DeliveryOptions {
  videoMb: number;
  /** Pairs of runs (baseline, then pipeline). */
  runs: number;
  /** Whether the bench has used its time: the second and later runs are then left out. */
  outOfTime(): boolean;
  progress(line: string): void;
}

export function measureDelivery({ videoMb, runs: runCount, outOfTime, progress }: DeliveryOptions): {
  report: unknown;
  rows: Row[];
} {
  const rows: Row[] = [];
  const runs: Record<
    'pipeline' | 'baseline',
    { seconds: number; peakRssMiB: number; copySeconds?: number }[]
  > = {
    pipeline: [],
    baseline: [],
  };
  for (let i = 0; i < runCount; i++) {
    if (i > 0 && outOfTime()) {
      progress(`figure 3: run ${i + 1} left out, the bench has used its time budget`);
      break;
    }
    for (const mode of ['baseline', 'pipeline'] as const) {
      progress(`figure 3: ${videoMb} MiB by the ${mode}, run ${i + 1} of ${runCount}`);
      const child = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          join(dirname(fileURLToPath(import.meta.url)), 'delivery.ts'),
          mode,
          String(videoMb),
        ],
        { encoding: 'utf8', timeout: 300_000 },
      );
      const line = child.stdout.trim().split('\n').at(-1) ?? '';
      if (child.status !== 0 || !line.startsWith('{')) {
        console.error(`bench: delivery ${mode} failed: ${child.stderr.slice(-500)}`);
        continue;
      }
      runs[mode].push(JSON.parse(line) as { seconds: number; peakRssMiB: number; copySeconds?: number });
    }
  }
  const rate = (mode: 'pipeline' | 'baseline') => runs[mode].map((r) => videoMb / r.seconds);
  const ratios = runs.pipeline.map((r, i) =>
    runs.baseline[i] ? runs.baseline[i].seconds / r.seconds : Number.NaN,
  );
  const ratio = spread(ratios.filter((r) => !Number.isNaN(r)).map((r) => r * 100));
  // The same without the server-side copy into the visible name (the archive's second write of the video).
  const uploadRatio = spread(
    runs.pipeline
      .map((r, i) =>
        runs.baseline[i] ? runs.baseline[i].seconds / (r.seconds - (r.copySeconds ?? 0)) : Number.NaN,
      )
      .filter((r) => !Number.isNaN(r))
      .map((r) => r * 100),
  );
  const pipelinePeak = spread(runs.pipeline.map((r) => r.peakRssMiB));
  const report = { videoMiB: videoMb, runs, ratioPercent: ratio, uploadRatioPercent: uploadRatio };
  rows.push({
    figure: '3 delivery',
    metric: `deliver ${videoMb} MiB, MiB/s (baseline ${round(spread(rate('baseline')).median)} MiB/s)`,
    ...fmt(spread(rate('pipeline')), 'MiB/s'),
    target: '',
  });
  rows.push({
    figure: '3 delivery',
    metric: 'deliver speed as share of the baseline',
    ...fmt(ratio, '%'),
    target: '≥ 80 %',
    met: ratio.median >= 80,
  });
  rows.push({
    figure: '3 delivery',
    metric: `the same without the server-side copy to the visible name (copy ${round(
      spread(runs.pipeline.map((r) => r.copySeconds ?? 0)).median,
      1,
    )} s)`,
    ...fmt(uploadRatio, '%'),
    target: '',
  });
  rows.push({
    figure: '3 delivery',
    metric: `deliver peak RSS, emulators included (baseline ${spread(runs.baseline.map((r) => r.peakRssMiB)).median} MiB)`,
    ...fmt(pipelinePeak, 'MiB'),
    target: '< 256 MiB',
    met: pipelinePeak.median < 256,
  });
  return { report, rows };
}
