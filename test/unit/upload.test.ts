import { describe, expect, it } from 'vitest';
import { S3_SINGLE_PUT_LIMIT, uploadMethod } from '../../lambdas/deliver/upload.js';

describe('uploadMethod', () => {
  const GiB = 1024 ** 3;
  it.each([
    ['an unknown length', undefined, {}, 'multipart'],
    ['an announced length of 0', 0, {}, 'multipart'],
    ['1 byte', 1, {}, 'single'],
    ['1 GiB', GiB, {}, 'single'],
    ["exactly S3's 5 GiB limit", S3_SINGLE_PUT_LIMIT, {}, 'single'],
    ["a byte over S3's limit", S3_SINGLE_PUT_LIMIT + 1, {}, 'multipart'],
    ['a length at a lower threshold', 64, { singlePutMaxBytes: 64 }, 'single'],
    ['a length over a lower threshold', 65, { singlePutMaxBytes: 64 }, 'multipart'],
    [
      "a length over S3's limit, whatever the threshold says",
      6 * GiB,
      { singlePutMaxBytes: 8 * GiB },
      'multipart',
    ],
  ] as const)('%s goes %s', (_name, length, options, method) => {
    expect(uploadMethod(length, options)).toBe(method);
  });
});
