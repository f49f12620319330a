import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { errorOutputKey } from '../contract/keys.js';
import { ARCHIVE_PREFIX, nameTakenMessage, ownerOf, stemOutputCandidates } from '../contract/output-names.js';
import { DeliveryError } from '../errors.js';
import type { OutputNameStore } from '../store/output-claims.js';

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
  /** For a cancelled job (code CANCELLED): who cancelled it. */
  cancelledBy?: string;
  /** For a cancelled job: Runware had accepted its task, whose charge may still come. */
  taskAccepted?: boolean;
  /** Every problem validation found in the inputs: fix them all before uploading again. */
  problems?: { code: string; message: string; file: string }[];
}

/**
 * Writes into the output bucket, only ever keys the job's stem holds (see `output-names.ts`): a key another stem
 * holds is never written or deleted.
 */
export class OutputWriter {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly names: OutputNameStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Reserves `keys` for `stem` (or confirms it holds them). Throws OUTPUT_NAME_TAKEN, naming the holder, when
   * another stem holds one of them.
   */
  async claim(stem: string, keys: readonly string[]): Promise<void> {
    const outcome = await this.names.claim(stem, keys, this.now().toISOString());
    if (!outcome.ok) {
      throw new DeliveryError('OUTPUT_NAME_TAKEN', nameTakenMessage(stem, outcome.key, outcome.holder));
    }
  }

  /** Writes a JSON document at `key`, which `stem` must hold (it is reserved for it if it is free). */
  async putJson(stem: string, key: string, document: unknown): Promise<void> {
    await this.claim(stem, [key]);
    // Written keys are held for good (see `retention.ts`): first the reservation, then the file.
    await this.names.keep([key]);
    await this.writeJson(key, document);
  }

  private async writeJson(key: string, document: unknown): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: `${JSON.stringify(document, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    );
  }

  /**
   * Deletes `key` if `stem` holds it (deleting a key that does not exist succeeds). Returns false, deleting
   * nothing, when another stem holds it or nobody does.
   */
  async deleteOwn(stem: string, key: string): Promise<boolean> {
    if ((await this.names.holderOf(key)) !== ownerOf(stem)) return false;
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    return true;
  }

  /**
   * Copies the archived object `archiveKey` (see `archiveKeyOf`) to `key` inside the bucket (server side: no bytes
   * pass through the function). The caller has made sure its stem holds `key` (reserved at validation, or
   * {@link claim}ed). Returns false, writing nothing, when the archived copy does not exist (a job delivered before
   * the archive existed).
   */
  async copyFromArchive(archiveKey: string, key: string): Promise<boolean> {
    // Archive keys are plain ASCII (hex job id, fixed names), so the CopySource needs no escaping; anything else
    // would need escaping S3 and local emulators do not agree on.
    if (!archiveKey.startsWith(ARCHIVE_PREFIX)) throw new Error(`Not an archive key: ${archiveKey}`);
    await this.names.keep([key]);
    try {
      await this.s3.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: key, CopySource: `${this.bucket}/${archiveKey}` }),
      );
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /**
   * Writes a JSON document at the archive key `archiveKey` (see `archiveKeyOf`): no stem's output, so nothing to
   * claim.
   */
  async putArchivedJson(archiveKey: string, document: unknown): Promise<void> {
    if (!archiveKey.startsWith(ARCHIVE_PREFIX)) throw new Error(`Not an archive key: ${archiveKey}`);
    await this.writeJson(archiveKey, document);
  }

  /**
   * Deletes every video and error key a job of `stem` may have written (any format, any number of results) except
   * `keep`, among those `stem` holds: after one job's outputs are put in place, nothing of an earlier job of the
   * stem stays beside them. Keys other stems hold are never touched. Returns the keys deleted (or already absent).
   */
  async deleteOthers(stem: string, keep: readonly string[]): Promise<string[]> {
    const kept = new Set(keep);
    const candidates = stemOutputCandidates(stem).filter((key) => !kept.has(key));
    const deleted = await Promise.all(
      candidates.map(async (key) => ((await this.deleteOwn(stem, key)) ? key : undefined)),
    );
    return deleted.filter((key): key is string => key !== undefined);
  }

  /**
   * Writes `<stem>.error.json`. Returns its key, or `held` with the stem that holds that key when it belongs to
   * another job (nothing is written then: the caller keeps the error in the job record and logs it).
   */
  async putError(
    document: ErrorDocument,
  ): Promise<{ key: string; written: true } | { key: string; written: false; holder: string }> {
    const key = errorOutputKey(document.stem);
    const outcome = await this.names.claim(document.stem, [key], this.now().toISOString());
    if (!outcome.ok) return { key, written: false, holder: outcome.holder };
    await this.putJson(document.stem, key, document);
    return { key, written: true };
  }
}

/** S3's answer for a copy source that does not exist (`NoSuchKey`; some emulators answer a bare 404). */
function isMissing(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return error.name === 'NoSuchKey' || error.name === 'NotFound' || status === 404;
}

export const HOW_TO_RETRY =
  'Fix the cause, then upload the image, the audio or the settings sidecar (<stem>.json) to the inbox again: ' +
  'a new upload of any of the three starts a new attempt of this job. Your inputs were kept.';
