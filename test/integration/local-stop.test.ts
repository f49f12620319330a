import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { type LocalS3, Stoppers, startS3 } from '../../local/services.js';
import { TEST_NAMES } from '../support/names.js';

/**
 * Local mode must stop when asked (Ctrl-C) even with a download left half-way: a client that cancelled its read of
 * a presigned URL (the simulator refusing an audio file too large), or one that is stuck and never reads again.
 * Every server closes its open connections at stop, and the S3 pass-through ends its request to s3rver as soon as
 * its downstream side goes away.
 */

const dir = mkdtempSync(join(tmpdir(), 'local-stop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const names = TEST_NAMES;

/** s3rver and its pass-through holding a 10 MB object, as local mode starts them. */
async function s3WithBigObject(name: string): Promise<{ s3: LocalS3; stoppers: Stoppers }> {
  const stoppers = new Stoppers();
  const s3 = await startS3(join(dir, name), names, stoppers);
  await s3.client.send(
    new PutObjectCommand({
      Bucket: names.inputBucket,
      Key: 'inbox/big.wav',
      Body: Buffer.alloc(10_000_000, 1),
    }),
  );
  return { s3, stoppers };
}

/** Opens a GET of the big object through the pass-through; resolves once the first bytes arrived. */
function startDownload(s3: LocalS3) {
  const url = new URL(`${s3.functionsUrl}/${names.inputBucket}/inbox/big.wav`);
  return new Promise<{ pause: () => void; abandon: () => void }>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname }, (res) => {
      res.once('data', () => {
        resolve({ pause: () => res.pause(), abandon: () => req.destroy() });
      });
      res.on('error', () => undefined);
    });
    req.on('error', (error) => {
      // The stop ends it: expected once the test has its first bytes.
      if (!(error as NodeJS.ErrnoException).code) reject(error);
    });
    req.end();
  });
}

/** Milliseconds `stoppers.stopAll()` takes, or Infinity past `limitMs`. */
async function timeStop(stoppers: Stoppers, limitMs: number): Promise<number> {
  const started = Date.now();
  const stopped = stoppers.stopAll().then(() => Date.now() - started);
  const late = new Promise<number>((resolve) =>
    setTimeout(() => resolve(Number.POSITIVE_INFINITY), limitMs).unref(),
  );
  return Promise.race([stopped, late]);
}

describe('stopping local mode', () => {
  it('ends within 10 s after a client abandoned a download half-way', { timeout: 30_000 }, async () => {
    const { s3, stoppers } = await s3WithBigObject('abandoned');
    const download = await startDownload(s3);
    download.pause();
    download.abandon();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await timeStop(stoppers, 10_000)).toBeLessThan(10_000);
  });

  it('ends within 10 s with a download stuck half-way (its client connected, reading nothing)', {
    timeout: 30_000,
  }, async () => {
    const { s3, stoppers } = await s3WithBigObject('stuck');
    const download = await startDownload(s3);
    download.pause();
    expect(await timeStop(stoppers, 10_000)).toBeLessThan(10_000);
  });
});
