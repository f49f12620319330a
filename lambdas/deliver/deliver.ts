import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import type { S3Client } from '@aws-sdk/client-s3';
import { loadAttempt } from '../core/attempt.js';
import {
  CONTENT_TYPE_OF_FORMAT,
  FILE_EXTENSION_OF_FORMAT,
  type OutputFormat,
} from '../core/contract/job-settings.js';
import { videoOutputKey } from '../core/contract/keys.js';
import { archiveKeyOf } from '../core/contract/output-names.js';
import { DeliveryError, JobStateError, TransientError } from '../core/errors.js';
import type { GenerationResult, StepInput } from '../core/job.js';
import { checkVideo, type OutputProblem, outputCheckOf, type VideoFacts } from '../core/output-check.js';
import {
  type ArchivedVideo,
  type ShowDeps,
  type ShowOutput,
  showOrArchive,
} from '../core/outputs/show-or-archive.js';
import type { TaskStore } from '../core/store/tasks.js';
import { type ContainerReader, containerReader } from './container.js';
import { type UploadOptions, uploadStream } from './upload.js';
import type { VideoSource } from './video-source.js';

/** Also how videos are uploaded ({@link UploadOptions}: one streamed PUT or multipart, and the part sizes). */
export interface DeliverDeps extends ShowDeps, UploadOptions {
  videos: VideoSource;
  s3: S3Client;
  /** The task item: the only place a result's full URL is kept (the job record keeps it without its query). */
  tasks: Pick<TaskStore, 'get'>;
}

export type DeliverOutput = ShowOutput;

/**
 * Streams each video from Runware into the job's archive in the output bucket (constant memory); then, if the
 * stem's inbox still holds this job, copies each (server side) to its visible name and writes the job record beside
 * it, and removes what an earlier job of the stem left there (a video of another format or count, an error file), so
 * the stem's outputs are exactly this job's (see show-or-archive.ts, also for an inbox that changed meanwhile). The archived
 * copy stays when a later job replaces the visible one: ingest copies it back if the stem's
 * inputs become this job's again. Safe to run again: the same keys are overwritten, so a retry leaves exactly one
 * output. A body that is cut short, or is not the container asked for, aborts the upload: no partial video is left.
 */
export async function deliverJob(input: StepInput, deps: DeliverDeps): Promise<DeliverOutput> {
  const job = await loadAttempt(deps.jobs, input);
  const results = job.results ?? [];
  if (!job.settings || results.length === 0) {
    throw new JobStateError('NOT_GENERATED', `Job ${job.jobId} has no results to deliver.`);
  }
  const format = job.settings.outputFormat;
  const extension = FILE_EXTENSION_OF_FORMAT[format];
  const planned = results.map((result, index) => ({
    result,
    key: videoOutputKey(job.stem, extension, index, results.length),
    archiveKey: archiveKeyOf(job.jobId, index, extension),
  }));
  // Reserved at validation; checked again so that no video of another stem is ever overwritten. The check runs
  // while the first download opens (it costs a round trip), and each upload waits for it before writing.
  // Keys validation reserved for this stem stay its own while the job runs (retention.ts): only others are asked for.
  const reserved = new Set(job.reservedOutputs ?? []);
  const unreserved = planned.map((p) => p.key).filter((key) => !reserved.has(key));
  const claimed = unreserved.length ? deps.outputs.claim(job.stem, unreserved) : Promise.resolve();
  // The full URLs (a presigned one's query included) are in the task item only (see recordableVideoUrl); a task
  // item that is gone leaves the record's URL, which is the full one for URLs without a query.
  const task = job.taskUUID ? await deps.tasks.get(job.taskUUID) : undefined;
  const fullUrl = (result: GenerationResult) => task?.results[result.videoUUID]?.videoURL ?? result.videoURL;
  claimed.catch(() => undefined); // awaited before every write; this only keeps it from counting as unhandled
  const archived: ArchivedVideo[] = [];
  const checked: { facts: VideoFacts; problems: OutputProblem[] }[] = [];
  const audioSeconds = job.media?.audio.durationSeconds;
  for (const { result, key, archiveKey } of planned) {
    const { bytes, reader } = await copyVideo(fullUrl(result), { archiveKey, key }, format, deps, claimed);
    archived.push({ key, archiveKey, bytes, videoUUID: result.videoUUID });
    checked.push(checkVideo(key, reader.finish(), audioSeconds));
  }
  // Shown under the stem's names only if the stem's inbox still holds this job (see show-or-archive.ts); a video that fails
  // the check is delivered all the same (it was paid for), with its problems on record.
  return showOrArchive(job, archived, deps, outputCheckOf(checked, audioSeconds));
}

async function copyVideo(
  videoURL: string,
  { archiveKey, key }: { archiveKey: string; key: string },
  format: OutputFormat,
  deps: DeliverDeps,
  claimed: Promise<void>,
) {
  const download = await deps.videos.open(videoURL);
  try {
    await claimed;
  } catch (error) {
    await download.body.cancel().catch(() => undefined);
    throw error;
  }
  const check = new VerifyVideo(format, download.contentLength);
  const source = Readable.fromWeb(download.body as NodeWebReadableStream<Uint8Array>);
  // pipe() does not forward errors: a download that breaks off must fail the check (and so the upload), not
  // surface as an unhandled 'error' event that kills the process.
  source.once('error', (error) => check.abort(error));
  const body = source.pipe(check);
  const target = {
    bucket: deps.outputs.bucket,
    key: archiveKey,
    contentType: CONTENT_TYPE_OF_FORMAT[format],
    contentLength: download.contentLength,
  };
  try {
    await uploadStream(deps.s3, target, body, deps);
  } catch (error) {
    // The store may fail before the body was read to its end: the download is of no further use.
    source.destroy();
    if (check.failure) throw check.failure;
    if (error instanceof DeliveryError || error instanceof TransientError) throw error;
    throw new TransientError(
      'OUTPUT_WRITE_FAILED',
      `Could not write ${key} to the output bucket (${(error as Error).name}).`,
      { cause: error },
    );
  }
  if (check.failure) throw check.failure;
  if (!check.complete) {
    // The store answered before the body ended: what it holds was never checked whole, so it is not trusted.
    throw new TransientError(
      'OUTPUT_WRITE_FAILED',
      `The output bucket accepted ${key} before the whole video had streamed (${check.bytes} bytes).`,
    );
  }
  return { bytes: check.bytes, reader: check.reader };
}

/** Signature of each container at the start of the file (`ftyp` at offset 4 for MP4/MOV, EBML for WebM). */
function looksLike(format: OutputFormat, head: Buffer): boolean {
  if (format === 'WEBM') return head.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]));
  const box = head.subarray(4, 8).toString('latin1');
  return ['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip'].includes(box);
}

/**
 * Counts bytes and checks the container signature and the announced length while the video streams, and passes
 * every byte to a container reader, which keeps only the header (see container.ts): memory stays bounded.
 */
class VerifyVideo extends Transform {
  bytes = 0;
  readonly reader: ContainerReader;
  failure: Error | undefined;
  /** Set once the whole body has passed every check. */
  complete = false;
  private head = Buffer.alloc(0);

  constructor(
    private readonly format: OutputFormat,
    private readonly expectedLength: number | undefined,
  ) {
    super();
    this.reader = containerReader(format);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.head.length < 12) {
      this.head = Buffer.concat([this.head, chunk]).subarray(0, 12);
      if (this.head.length >= 12 && !looksLike(this.format, this.head)) {
        const message = `The file Runware served is not a ${this.format} video.`;
        callback(this.fail(new DeliveryError('VIDEO_WRONG_CONTENT', message)));
        return;
      }
    }
    this.bytes += chunk.length;
    this.reader.push(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const error = this.checkComplete();
    this.complete = error === null;
    callback(error);
  }

  /** An error if the body was empty, too short to be a video, or shorter than its Content-Length. */
  private checkComplete(): Error | null {
    const truncated = (message: string) => this.fail(new TransientError('VIDEO_TRUNCATED', message));
    if (this.bytes === 0 || this.head.length < 12) {
      return truncated(`The video download was empty or cut short (${this.bytes} bytes).`);
    }
    if (this.expectedLength !== undefined && this.bytes !== this.expectedLength) {
      return truncated(`The video download was cut short: ${this.bytes} of ${this.expectedLength} bytes.`);
    }
    return null;
  }

  /** The download broke off (connection reset, timeout): what arrived is not the whole video. */
  abort(cause: Error): void {
    const of = this.expectedLength === undefined ? '' : ` of ${this.expectedLength}`;
    const error = new TransientError(
      'VIDEO_TRUNCATED',
      `The video download was cut short: ${this.bytes}${of} bytes arrived before the connection broke ` +
        `(${cause.message}).`,
      { cause },
    );
    this.destroy(this.failure ?? this.fail(error));
  }

  private fail(error: Error): Error {
    this.failure = error;
    return error;
  }
}
