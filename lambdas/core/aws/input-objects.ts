import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ValidationError } from '../errors.js';

/** Reads input objects, pinned to the version the job was made from. */
export interface ObjectReader {
  /** The object's bytes if its ETag is still `etag`; refuses bodies over `maxBytes`. */
  read(key: string, etag: string, maxBytes: number): Promise<Uint8Array>;
}

export class S3ObjectReader implements ObjectReader {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async read(key: string, etag: string, maxBytes: number): Promise<Uint8Array> {
    try {
      const out = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(etag ? { IfMatch: `"${etag}"` } : {}) }),
      );
      if ((out.ContentLength ?? 0) > maxBytes) {
        await out.Body?.transformToByteArray().catch(() => undefined);
        throw new ValidationError(
          'FILE_TOO_LARGE',
          `${key} is ${out.ContentLength} bytes; the limit is ${maxBytes}.`,
        );
      }
      return (await out.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (error) {
      const name = (error as Error).name;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (name === 'PreconditionFailed' || status === 412) {
        throw new ValidationError(
          'INPUT_CHANGED',
          `${key} was replaced while this job was starting. The new upload starts its own job; nothing to do.`,
        );
      }
      if (name === 'NoSuchKey' || status === 404) {
        throw new ValidationError(
          'INPUT_MISSING',
          `${key} was deleted before the job could read it. Upload it again to run the job.`,
        );
      }
      throw error;
    }
  }
}

/** Writes objects the pipeline derives from the inputs (never the inputs themselves). */
export interface ObjectWriter {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
}

export class S3ObjectWriter implements ObjectWriter {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: contentType }),
    );
  }
}
