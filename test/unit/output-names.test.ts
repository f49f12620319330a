import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  nameTakenMessage,
  outputNamesOf,
  ownerOf,
  reservationOrder,
} from '../../lambdas/core/contract/output-names.js';
import { outputReservationExpiresAt } from '../../lambdas/core/contract/retention.js';
import { reserveOutputNames } from '../../lambdas/core/outputs/reserve.js';
import { OutputWriter } from '../../lambdas/core/outputs/writer.js';
import { keys } from '../../lambdas/core/store/table.js';
import { useOutputBucket, useStores } from '../support/harness.js';

const db = useStores();
const bucket = useOutputBucket();
const at = '2026-11-26T10:00:00.000Z';
const mp4 = (stem: string, numberResults = 1) => ({ outputFormat: 'MP4' as const, numberResults, stem });
let n = 0;
/** A folder of its own per test: claims live in one table for the whole file. */
const folder = () => `t${++n}`;

describe('output naming rule', () => {
  it('names the videos, the record and the error file after the stem', () => {
    expect(outputNamesOf('promo/anna', 'mp4', 1)).toEqual({
      videos: ['promo/anna.mp4'],
      record: 'promo/anna.json',
      error: 'promo/anna.error.json',
    });
    // With several results asked for, a job that gets only one delivers it as `a.webm`: reserved too.
    expect(outputNamesOf('a', 'webm', 3).videos).toEqual(['a.webm', 'a-1.webm', 'a-2.webm', 'a-3.webm']);
    expect(reservationOrder(outputNamesOf('a', 'mov', 1))).toEqual(['a.error.json', 'a.json', 'a.mov']);
  });

  it('compares stems in Unicode NFC', () => {
    expect(ownerOf('cafe\u0301')).toBe('caf\u00e9');
  });

  // Stems that end like another stem's output suffix: each pair names one key twice.
  it.each([
    ['x', 1, 'x.error', 1, 'x.error.json'],
    ['x', 2, 'x-1', 1, 'x-1.mp4'],
    ['x', 4, 'x-4', 1, 'x-4.mp4'],
    ['x.error', 1, 'x', 1, 'x.error.json'],
    ['x-2', 1, 'x', 2, 'x-2.mp4'],
    ['x-1', 1, 'x', 3, 'x-1.mp4'],
  ] as const)(
    'gives %s (%i results) the key it reserved first and refuses it to %s (%i results): %s',
    async (first, firstResults, second, secondResults, key) => {
      const dir = folder();
      const [a, b] = [`${dir}/${first}`, `${dir}/${second}`];
      await reserveOutputNames(a, mp4(a, firstResults), db.outputNames, new Date(at));
      const refused = reserveOutputNames(b, mp4(b, secondResults), db.outputNames, new Date(at));
      await expect(refused).rejects.toMatchObject({ name: 'ValidationError', code: 'OUTPUT_NAME_TAKEN' });
      await expect(refused).rejects.toThrow(`"${a}"`);
      expect(await db.outputNames.holderOf(`${dir}/${key}`)).toBe(a);
    },
  );

  it('lets stems whose keys do not meet share a folder: different extensions, a "-1" with one result', async () => {
    const dir = folder();
    for (const stem of ['x', 'x-1', 'x.json', 'x.error.error', 'y']) {
      await reserveOutputNames(`${dir}/${stem}`, mp4(stem), db.outputNames, new Date(at));
    }
    // `x.json` (a stem) has the record `x.json.json` and the video `x.json.mp4`: no clash with `x`'s `x.json`.
    expect(await db.outputNames.holderOf(`${dir}/x.json`)).toBe(`${dir}/x`);
    expect(await db.outputNames.holderOf(`${dir}/x.json.json`)).toBe(`${dir}/x.json`);
  });

  it('is idempotent for the stem that holds the keys, in either Unicode form', async () => {
    const dir = folder();
    const stem = `${dir}/cafe\u0301`;
    await reserveOutputNames(stem, mp4(stem, 2), db.outputNames, new Date(at));
    await reserveOutputNames(stem, mp4(stem, 2), db.outputNames, new Date(at));
    await reserveOutputNames(stem.normalize('NFC'), mp4(stem, 1), db.outputNames, new Date(at));
    expect(await db.outputNames.holderOf(`${dir}/cafe\u0301-2.mp4`)).toBe(stem.normalize('NFC'));
  });

  it('says which stem holds the name and how to rename', () => {
    const message = nameTakenMessage('promo/x-1', 'promo/x-1.mp4', 'promo/x');
    expect(message).toContain('"promo/x"');
    expect(message).toContain('promo/x-1.mp4');
    expect(message).toMatch(/Rename/);
    expect(message).toMatch(/Nothing was sent to Runware/);
  });
});

describe('OutputWriter', () => {
  it('writes an error file only for the stem that holds its key', async () => {
    const dir = folder();
    const writer = new OutputWriter(new S3Client({ region: 'us-east-1' }), 'out', db.outputNames);
    await db.outputNames.claim(`${dir}/x.error`, [`${dir}/x.error.json`], at);
    const doc = {
      stem: `${dir}/x`,
      stage: 'RECEIVED',
      code: 'C',
      message: 'm',
      howToRetry: 'r',
      failedAt: at,
    };
    expect(await writer.putError(doc)).toEqual({
      key: `${dir}/x.error.json`,
      written: false,
      holder: `${dir}/x.error`,
    });
    expect(bucket.s3).not.toHaveReceivedCommand(PutObjectCommand);

    expect(await writer.putError({ ...doc, stem: `${dir}/x.error` })).toMatchObject({ written: true });
    expect(bucket.s3).toHaveReceivedCommandWith(PutObjectCommand, { Key: `${dir}/x.error.error.json` });
  });

  it('deletes only keys its stem holds', async () => {
    const dir = folder();
    bucket.s3.on(DeleteObjectCommand).resolves({});
    const writer = new OutputWriter(new S3Client({ region: 'us-east-1' }), 'out', db.outputNames);
    await db.outputNames.claim(`${dir}/x.error`, [`${dir}/x.error.json`], at);
    await db.outputNames.claim(`${dir}/y`, [`${dir}/y.error.json`], at);
    expect(await writer.deleteOwn(`${dir}/x`, `${dir}/x.error.json`)).toBe(false);
    expect(await writer.deleteOwn(`${dir}/z`, `${dir}/z.error.json`)).toBe(false);
    expect(await writer.deleteOwn(`${dir}/y`, `${dir}/y.error.json`)).toBe(true);
    expect(bucket.s3).toHaveReceivedCommandTimes(DeleteObjectCommand, 1);
  });
});

describe('output-name retention', () => {
  const DAY = 86_400_000;
  const later = (days: number) => new Date(Date.parse(at) + days * DAY).toISOString();
  const expiryOf = async (key: string) =>
    (await db.table.get(keys.output(key), z.object({ expiresAt: z.number().optional() })))?.expiresAt;

  it('reserves a key until well after its job has ended; a new job of the stem pushes that back', async () => {
    const dir = folder();
    await reserveOutputNames(`${dir}/x`, mp4(`${dir}/x`), db.outputNames, new Date(at));
    expect(await expiryOf(`${dir}/x.mp4`)).toBe(outputReservationExpiresAt(at));
    await reserveOutputNames(`${dir}/x`, mp4(`${dir}/x`), db.outputNames, new Date(later(10)));
    expect(await expiryOf(`${dir}/x.mp4`)).toBe(outputReservationExpiresAt(later(10)));
    // A claim made earlier than the one in place (a late retried step) never shortens it.
    await db.outputNames.claim(`${dir}/x`, [`${dir}/x.mp4`], at);
    expect(await expiryOf(`${dir}/x.mp4`)).toBe(outputReservationExpiresAt(later(10)));
  });

  it('holds a written key for good: a later claim of its stem adds no expiry, another stem is refused', async () => {
    const dir = folder();
    await reserveOutputNames(`${dir}/x`, mp4(`${dir}/x`, 2), db.outputNames, new Date(at));
    await db.outputNames.keep([`${dir}/x-2.mp4`]);
    expect(await expiryOf(`${dir}/x-2.mp4`)).toBeUndefined();
    await db.outputNames.claim(`${dir}/x`, [`${dir}/x-2.mp4`], later(1));
    expect(await expiryOf(`${dir}/x-2.mp4`)).toBeUndefined();
    // Long after: the shown video's name is still x's, the never-written `x.mp4` is free again.
    const outcome = await db.outputNames.claim(`${dir}/x-2`, [`${dir}/x-2.mp4`], later(400));
    expect(outcome).toEqual({ ok: false, key: `${dir}/x-2.mp4`, holder: `${dir}/x` });
    expect(await db.outputNames.claim(`${dir}/y`, [`${dir}/x.mp4`], later(400))).toEqual({ ok: true });
    expect(await db.outputNames.holderOf(`${dir}/x.mp4`)).toBe(`${dir}/y`);
  });

  it('refuses an unwritten key to another stem until its reservation has lapsed', async () => {
    const dir = folder();
    await db.outputNames.claim(`${dir}/x`, [`${dir}/x.error.json`], at);
    const lapse = outputReservationExpiresAt(at) * 1000;
    const before = new Date(lapse - 1000).toISOString();
    expect(await db.outputNames.claim(`${dir}/x.error`, [`${dir}/x.error.json`], before)).toMatchObject({
      ok: false,
      holder: `${dir}/x`,
    });
    const after = new Date(lapse + 1000).toISOString();
    expect(await db.outputNames.claim(`${dir}/x.error`, [`${dir}/x.error.json`], after)).toEqual({
      ok: true,
    });
    expect(await db.outputNames.holderOf(`${dir}/x.error.json`)).toBe(`${dir}/x.error`);
  });

  it('keeps every key OutputWriter writes: JSON documents and videos copied from the archive', async () => {
    const dir = folder();
    bucket.s3.on(CopyObjectCommand).resolves({});
    const writer = new OutputWriter(new S3Client({ region: 'us-east-1' }), 'out', db.outputNames);
    await reserveOutputNames(`${dir}/x`, mp4(`${dir}/x`), db.outputNames, new Date(at));
    await writer.putJson(`${dir}/x`, `${dir}/x.json`, { ok: true });
    expect(await writer.copyFromArchive('archive/j/1.mp4.archived', `${dir}/x.mp4`)).toBe(true);
    expect(await expiryOf(`${dir}/x.json`)).toBeUndefined();
    expect(await expiryOf(`${dir}/x.mp4`)).toBeUndefined();
    // Not written: still lapses.
    expect(await expiryOf(`${dir}/x.error.json`)).toBe(outputReservationExpiresAt(at));
  });
});
