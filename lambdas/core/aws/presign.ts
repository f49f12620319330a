import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** Short-lived GET URLs that let Runware fetch one input each, and nothing else. */
export interface InputPresigner {
  presign(key: string): Promise<string>;
}

export class S3InputPresigner implements InputPresigner {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly expiresInSeconds: number,
  ) {}

  presign(key: string): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: this.expiresInSeconds,
    });
  }
}
