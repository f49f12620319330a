import * as crypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { verifyWebhookToken, webhookToken, webhookUrl } from '../../lambdas/core/webhook-token.js';

// Spy on the comparison the module uses, keeping its real behaviour: it proves the check is a constant-time
// comparison of fixed-length digests, whatever the length of the presented token.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const SECRET = 'webhook-signing-secret';
const TASK = '5d2b6d4e-1f0a-4c59-9a63-0e2f3c7a8b91';
const OTHER_TASK = 'a3c1e2f4-7b6d-4e8f-9a0b-1c2d3e4f5a6b';
const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);

beforeEach(() => {
  timingSafeEqual.mockClear();
});

describe('webhookToken', () => {
  it('is a 256-bit HMAC in base64url: 43 URL-safe characters, the same every time', () => {
    const token = webhookToken(SECRET, TASK);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(webhookToken(SECRET, TASK)).toBe(token);
  });

  it('differs per task and per secret', () => {
    const token = webhookToken(SECRET, TASK);
    expect(webhookToken(SECRET, OTHER_TASK)).not.toBe(token);
    expect(webhookToken(`${SECRET}-other`, TASK)).not.toBe(token);
  });

  it('does not contain the secret or the task UUID', () => {
    const token = webhookToken(SECRET, TASK);
    expect(token).not.toContain(SECRET);
    expect(token).not.toContain(TASK);
  });
});

describe('verifyWebhookToken', () => {
  const genuine = webhookToken(SECRET, TASK);

  it('accepts the exact token of the task', () => {
    expect(verifyWebhookToken(SECRET, TASK, genuine)).toBe(true);
  });

  it('needs fixed-length inputs: a plain timingSafeEqual of the tokens would throw on a shorter guess', () => {
    // The premise of the next tests: comparing the raw strings would throw (a 500, and a length oracle).
    // By its code: the unit tests run in VM contexts, where Node's own errors are of another realm's RangeError.
    expect(() => timingSafeEqual(Buffer.from(genuine), Buffer.from('x'))).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH', name: 'RangeError' }),
    );
  });

  it.each([
    ['empty', ''],
    ['one character', 'x'],
    ['truncated by one character', genuine.slice(0, -1)],
    ['extended by one character', `${genuine}A`],
    ['the token twice', genuine + genuine],
    ['10 000 characters', 'A'.repeat(10_000)],
    ['multi-byte characters', 'ж'.repeat(43)],
    ['padded with a space', ` ${genuine}`],
  ])('rejects a token of another length (%s) without throwing', (_label, presented) => {
    expect(presented.length === genuine.length && presented === genuine).toBe(false);
    expect(() => verifyWebhookToken(SECRET, TASK, presented)).not.toThrow();
    expect(verifyWebhookToken(SECRET, TASK, presented)).toBe(false);
  });

  it.each([
    ['one character changed', `${genuine.slice(0, -1)}${genuine.endsWith('A') ? 'B' : 'A'}`],
    [
      'in another letter case',
      genuine.toUpperCase() === genuine ? genuine.toLowerCase() : genuine.toUpperCase(),
    ],
    ['of another task', webhookToken(SECRET, OTHER_TASK)],
    ['made with another secret', webhookToken('not-the-secret', TASK)],
    ['in base64 instead of base64url', `${genuine.replaceAll('-', '+').replaceAll('_', '/')}=`],
  ])('rejects a token %s', (_label, presented) => {
    expect(presented).not.toBe(genuine);
    expect(verifyWebhookToken(SECRET, TASK, presented)).toBe(false);
  });

  it('rejects the genuine token presented for another task', () => {
    expect(verifyWebhookToken(SECRET, OTHER_TASK, genuine)).toBe(false);
  });

  it('compares in constant time over two 32-byte digests, whatever the length of the presented token', () => {
    for (const presented of ['', 'x', genuine, `${genuine}A`, 'A'.repeat(10_000)]) {
      timingSafeEqual.mockClear();
      verifyWebhookToken(SECRET, TASK, presented);
      expect(timingSafeEqual).toHaveBeenCalledTimes(1);
      const [expected, actual] = timingSafeEqual.mock.calls[0] ?? [];
      expect((expected as Buffer).length).toBe(32);
      expect((actual as Buffer).length).toBe(32);
    }
  });
});

describe('webhookUrl', () => {
  it('appends the task UUID to the base URL and carries the token as the only query parameter', () => {
    const url = new URL(webhookUrl('https://abc.execute-api.eu-west-1.amazonaws.com/runware/', SECRET, TASK));
    expect(url.origin + url.pathname).toBe(`https://abc.execute-api.eu-west-1.amazonaws.com/runware/${TASK}`);
    expect([...url.searchParams.keys()]).toEqual(['token']);
    expect(url.searchParams.get('token')).toBe(webhookToken(SECRET, TASK));
  });

  it('never puts the secret in the URL', () => {
    expect(webhookUrl('https://example.com/runware', SECRET, TASK)).not.toContain(SECRET);
  });
});
