import { describe, expect, it } from 'vitest';
import { TRUNCATION_MARKER } from '../../lambdas/core/contract/bounds.js';
import { REDACTED, redactSecrets, SAFE_MESSAGE_MAX_CHARS, safeMessage } from '../../lambdas/core/redact.js';

const SIGNATURE = 'deadbeefcafe0123456789';
const CREDENTIAL = 'AKIAEXAMPLE%2F20261126%2Feu-west-1%2Fs3%2Faws4_request';
const SESSION = 'FwoGZXIvYXdzEXAMPLEsessiontoken';
const WEBHOOK_TOKEN = 'wh-token-0123456789';
const SECRETS = [SIGNATURE, 'AKIAEXAMPLE', SESSION, WEBHOOK_TOKEN, 'hunter2'];

const presigned = `https://in.s3.eu-west-1.amazonaws.com/jobs/face.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${CREDENTIAL}&X-Amz-Security-Token=${SESSION}&X-Amz-Signature=${SIGNATURE}`;

function expectNoSecret(text: string) {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

describe('redactSecrets', () => {
  it('removes query strings and fragments from every URL and leaves the rest of the text alone', () => {
    expect(
      redactSecrets('a https://x.io/p?sig=1&b=2, then "http://y.io/q#frag" and https://z.io/plain end?'),
    ).toBe('a https://x.io/p, then "http://y.io/q" and https://z.io/plain end?');
  });

  it('keeps the path of a presigned URL so the operator knows which file', () => {
    expect(redactSecrets(`Could not fetch ${presigned}.`)).toBe(
      'Could not fetch https://in.s3.eu-west-1.amazonaws.com/jobs/face.jpg.',
    );
  });

  it('removes a user and password from a URL, also inside fetch’s own error message', () => {
    const message =
      'TypeError: Request cannot be constructed from a URL that includes credentials: https://bob:hunter2@vm.runware.ai/video/v.mp4';
    const redacted = redactSecrets(message);
    expectNoSecret(redacted);
    expect(redacted).toContain(`https://${REDACTED}@vm.runware.ai/video/v.mp4`);
  });

  it('removes user info and query together', () => {
    expect(redactSecrets(`see https://bob:hunter2@vm.runware.ai/v.mp4?token=${WEBHOOK_TOKEN}.`)).toBe(
      `see https://${REDACTED}@vm.runware.ai/v.mp4.`,
    );
  });

  it.each([
    ['percent-encoded inside another URL', `https://api.example/next?u=${encodeURIComponent(presigned)}`],
    ['percent-encoded on its own', encodeURIComponent(presigned)],
    ['percent-encoded twice', encodeURIComponent(encodeURIComponent(presigned))],
    [
      'JSON-escaped (\\/ and \\u0026)',
      JSON.stringify({ url: presigned }).replaceAll('/', '\\/').replaceAll('&', '\\u0026'),
    ],
    [
      'JSON-escaped without the scheme',
      `b.s3.amazonaws.com\\/a.jpg\\u0026X-Amz-Signature=${SIGNATURE}\\u0026token=${WEBHOOK_TOKEN}`,
    ],
    ['HTML-escaped', presigned.replaceAll('&', '&amp;').replace('https://', '')],
    ['a webhook URL token, percent-encoded', `callback%3Fid%3D1%26token%3D${WEBHOOK_TOKEN}`],
    ['a percent-encoded URL with user info', encodeURIComponent('https://bob:hunter2@host.example/p')],
    ['a JSON-escaped URL with user info', 'https:\\/\\/bob:hunter2@host.example\\/p'],
  ])('removes the secrets of a URL that is %s', (_, text) => {
    expectNoSecret(redactSecrets(text));
  });

  it('removes Bearer and Basic credentials and the exact secrets it is given', () => {
    const redacted = redactSecrets(
      'Authorization: Bearer abc.def-ghi, Basic dXNlcjpwYXNz, key=rw-live-key-0123456789',
      {
        secrets: ['rw-live-key-0123456789', 'short'],
      },
    );
    expect(redacted).toBe(`Authorization: Bearer ${REDACTED}, Basic ${REDACTED}, key=${REDACTED}`);
  });

  it('removes credential members of JSON, also when the JSON is itself escaped', () => {
    expect(redactSecrets('{"apiKey":"rw-abc","taskType":"authentication"}')).toBe(
      `{"apiKey":"${REDACTED}","taskType":"authentication"}`,
    );
    expect(redactSecrets('"body":"{\\"token\\": \\"wh-123\\"}"')).toBe(
      `"body":"{\\"token\\": \\"${REDACTED}\\"}"`,
    );
  });

  it('removes a password that contains an encoded @', () => {
    expect(redactSecrets('https://u:p%40hunter2@h.example/x')).toBe(`https://${REDACTED}@h.example/x`);
  });

  it.each([
    ['dotted words', 'a.'.repeat(128 * 1024)],
    ['punctuation after a query', `https://a?${'.!'.repeat(128 * 1024)}x`],
    ['URLs without a space between them', 'https://x/'.repeat(26 * 1024)],
    ['at signs in an authority', `a://${'b@'.repeat(128 * 1024)}`],
    ['parameters', '?token='.repeat(36 * 1024)],
  ])('takes linear time on 256 KB of %s', (_, text) => {
    const started = performance.now();
    redactSecrets(text);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('ignores given secrets too short to be real keys', () => {
    expect(redactSecrets('a short word', { secrets: ['short'] })).toBe('a short word');
  });

  it.each([
    'The external provider did not respond within the timeout window.',
    'mail me@example.com, or see https://host.example/p@x',
    'a token count of 5 and 10% off',
    '',
  ])('leaves text without secrets unchanged: %s', (text) => {
    expect(redactSecrets(text)).toBe(text);
  });

  it('is idempotent', () => {
    const once = redactSecrets(`x ${presigned} https://u:p@h/ Bearer abc`);
    expect(redactSecrets(once)).toBe(once);
  });
});

describe('safeMessage', () => {
  it('redacts, then bounds the length with a visible marker', () => {
    const message = safeMessage(`Could not fetch ${presigned} ${'x'.repeat(10_000)}`, {
      secrets: ['hunter2-long'],
    });
    expectNoSecret(message);
    expect(message).toHaveLength(SAFE_MESSAGE_MAX_CHARS);
    expect(message.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  it('leaves a short clean message alone', () => {
    expect(safeMessage('No face found.')).toBe('No face found.');
    expect(safeMessage('abcdef', { maxChars: 3 })).toHaveLength(3);
  });
});
