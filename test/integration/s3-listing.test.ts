import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  paginateListObjectsV2,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIALS, type LocalS3, Stoppers, startS3 } from '../../local/services.js';
import { TEST_NAMES } from '../support/names.js';

/**
 * Listing a local bucket of more than 1,000 keys, through the clients people use on it: the AWS CLI (`s3 ls`, and
 * `s3api` with its own paging) and the SDK's paginator. S3 returns at most 1,000 keys a page and the client follows
 * the continuation token or marker (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html); s3rver 3.7.1 answered the second page
 * with a 500 on OpenSSL 3 (its DES token) until local mode replaced its listing (local/s3-listing.ts).
 */

const NAMES = TEST_NAMES;
const BUCKET = NAMES.outputBucket;

/** 1,247 jobs' outputs (video + record) plus keys that URL encoding must carry: 2,500 keys under `batch/`. */
const BATCH_KEYS = [
  ...Array.from({ length: 1247 }, (_, i) => `batch/job-${String(i).padStart(4, '0')}`).flatMap((stem) => [
    `${stem}.json`,
    `${stem}.mp4`,
  ]),
  'batch/with space.mp4',
  'batch/plus+sign.mp4',
  'batch/percent%41.mp4',
  'batch/caf\u00e9.mp4',
  'batch/sub/deeper.mp4',
  'batch/sub/deepest.mp4',
].sort();
/** Keys outside `batch/`, for the listings with a delimiter. */
const OTHER_KEYS = ['a.txt', 'other/x.json', 'z.txt'];

let dir: string;
let s3: LocalS3;
const stoppers = new Stoppers();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 's3-listing-'));
  s3 = await startS3(join(dir, 's3'), NAMES, stoppers);
  const queue = [...BATCH_KEYS, ...OTHER_KEYS];
  const worker = async () => {
    for (let key = queue.pop(); key !== undefined; key = queue.pop())
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
  };
  await Promise.all(Array.from({ length: 24 }, worker));
}, 120_000);

afterAll(async () => {
  await stoppers.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the AWS CLI against the local S3 only (no profile, config or credentials of this machine). */
async function aws(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('aws', [...args, '--endpoint-url', s3.url], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(dir, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

describe('listing more than 1,000 keys in local S3', () => {
  it('lists every key once, in order, with `aws s3 ls --recursive`', async () => {
    const lines = (await aws('s3', 'ls', '--recursive', `s3://${BUCKET}/batch/`)).trimEnd().split('\n');
    // `2026-12-07 14:00:00        24 batch/job-0000.json`: the key is all that follows the size.
    const keys = lines.map((line) => /^\S+ \S+ +\d+ (.*)$/.exec(line)?.[1]);
    expect(keys).toEqual(BATCH_KEYS);
  });

  it('lists the top level of a prefix past 1,000 keys with `aws s3 ls`, common prefixes included', async () => {
    const lines = (await aws('s3', 'ls', `s3://${BUCKET}/batch/`)).trimEnd().split('\n');
    const names = lines.map(
      (line) => /^ +PRE (.*)$/.exec(line)?.[1] ?? /^\S+ \S+ +\d+ (.*)$/.exec(line)?.[1],
    );
    const expected = BATCH_KEYS.filter((k) => !k.startsWith('batch/sub/')).map((k) =>
      k.slice('batch/'.length),
    );
    // The CLI prints each page's common prefixes before its objects: every name once is what matters.
    expect(names.sort()).toEqual(['sub/', ...expected].sort());
  });

  it.each([
    ['list-objects-v2', 'continuation tokens'],
    ['list-objects', 'markers'],
  ])('lists every key once, in order, with `aws s3api %s` paging by %s', async (operation) => {
    const out = JSON.parse(
      await aws('s3api', operation, '--bucket', BUCKET, '--prefix', 'batch/', '--page-size', '300'),
    ) as { Contents: { Key: string }[] };
    expect(out.Contents.map((c) => c.Key)).toEqual(BATCH_KEYS);
  });

  it("lists every key once, in order, through the SDK's paginator, MaxKeys at most per page", async () => {
    const pages: { keys: string[]; keyCount: number | undefined; truncated: boolean | undefined }[] = [];
    for await (const page of paginateListObjectsV2(
      { client: s3.client, pageSize: 250 },
      { Bucket: BUCKET, Prefix: 'batch/' },
    )) {
      pages.push({
        keys: (page.Contents ?? []).map((c) => c.Key ?? ''),
        keyCount: page.KeyCount,
        truncated: page.IsTruncated,
      });
    }
    expect(pages.flatMap((p) => p.keys)).toEqual(BATCH_KEYS);
    // 2,500 keys make ten full pages; the tenth is not truncated: nothing follows it.
    expect(pages.map((p) => p.keys.length)).toEqual(Array(10).fill(250));
    expect(pages.every((p, i) => p.keyCount === p.keys.length && p.truncated === i < pages.length - 1)).toBe(
      true,
    );
  });

  it('caps a page at 1,000 keys whatever MaxKeys asks, and says whether more follow', async () => {
    const first = await s3.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'batch/', MaxKeys: 5000 }),
    );
    expect(first.Contents).toHaveLength(1000);
    expect(first).toMatchObject({ IsTruncated: true, KeyCount: 1000 });
    expect(first.NextContinuationToken).toEqual(expect.any(String));
    const all = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'other/' }));
    expect(all).toMatchObject({ IsTruncated: false, KeyCount: 1 });
    expect(all.NextContinuationToken).toBeUndefined();
  });

  it('counts a common prefix as one entry and continues after it (V2 token, V1 NextMarker)', async () => {
    const v2: string[][] = [];
    for await (const page of paginateListObjectsV2(
      { client: s3.client, pageSize: 2 },
      { Bucket: BUCKET, Delimiter: '/' },
    ))
      v2.push(
        [
          ...(page.Contents ?? []).map((c) => c.Key ?? ''),
          ...(page.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''),
        ].sort(),
      );
    expect(v2).toEqual([
      ['a.txt', 'batch/'],
      ['other/', 'z.txt'],
    ]);

    const first = await s3.client.send(
      new ListObjectsCommand({ Bucket: BUCKET, Delimiter: '/', MaxKeys: 2 }),
    );
    expect(first).toMatchObject({ IsTruncated: true, NextMarker: 'batch/' });
    const second = await s3.client.send(
      new ListObjectsCommand({ Bucket: BUCKET, Delimiter: '/', MaxKeys: 2, Marker: first.NextMarker }),
    );
    expect(second.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['other/']);
    expect(second.Contents?.map((c) => c.Key)).toEqual(['z.txt']);
    expect(second.IsTruncated).toBe(false);
  });

  it('refuses a continuation token it did not give, as S3 does (400 InvalidArgument)', async () => {
    const error = await s3.client
      .send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: 'not-a-token' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3ServiceException);
    expect(error).toMatchObject({ name: 'InvalidArgument', $metadata: { httpStatusCode: 400 } });
  });
});
