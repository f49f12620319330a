/**
 * Which IAM action and resource an S3 REST request needs, from "Required permissions for Amazon S3 API
 * operations" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html).
 * Path-style requests only (local mode's clients use `forcePathStyle`).
 */

export interface S3Call {
  action: string;
  resource: string;
  context?: Record<string, string | undefined>;
  /** The bucket the call is on (its policy applies). */
  bucket: string;
}

export function s3Calls(
  method: string,
  url: URL,
  headers: Record<string, string | string[] | undefined>,
): S3Call[] {
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const decodedBucket = decodeURIComponent(bucket);
  const key = decodeURIComponent(rest.join('/'));
  const q = url.searchParams;
  const bucketArn = `arn:aws:s3:::${decodedBucket}`;
  const objectArn = `${bucketArn}/${key}`;
  const on = (action: string, resource: string, context?: S3Call['context']): S3Call => ({
    action,
    resource,
    bucket: decodedBucket,
    ...(context ? { context } : {}),
  });
  if (!decodedBucket) return [{ action: 's3:ListAllMyBuckets', resource: '*', bucket: '' }];
  if (!key) {
    // Bucket-level operations.
    if (method === 'GET' || method === 'HEAD') {
      if (q.has('versions'))
        return [on('s3:ListBucketVersions', bucketArn, { 's3:prefix': q.get('prefix') ?? '' })];
      if (q.has('uploads')) return [on('s3:ListBucketMultipartUploads', bucketArn)];
      if (q.has('location')) return [on('s3:GetBucketLocation', bucketArn)];
      if (q.has('policy')) return [on('s3:GetBucketPolicy', bucketArn)];
      if (q.has('cors')) return [on('s3:GetBucketCORS', bucketArn)];
      // ListObjects, ListObjectsV2 and HeadBucket all need s3:ListBucket.
      return [on('s3:ListBucket', bucketArn, { 's3:prefix': q.get('prefix') ?? '' })];
    }
    if (method === 'POST' && q.has('delete')) return [on('s3:DeleteObject', `${bucketArn}/*`)];
    if (method === 'PUT') return [on('s3:CreateBucket', bucketArn)];
    if (method === 'DELETE') return [on('s3:DeleteBucket', bucketArn)];
    return [on(`s3:${method}Bucket`, bucketArn)];
  }
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (q.has('uploadId')) return [on('s3:ListMultipartUploadParts', objectArn)];
      if (q.has('tagging')) return [on('s3:GetObjectTagging', objectArn)];
      if (q.has('acl')) return [on('s3:GetObjectAcl', objectArn)];
      return [on(q.has('versionId') ? 's3:GetObjectVersion' : 's3:GetObject', objectArn)];
    case 'PUT': {
      if (q.has('tagging')) return [on('s3:PutObjectTagging', objectArn)];
      if (q.has('acl')) return [on('s3:PutObjectAcl', objectArn)];
      const source = headerValue(headers['x-amz-copy-source']);
      const put = on('s3:PutObject', objectArn);
      // CopyObject and UploadPartCopy also read the source.
      if (!source) return [put];
      const path = decodeURIComponent(source.split('?')[0] ?? '').replace(/^\//, '');
      return [
        put,
        { action: 's3:GetObject', resource: `arn:aws:s3:::${path}`, bucket: path.split('/')[0] ?? '' },
      ];
    }
    case 'POST':
      // CreateMultipartUpload (?uploads) and CompleteMultipartUpload (?uploadId) need s3:PutObject.
      return [on('s3:PutObject', objectArn)];
    case 'DELETE':
      return [on(q.has('uploadId') ? 's3:AbortMultipartUpload' : 's3:DeleteObject', objectArn)];
    default:
      return [on(`s3:${method}Object`, objectArn)];
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * S3's 403 body (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). A HEAD request gets the
 * status alone, as S3 sends no body for HEAD.
 */
export function s3AccessDenied(message: string, requestId: string): string {
  const escaped = message
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${escaped}</Message><RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;
}
