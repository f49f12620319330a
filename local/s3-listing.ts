import { createRequire } from 'node:module';
import { encodeKey } from './events.js';

/**
 * GET Bucket (ListObjects v1 and ListObjectsV2) for s3rver, paged the way S3 pages it. s3rver 3.7.1 builds its
 * continuation token with DES, which Node's OpenSSL 3 refuses (ERR_OSSL_EVP_UNSUPPORTED), so listing more than
 * one page (1,000 keys) answered 500. Its controller is swapped for this one at start-up
 * ({@link installS3rverListing}); its routes look the controller up per request, so nothing else changes.
 *
 * What it follows (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html and
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html):
 * - at most `max-keys` (default and cap 1,000) entries a page; a common prefix counts as one entry, and
 *   `KeyCount` counts keys and common prefixes;
 * - `IsTruncated` only when more entries follow; then V2 gives an opaque `NextContinuationToken` ("obfuscated and
 *   not a real key"), and V1 gives `NextMarker` only when a delimiter was sent (else the client continues from the
 *   last `Key`);
 * - `encoding-type=url` URL-encodes `Key`, `Prefix`, `Delimiter`, `StartAfter`, `Marker`, `NextMarker` and the
 *   common prefixes, and is echoed as `EncodingType` (the AWS CLI always asks for it and decodes the answer).
 */

/** The part of s3rver's filesystem store this uses (lib/stores/filesystem.js). */
interface StoredObject {
  key: string;
  size: number;
  lastModifiedDate: Date;
  metadata: Record<string, string>;
}
interface S3rverStore {
  listObjects(
    bucket: string,
    options: { prefix?: string | undefined; startAfter?: string | undefined; maxKeys?: number },
  ): Promise<{ objects: StoredObject[]; isTruncated: boolean }>;
}
/** The part of s3rver's Koa context the controller reads and writes. */
interface ListContext {
  query: Record<string, string | string[] | undefined>;
  params: { bucket: string };
  store: S3rverStore;
  body: unknown;
}
type S3ErrorClass = new (code: string, message: string, detail?: Record<string, unknown>) => Error;

/** One entry of a page: an object, or a common prefix its keys were rolled up into. */
export type ListEntry = { object: StoredObject } | { prefix: string };

/** S3's default and largest page. */
const PAGE_LIMIT = 1000;
/** How many keys are read from the store at once while a page is filled. */
const STORE_BATCH = 1000;

/**
 * One page of a listing: up to `maxKeys` entries after `startAfter` (a key, or a common prefix a previous page
 * ended with, whose keys are then skipped), keys under `prefix` rolled up at `delimiter`.
 */
export async function listPage(
  store: S3rverStore,
  bucket: string,
  options: { prefix: string; delimiter: string; startAfter: string; maxKeys: number },
): Promise<{ entries: ListEntry[]; isTruncated: boolean }> {
  const { prefix, delimiter, startAfter, maxKeys } = options;
  const entries: ListEntry[] = [];
  let lastPrefix: string | undefined = startAfter;
  let cursor = startAfter;
  for (;;) {
    const batch = await store.listObjects(bucket, {
      prefix: prefix || undefined,
      startAfter: cursor || undefined,
      maxKeys: STORE_BATCH,
    });
    for (const object of batch.objects) {
      cursor = object.key;
      const at = delimiter ? object.key.indexOf(delimiter, prefix.length) : -1;
      const rolledUp = at === -1 ? undefined : object.key.slice(0, at + delimiter.length);
      // Keys under a common prefix already returned (on this page or as the marker) are not returned again.
      if (rolledUp !== undefined && rolledUp === lastPrefix) continue;
      if (entries.length === maxKeys) return { entries, isTruncated: true };
      if (rolledUp === undefined) entries.push({ object });
      else {
        entries.push({ prefix: rolledUp });
        lastPrefix = rolledUp;
      }
    }
    if (!batch.isTruncated) return { entries, isTruncated: false };
  }
}

/** The V2 continuation token: where the next page starts, bound to its bucket; clients treat it as opaque. */
export function encodeContinuationToken(bucket: string, after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, bucket, after }), 'utf8').toString('base64url');
}

/** The marker a token holds, or undefined when it is not a token this server gave for `bucket`. */
export function decodeContinuationToken(token: string, bucket: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { v, bucket: of, after } = parsed as Record<string, unknown>;
    return v === 1 && of === bucket && typeof after === 'string' ? after : undefined;
  } catch {
    return undefined;
  }
}

const one = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

/** s3rver's GET Bucket controller, replaced (see the module comment). */
function getBucket(S3Error: S3ErrorClass, owner: { ID: string; DisplayName: string }) {
  return async (ctx: ListContext): Promise<void> => {
    const query = (name: string) => one(ctx.query[name]);
    const bucket = ctx.params.bucket;
    const v2 = query('list-type') === '2';
    const prefix = query('prefix') ?? '';
    const delimiter = query('delimiter') ?? '';
    const encodingType = query('encoding-type');
    if (encodingType !== undefined && encodingType !== 'url')
      throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
        ArgumentName: 'encoding-type',
        ArgumentValue: encodingType,
      });
    const encode = (value: string) => (encodingType === 'url' ? encodeKey(value) : value);

    const maxKeysParam = query('max-keys');
    let maxKeys = PAGE_LIMIT;
    if (maxKeysParam !== undefined) {
      if (!/^-?\d+$/.test(maxKeysParam))
        throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', {
          ArgumentName: 'max-keys',
          ArgumentValue: maxKeysParam,
        });
      const asked = Number(maxKeysParam);
      if (asked < 0 || asked > 2_147_483_647)
        throw new S3Error('InvalidArgument', 'Argument maxKeys must be an integer between 0 and 2147483647', {
          ArgumentName: 'maxKeys',
          ArgumentValue: asked,
        });
      maxKeys = Math.min(PAGE_LIMIT, asked);
    }

    let startAfter = '';
    const token = query('continuation-token');
    if (v2) {
      if ('marker' in ctx.query)
        throw new S3Error('InvalidArgument', 'Marker unsupported with REST.GET.BUCKET in list-type=2', {
          ArgumentName: 'marker',
        });
      if (token !== undefined) {
        const after = decodeContinuationToken(token, bucket);
        if (after === undefined)
          throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
            ArgumentName: 'continuation-token',
          });
        startAfter = after;
      } else startAfter = query('start-after') ?? '';
    } else {
      if ('continuation-token' in ctx.query)
        throw new S3Error(
          'InvalidArgument',
          'continuation-token only supported in REST.GET.BUCKET with list-type=2',
          { ArgumentName: 'continuation-token' },
        );
      if ('start-after' in ctx.query)
        throw new S3Error(
          'InvalidArgument',
          'startAfter only supported in REST.GET.BUCKET with list-type=2',
          {
            ArgumentName: 'start-after',
          },
        );
      startAfter = query('marker') ?? '';
    }

    const { entries, isTruncated } =
      maxKeys === 0
        ? { entries: [], isTruncated: false }
        : await listPage(ctx.store, bucket, { prefix, delimiter, startAfter, maxKeys });
    const last = entries.at(-1);
    const next = last === undefined ? '' : 'object' in last ? last.object.key : last.prefix;
    const fetchOwner = v2 ? query('fetch-owner') === 'true' : true;
    const objects = entries.flatMap((e) => ('object' in e ? [e.object] : []));
    const prefixes = entries.flatMap((e) => ('prefix' in e ? [e.prefix] : []));

    ctx.body = {
      ListBucketResult: {
        '@': { xmlns: 'http://doc.s3.amazonaws.com/2006-03-01/' },
        Name: bucket,
        Prefix: encode(prefix),
        ...(v2
          ? {
              StartAfter: token === undefined && startAfter ? encode(startAfter) : undefined,
              ContinuationToken: token,
              NextContinuationToken: isTruncated ? encodeContinuationToken(bucket, next) : undefined,
              KeyCount: entries.length,
            }
          : {
              Marker: encode(startAfter),
              NextMarker: delimiter && isTruncated ? encode(next) : undefined,
            }),
        // s3rver's choice, kept: the value asked for is echoed.
        MaxKeys: maxKeysParam ?? PAGE_LIMIT,
        Delimiter: delimiter ? encode(delimiter) : undefined,
        EncodingType: encodingType,
        IsTruncated: isTruncated,
        Contents: objects.map((object) => ({
          Key: encode(object.key),
          LastModified: object.lastModifiedDate.toISOString(),
          ETag: object.metadata.etag,
          Size: object.size,
          Owner: fetchOwner ? owner : undefined,
          StorageClass: 'STANDARD',
        })),
        CommonPrefixes: prefixes.map((p) => ({ Prefix: encode(p) })),
      },
    };
  };
}

let installed = false;

/** Makes s3rver list as S3 does (see the module comment). Idempotent; call before the first listing. */
export function installS3rverListing(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  const controller = require('s3rver/lib/controllers/bucket.js') as { getBucket: unknown };
  const S3Error = require('s3rver/lib/models/error.js') as S3ErrorClass;
  const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account.js') as {
    DUMMY_ACCOUNT: { id: string | number; displayName: string };
  };
  controller.getBucket = getBucket(S3Error, {
    ID: String(DUMMY_ACCOUNT.id),
    DisplayName: DUMMY_ACCOUNT.displayName,
  });
  installed = true;
}
