import { FILE_EXTENSION_OF_FORMAT, MAX_NUMBER_RESULTS, OUTPUT_FORMATS } from './job-settings.js';
import { errorOutputKey, recordOutputKey, videoOutputKey } from './keys.js';

/**
 * The output naming rule. Output keys mirror the stem (`<stem>.mp4`, `<stem>-1.mp4`, `<stem>.json`,
 * `<stem>.error.json`), so two stems can name the same key: the record of stem `x.error` is `x.error.json`, the
 * error file of stem `x`; the second video of stem `x` is `x-2.mp4`, the video of stem `x-2`. No renaming scheme
 * keeps keys readable and free of such clashes, so each output key is reserved for the first stem (compared in
 * Unicode NFC) that needs it, with a conditional write, before any money is spent (at validation). A job whose
 * names are held by another stem fails there, with a message naming that stem; no writer ever writes or deletes
 * a key that another stem holds.
 */

/** Every key a job of `stem` may write: its videos, its record and its error file. */
export interface OutputNames {
  videos: string[];
  record: string;
  error: string;
}

/**
 * The keys of a job with `numberResults` videos in the format whose file extension is `extension`. With several
 * results asked for, `<stem>.<ext>` is reserved too: if only one of them is made, it is delivered under that name.
 */
export function outputNamesOf(stem: string, extension: string, numberResults: number): OutputNames {
  const numbered = Array.from({ length: numberResults }, (_, i) =>
    videoOutputKey(stem, extension, i, numberResults),
  );
  return {
    videos: numberResults > 1 ? [videoOutputKey(stem, extension, 0, 1), ...numbered] : numbered,
    record: recordOutputKey(stem),
    error: errorOutputKey(stem),
  };
}

/** The order keys are reserved in: the error file first, so a job can always report why it stopped. */
export const reservationOrder = (names: OutputNames): string[] => [
  names.error,
  names.record,
  ...names.videos,
];

/** The stem as the pipeline compares it: Unicode NFC, so `café` typed two ways is one job. */
export const ownerOf = (stem: string): string => stem.normalize('NFC');

/** The message of a job whose output key `key` is held by `holder`: what happened and how to get out of it. */
export function nameTakenMessage(stem: string, key: string, holder: string): string {
  return (
    `The output name ${key} of "${stem}" already belongs to the job "${holder}" (output names mirror the stem: ` +
    '<stem>.mp4, <stem>-1.mp4 ... with several results, <stem>.json and <stem>.error.json), so this job would ' +
    `overwrite its files. Nothing was sent to Runware. Rename the image, the audio and the sidecar of "${stem}" ` +
    'to a name that does not end like another job\'s outputs (for example without ".error", "-1", "-2", or ".json" ' +
    'at the end), and upload them again.'
  );
}

/** The file extensions of the videos a job can deliver (`mp4`, `webm`, `mov`). */
export const VIDEO_EXTENSIONS: readonly string[] = OUTPUT_FORMATS.map((f) => FILE_EXTENSION_OF_FORMAT[f]);

/**
 * Every video and error key any job of `stem` may have written, whatever its format and number of results: what
 * can be left over from an earlier job of the stem once another one's outputs are in place. (`<stem>.json` is
 * not listed: every job overwrites it.) Some of these keys may be held by other stems; writers check that.
 */
export function stemOutputCandidates(stem: string): string[] {
  const keys = new Set<string>([errorOutputKey(stem)]);
  for (const extension of VIDEO_EXTENSIONS) {
    for (let n = 1; n <= MAX_NUMBER_RESULTS; n++) {
      for (const key of outputNamesOf(stem, extension, n).videos) keys.add(key);
    }
  }
  return [...keys];
}

/**
 * The per-job archive. Deliver writes each video first under `archive/<jobId>/`, then copies it (server side) to
 * its visible name; the copy there stays when a later job of the stem replaces the visible one, so the stem's
 * inputs changed back bring that job's outputs back by another server-side copy, with no new render.
 *
 * Archive keys end in `.archived`: every output key ends in `.mp4`, `.webm`, `.mov` or `.json` (see
 * `fitS3Key`, which keeps the suffix), so no stem's outputs can ever be named like an archived copy, whatever
 * the stem, even one under a folder called `archive`. They are plain ASCII, so they need no escaping as a
 * `CopySource`.
 */
export const ARCHIVE_PREFIX = 'archive/';

/** The archived copy of the `index`-th video (0-based) of job `jobId`, in the format with `extension`. */
export const archiveKeyOf = (jobId: string, index: number, extension: string): string =>
  `${ARCHIVE_PREFIX}${jobId}/video-${index + 1}.${extension}.archived`;

/** The job record of job `jobId`, archived beside its videos when its delivery did not show them. */
export const archiveRecordKeyOf = (jobId: string): string => `${ARCHIVE_PREFIX}${jobId}/record.json.archived`;
