import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { estimate } from '../../cli/commands/estimate.js';
import { type EndpointsFile, writeEndpointsFile } from '../../cli/endpoints-file.js';
import { PRICES_OUTPUT, priceTable } from '../../cli/prices.js';
import { DEFAULT_SETTINGS } from '../../lambdas/core/contract/defaults.js';
import { makeSampleVoice } from '../../local/ffmpeg.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-prices-'));
const DEPLOYED = { 'klingai:avatar@2.0-pro': 0.1, 'klingai:avatar@2.0-standard': 0.05 };

/** An endpoints file of a live local stack (this process), with `outputs` as given. */
function endpointsFile(name: string, outputs?: Record<string, string>): string {
  const file = join(dir, name);
  const content: EndpointsFile = {
    version: 1,
    pid: process.pid,
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    endpoints: { s3: 'http://127.0.0.1:1', dynamodb: 'http://127.0.0.1:2', sfn: 'http://127.0.0.1:3' },
    names: { inputBucket: 'i', outputBucket: 'o', tableName: 't', stateMachineArn: 'arn' },
    ...(outputs ? { outputs } : {}),
    writtenAt: '2026-11-26T00:00:00.000Z',
  };
  writeEndpointsFile(file, content);
  return file;
}

describe('the price table of estimate', () => {
  it("reads the local stack's table from its endpoints file, and estimates with it", async () => {
    const file = endpointsFile('with-prices.json', { [PRICES_OUTPUT]: JSON.stringify(DEPLOYED) });
    const table = await priceTable({ endpoints: file });
    expect(table).toEqual({ prices: DEPLOYED, source: `local (${file})` });
    const voice = join(dir, 'voice2.wav');
    await makeSampleVoice(voice, 2);
    const out = await estimate({ audio: voice, results: '2' }, async () => table);
    expect(out.text).toMatch(
      /^2\.00 s of audio x USD 0\.1\/s \(klingai:avatar@2\.0-pro\) x 2 result\(s\) = USD 0\.40/,
    );
    expect(out.text).toContain(`Prices: the table of local (${file}).`);
    expect(out.json).toMatchObject({
      usdPerSecond: 0.1,
      estimatedUsd: 0.4,
      priceTable: { source: `local (${file})` },
    });
    const offline = await estimate({ audio: voice }, async () => ({
      prices: DEFAULT_SETTINGS.modelPricesUsdPerSecond,
      source: 'defaults',
      note: 'stack AvatarPipeline could not be read: no credentials',
    }));
    expect(offline.text).toContain(
      'Prices: the default table (modelPricesUsdPerSecond defaults): stack AvatarPipeline could not be read: no credentials.',
    );
    expect(offline.json).toMatchObject({
      usdPerSecond: 0.087,
      priceTable: { source: 'defaults', note: expect.any(String) },
    });
  });

  it('falls back to the defaults and says why: no price table, local stack not running, stack unreachable', async () => {
    const old = await priceTable({ endpoints: endpointsFile('old.json') });
    expect(old).toMatchObject({ prices: DEFAULT_SETTINGS.modelPricesUsdPerSecond, source: 'defaults' });
    expect(old.note).toMatch(/^local \(.*old\.json\) publishes no price table/);
    const stopped = await priceTable({ local: true, endpoints: join(dir, 'none.json') });
    expect(stopped).toMatchObject({ source: 'defaults', note: expect.stringContaining('not running') });
    const unreachable = await priceTable({
      stack: 'AvatarPipeline',
      region: 'eu-west-1',
      profile: 'no-such-profile-for-this-test',
    });
    expect(unreachable).toMatchObject({ source: 'defaults' });
    expect(unreachable.note).toMatch(/^stack AvatarPipeline could not be read: /);
  });

  it('checks its arguments before it looks a table up', async () => {
    const audio = join(dir, 'missing.wav');
    // A file it cannot read is a usage error before any table is looked up.
    let looked = false;
    await expect(
      estimate({ audio }, async () => {
        looked = true;
        return { prices: DEPLOYED, source: 'x' };
      }),
    ).rejects.toThrow(/Cannot read the audio file/);
    expect(looked).toBe(false);
  });
});
