import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, Stoppers, startS3 } from '../../local/services.js';
import { TEST_NAMES } from '../support/names.js';

/**
 * A GET of a key that is being replaced returns the old object or the new one, whole, as S3 does (Amazon S3 User
 * Guide, "Amazon S3 data consistency model": "you will get either the old data or the new data, but never partial
 * or corrupt data"). s3rver rewrote an object's file in place, and a GET racing a PUT or a copy of the same key
 * came back short (`aborted`) or with another version's length and ETag (local/s3rver-atomic.ts). The pipeline
 * replaces objects people read: a record restored over `<stem>.json`, a video copied over its visible name.
 */

const NAMES = TEST_NAMES;
const BUCKET = NAMES.outputBucket;
const KEY = 'race/anna.mp4';

/** Versions of different lengths and bytes, large enough that a read spans many chunks. */
const VERSIONS = [
  Buffer.alloc(3 * 1024 * 1024, 'a'),
  Buffer.alloc(2 * 1024 * 1024 + 7, 'b'),
  Buffer.alloc(4 * 1024 * 1024 + 1, 'c'),
];
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

let dir: string;
let s3: LocalS3;
const stoppers = new Stoppers();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 's3-atomic-'));
  s3 = await startS3(dir, NAMES, stoppers);
  for (const [i, body] of VERSIONS.entries()) {
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `versions/${i}`, Body: body }));
  }
});

afterAll(async () => {
  await stoppers.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Reads the key: its bytes, with the length and ETag the answer gave. */
async function get(key: string) {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const bytes = await (out.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array()));
  return { bytes, length: out.ContentLength, etag: out.ETag };
}

/** Every read is one whole version: its bytes, its length and its ETag. */
function expectWholeVersion(read: Awaited<ReturnType<typeof get>>) {
  const version = VERSIONS.find((v) => v.length === read.bytes.length && v.equals(read.bytes));
  expect(version, `a read of ${read.bytes.length} bytes that is no version`).toBeDefined();
  expect(read.length).toBe(read.bytes.length);
  expect(read.etag).toBe(`"${md5(read.bytes)}"`);
}

describe('an object replaced while it is read (s3rver behind local mode)', () => {
  it('gives each GET racing PutObject and CopyObject of its key one whole version', async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: VERSIONS[0] }));
    const writes = (async () => {
      for (let round = 0; round < 12; round += 1) {
        const version = round % VERSIONS.length;
        if (round % 2) {
          await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: VERSIONS[version] }));
        } else {
          await s3.client.send(
            new CopyObjectCommand({ Bucket: BUCKET, Key: KEY, CopySource: `${BUCKET}/versions/${version}` }),
          );
        }
      }
    })();
    const reads = Array.from({ length: 4 }, async () => {
      const seen = [];
      for (let i = 0; i < 10; i += 1) seen.push(await get(KEY));
      return seen;
    });
    const [, ...readers] = await Promise.all([writes, ...reads]);
    const all = readers.flat();
    expect(all).toHaveLength(40);
    for (const read of all) expectWholeVersion(read);
  }, 60_000);

  it('copies the source whole while the source itself is replaced, and lists no half-written object', async () => {
    const source = 'race/source.mp4';
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: source, Body: VERSIONS[1] }));
    const copies = Array.from({ length: 6 }, async (_, i) => {
      await s3.client.send(
        new CopyObjectCommand({
          Bucket: BUCKET,
          Key: `race/copy-${i}.mp4`,
          CopySource: `${BUCKET}/${source}`,
        }),
      );
    });
    const replace = s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: source, Body: VERSIONS[2] }));
    await Promise.all([...copies, replace]);
    for (let i = 0; i < 6; i += 1) expectWholeVersion(await get(`race/copy-${i}.mp4`));
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'race/' }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([
      KEY,
      ...Array.from({ length: 6 }, (_, i) => `race/copy-${i}.mp4`),
      source,
    ]);
    await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: source }));
    await expect(get(source)).rejects.toThrow(/NoSuchKey|does not exist/);
  }, 60_000);
});
