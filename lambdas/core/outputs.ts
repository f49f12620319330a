import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { errorOutputKey } from './keys.js';

export interface ErrorDocument {
  stem: string;
  jobId?: string;
  attempt?: number;
  stage: string;
  code: string;
  message: string;
  /** What the person can do next. */
  howToRetry: string;
  inputs?: Record<string, string>;
  failedAt: string;
  /** Every problem validation found in the inputs: fix them all before uploading again. */
  problems?: { code: string; message: string; file: string }[];
}

/** Writes JSON documents into the output bucket (`<stem>.json`, `<stem>.error.json`). */
export class OutputWriter {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async putJson(key: string, document: unknown): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: `${JSON.stringify(document, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    );
  }

  /** Deletes a key of the output bucket (deleting a key that does not exist succeeds). */
  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async putError(document: ErrorDocument): Promise<string> {
    const key = errorOutputKey(document.stem);
    await this.putJson(key, document);
    return key;
  }
}

export const HOW_TO_RETRY =
  'Fix the cause, then upload the image, the audio or the settings sidecar (<stem>.json) to the inbox again: ' +
  'a new upload of any of the three starts a new attempt of this job. Your inputs were kept.';
