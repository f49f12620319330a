import { acceptedExtensionsText } from '../core/contract/keys.js';
import { HOW_TO_RETRY, type OutputWriter } from '../core/outputs/writer.js';
import { visibleKey } from '../core/stem-files.js';
import type { FileStore } from '../core/store/files.js';

export interface SweepDeps {
  files: FileStore;
  outputs: OutputWriter;
  now: () => Date;
  /** The `acceptOggAudio` setting: whether the report lists `.ogg` among the audio types to upload. */
  acceptOggAudio: boolean;
}

export interface SweepOutput {
  /** Stems reported as orphans on this run. */
  reported: string[];
  /** Stems whose watch was dropped because the pair is complete or the files are gone. */
  cleared: string[];
}

/**
 * Reports lone images, audio files and sidecars whose partners never arrived: `<stem>.error.json` with
 * ORPHAN_INPUT says which files are waiting (their keys spelled out, so a look-alike name shows) and what to
 * upload. Nothing is started and nothing is deleted; if the partner arrives
 * later the job starts as usual. Runs on a schedule; safe to run concurrently (a stem is reported once).
 */
export async function sweepOrphans(deps: SweepDeps): Promise<SweepOutput> {
  const now = deps.now();
  const reported: string[] = [];
  const cleared: string[] = [];
  for (const watch of await deps.files.dueOrphans(now.toISOString())) {
    const files = await deps.files.list(watch.stem);
    const images = files.filter((f) => f.role === 'image');
    const audios = files.filter((f) => f.role === 'audio');
    const sidecars = files.filter((f) => f.role === 'sidecar');
    if ((images.length > 0 && audios.length > 0) || files.length === 0) {
      await deps.files.unwatchOrphan(watch.stem);
      cleared.push(watch.stem);
      continue;
    }
    if (!(await deps.files.markOrphanReported(watch.stem, now.toISOString()))) continue;
    const waiting = [...images, ...audios, ...sidecars];
    const present = waiting.map((f) => visibleKey(f.key)).join(', ');
    const missing = [
      ...(images.length === 0 ? [`image (${acceptedExtensionsText('image', deps.acceptOggAudio)})`] : []),
      ...(audios.length === 0
        ? [`audio file (${acceptedExtensionsText('audio', deps.acceptOggAudio)})`]
        : []),
    ].join(' and ');
    const waited = duration(now.getTime() - Date.parse(watch.since));
    await deps.outputs.putError({
      stem: watch.stem,
      stage: 'RECEIVED',
      code: 'ORPHAN_INPUT',
      message:
        `${present} ${waiting.length > 1 ? 'have' : 'has'} waited ${waited} for ${waiting.length > 1 ? 'their' : 'its'} ` +
        `${missing} named "${watch.stem}". Nothing was started. Upload the missing ` +
        `${images.length + audios.length === 0 ? 'files' : 'file'} to inbox/${watch.stem}.<extension> to run the ` +
        'job (names are compared as you see them, in Unicode NFC), or delete what is there.',
      howToRetry: HOW_TO_RETRY,
      inputs: Object.fromEntries(waiting.map((f) => [f.role, f.key])),
      failedAt: now.toISOString(),
    });
    reported.push(watch.stem);
  }
  return { reported, cleared };
}

/** `45 s`, `12 min`, `3.5 h`, `2.0 days`: how long a file has waited, in words a person reads at a glance. */
function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}
