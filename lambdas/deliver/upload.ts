import type { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/** S3's limit for one PutObject: above it only a multipart upload can store the object. */
export const S3_SINGLE_PUT_LIMIT = 5 * 1024 ** 3;

/** How a stream is written: one PutObject, or lib-storage's multipart upload. */
export type UploadMethod = 'single' | 'multipart';

export interface UploadOptions {
  /**
   * Largest announced length sent as one streamed PutObject (capped at S3's 5 GiB limit); longer or unknown
   * lengths go multipart.
   * @default S3_SINGLE_PUT_LIMIT
   */
  singlePutMaxBytes?: number;
  /** Multipart part size; memory use is about `partSize * queueSize`, whatever the stream's size. */
  partSize?: number;
  queueSize?: number;
}

export interface UploadTarget {
  bucket: string;
  key: string;
  contentType: string;
  /** The body's length when its source announced one (Content-Length); undefined when unknown. */
  contentLength: number | undefined;
}

/**
 * One streamed PutObject when the length is known and fits: it sends the bytes once, with no part buffers and no
 * per-part hashing, so it keeps up with the download (in local mode the multipart path, CPU-bound in the S3
 * emulator, reached under a third of a plain PUT's speed), and costs one request instead of three or more.
 * Its cost: a PUT that fails is not resumed. A streamed body cannot be replayed, so the SDK does not retry it and
 * the whole video is fetched and sent again by the deliver step's retry (the multipart path buffers each part and
 * can retry a part alone, but it does not resume across step retries either: a failed upload is aborted). For the
 * videos Runware makes (tens of MB) that is a few seconds within the region, well inside the step's time-out and
 * retries. Without a length a PUT cannot be streamed at all (S3 refuses chunked bodies without one), and above
 * 5 GiB S3 refuses it: both go multipart.
 */
export function uploadMethod(contentLength: number | undefined, options: UploadOptions = {}): UploadMethod {
  const max = Math.min(options.singlePutMaxBytes ?? S3_SINGLE_PUT_LIMIT, S3_SINGLE_PUT_LIMIT);
  return contentLength !== undefined && contentLength > 0 && contentLength <= max ? 'single' : 'multipart';
}

/**
 * Writes `body` to the bucket in constant memory, the way {@link uploadMethod} chooses; resolves with the method
 * used. If `body` fails (the caller's checks destroy it), the request is aborted and nothing is stored: a PUT
 * whose body did not arrive whole is never an object, and a multipart upload is aborted (`leavePartsOnError`
 * false). The caller still checks that the body ended whole before it trusts the stored object.
 */
export async function uploadStream(
  s3: S3Client,
  target: UploadTarget,
  body: Readable,
  options: UploadOptions = {},
): Promise<UploadMethod> {
  const method = uploadMethod(target.contentLength, options);
  if (method === 'single') {
    // The SDK pipes the body into the request without listening for its errors: without this abort, a body
    // that fails half-way would leave the request waiting for bytes that never come.
    const abort = new AbortController();
    const onError = (error: Error) => abort.abort(error);
    body.once('error', onError);
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          Body: body,
          ContentLength: target.contentLength,
          ContentType: target.contentType,
        }),
        { abortSignal: abort.signal },
      );
    } finally {
      body.off('error', onError);
    }
    return method;
  }
  const upload = new Upload({
    client: s3,
    params: { Bucket: target.bucket, Key: target.key, Body: body, ContentType: target.contentType },
    partSize: options.partSize ?? 8 * 1024 * 1024,
    queueSize: options.queueSize ?? 2,
    leavePartsOnError: false,
  });
  await upload.done();
  return method;
}
