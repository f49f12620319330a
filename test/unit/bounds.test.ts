import { describe, expect, it } from 'vitest';
import {
  DYNAMODB_ITEM_MAX_BYTES,
  dynamoItemSize,
  EVENTBRIDGE_ENTRY_MAX_BYTES,
  eventEntrySize,
  fitRecord,
  fitS3Key,
  fitTaskFailure,
  S3_KEY_MAX_BYTES,
  SFN_TASK_FAILURE_CAUSE_MAX_CHARS,
  SFN_TASK_FAILURE_ERROR_MAX_CHARS,
  TRUNCATION_MARKER,
  taskFailureCause,
  truncateChars,
  truncateUtf8,
} from '../../lambdas/core/contract/bounds.js';

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
/** No lone surrogate: the text survives a UTF-8 round trip unchanged. */
const wellFormed = (text: string) => Buffer.from(text, 'utf8').toString('utf8') === text;

describe('the documented AWS limits', () => {
  it('are the numbers AWS documents', () => {
    expect(SFN_TASK_FAILURE_CAUSE_MAX_CHARS).toBe(32_768);
    expect(SFN_TASK_FAILURE_ERROR_MAX_CHARS).toBe(256);
    expect(EVENTBRIDGE_ENTRY_MAX_BYTES).toBe(262_144);
    expect(DYNAMODB_ITEM_MAX_BYTES).toBe(409_600);
    expect(S3_KEY_MAX_BYTES).toBe(1024);
  });
});

describe('truncateChars', () => {
  it.each([
    ['below the limit', 9, 'x'.repeat(9)],
    ['exactly at the limit', 10, 'x'.repeat(10)],
  ])('leaves text %s alone', (_, __, text) => {
    expect(truncateChars(text, 10)).toBe(text);
  });

  it('cuts text one over the limit to the limit, ending with the marker', () => {
    const cut = truncateChars('x'.repeat(21), 20);
    expect(cut).toHaveLength(20);
    expect(cut.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    const text = '😀'.repeat(40);
    for (let max = 12; max < 30; max++) {
      const cut = truncateChars(text, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(wellFormed(cut)).toBe(true);
      expect(cut.endsWith(TRUNCATION_MARKER)).toBe(true);
    }
  });

  it('cuts the marker itself when the limit is smaller than the marker, and never throws', () => {
    expect(truncateChars('abcdefghijklmnopqrstuvwxyz', 3)).toBe(TRUNCATION_MARKER.slice(0, 3));
    expect(truncateChars('abc', 0)).toBe('');
    expect(truncateChars('abc', -5)).toBe('');
  });
});

describe('truncateUtf8', () => {
  it('leaves text of exactly the limit in bytes alone, multi-byte characters included', () => {
    const text = 'é'.repeat(512); // 1,024 bytes
    expect(truncateUtf8(text, 1024)).toBe(text);
  });

  it('cuts text one byte over the limit on a code point boundary', () => {
    const text = `${'é'.repeat(512)}a`;
    const cut = truncateUtf8(text, 1024);
    expect(bytes(cut)).toBeLessThanOrEqual(1024);
    expect(wellFormed(cut)).toBe(true);
    expect(cut.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  it.each([
    ['two-byte', 'é'],
    ['three-byte', '語'],
    ['four-byte', '😀'],
  ])('never splits a %s character, whatever the limit', (_, char) => {
    const text = char.repeat(100);
    for (let max = 0; max < 60; max++) {
      const cut = truncateUtf8(text, max);
      expect(bytes(cut)).toBeLessThanOrEqual(max);
      expect(wellFormed(cut)).toBe(true);
    }
  });
});

describe('fitTaskFailure', () => {
  it('keeps a 40 KiB provider message within the SendTaskFailure cause limit', () => {
    const fitted = fitTaskFailure('RunwareTaskError', `{"errorMessage":"${'語'.repeat(40 * 1024)}"}`);
    expect(fitted.cause.length).toBe(SFN_TASK_FAILURE_CAUSE_MAX_CHARS);
    expect(fitted.cause.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(fitted.error).toBe('RunwareTaskError');
  });

  it('keeps the error name within 256 characters', () => {
    expect(fitTaskFailure('E'.repeat(256), '').error).toBe('E'.repeat(256));
    expect(fitTaskFailure('E'.repeat(257), '').error).toHaveLength(256);
  });

  it('leaves a cause of exactly 32,768 characters alone', () => {
    const cause = 'c'.repeat(SFN_TASK_FAILURE_CAUSE_MAX_CHARS);
    expect(fitTaskFailure('E', cause).cause).toBe(cause);
  });
});

describe('taskFailureCause', () => {
  it('leaves a short message whole', () => {
    expect(taskFailureCause('[RUNWARE_TASK_FAILED] No face.')).toBe(
      '{"errorMessage":"[RUNWARE_TASK_FAILED] No face."}',
    );
  });

  it.each([
    ['plain', 'x'],
    ['multi-byte', '😀'],
    ['escaped in JSON', '"\n\u0001'],
  ])('cuts a 40 KiB %s message so the cause fits and stays valid JSON', (_, unit) => {
    const message = `[RUNWARE_TASK_FAILED] ${unit.repeat(40 * 1024)}`;
    const cause = taskFailureCause(message);
    expect(cause.length).toBeLessThanOrEqual(SFN_TASK_FAILURE_CAUSE_MAX_CHARS);
    const parsed = JSON.parse(cause) as { errorMessage: string };
    expect(parsed.errorMessage.startsWith('[RUNWARE_TASK_FAILED] ')).toBe(true);
    expect(parsed.errorMessage.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(wellFormed(parsed.errorMessage)).toBe(true);
  });

  it('ends even when the limit cannot hold the JSON wrapper', () => {
    expect(taskFailureCause('abc', 5)).toBe('{"errorMessage":""}');
  });
});

describe('fitS3Key', () => {
  it('leaves a key of exactly 1,024 bytes alone', () => {
    const exact = `out/${'é'.repeat(510)}`; // 4 + 1,020 bytes
    expect(bytes(exact)).toBe(1024);
    expect(fitS3Key(exact)).toBe(exact);
  });

  it('shortens a longer key to at most 1,024 bytes, on a code point boundary, keeping its suffix', () => {
    const stem = `out/${'😀'.repeat(300)}`;
    const key = fitS3Key(stem, '.error.json');
    expect(bytes(key)).toBeLessThanOrEqual(1024);
    expect(wellFormed(key)).toBe(true);
    expect(key.endsWith('.error.json')).toBe(true);
    expect(key).toMatch(/~truncated-[0-9a-f]{16}\.error\.json$/);
  });

  it('gives two long keys that differ only after the cut different names', () => {
    const base = `out/${'a'.repeat(1100)}`;
    expect(fitS3Key(`${base}-1`, '.mp4')).not.toBe(fitS3Key(`${base}-2`, '.mp4'));
  });
});

describe('eventEntrySize', () => {
  it('counts the UTF-8 bytes of source, detail type, detail and resources, and 14 for a time', () => {
    expect(
      eventEntrySize({
        Source: 'avatar',
        DetailType: 'JobFailed',
        Detail: '{"m":"é"}',
        Resources: ['arn:x'],
        Time: new Date(0),
      }),
    ).toBe(14 + 6 + 9 + 10 + 5);
    expect(eventEntrySize({ Detail: '{}' })).toBe(2);
  });
});

describe('dynamoItemSize', () => {
  it('counts names and string values in UTF-8 bytes', () => {
    expect(dynamoItemSize({ pk: 'é' })).toBe(2 + 2);
  });

  it('is at least the size of the strings of nested maps and lists', () => {
    expect(dynamoItemSize({ m: { a: 'xyz' }, l: ['ab'], n: 1, b: true })).toBeGreaterThanOrEqual(
      1 + 1 + 3 + 1 + 2 + 1 + 1 + 1,
    );
  });
});

describe('fitRecord', () => {
  const size = (r: Record<string, unknown>) => Buffer.byteLength(JSON.stringify(r), 'utf8');

  it('leaves a record that fits alone', () => {
    const record = { id: 'job-1', message: 'short' };
    expect(fitRecord(record, ['message'], 1000, size)).toEqual({ record, truncated: [], fits: true });
  });

  it('trims only the listed free-text fields, longest first, until the record fits', () => {
    const record = {
      id: 'job-1',
      message: '語'.repeat(100_000),
      detail: 'd'.repeat(10),
      other: 'o'.repeat(50),
    };
    const fitted = fitRecord(record, ['message', 'detail'], 10_000, size);
    expect(fitted.fits).toBe(true);
    expect(size(fitted.record)).toBeLessThanOrEqual(10_000);
    expect(fitted.truncated).toEqual(['message']);
    expect(fitted.record.message.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(wellFormed(fitted.record.message)).toBe(true);
    expect(fitted.record.other).toBe(record.other);
    expect(fitted.record.detail).toBe(record.detail);
  });

  it('fits a DynamoDB item with a message of 500 KB of multi-byte text', () => {
    const item = { pk: 'JOB#1', sk: 'JOB', message: '😀'.repeat(130_000) };
    const fitted = fitRecord(item, ['message'], DYNAMODB_ITEM_MAX_BYTES, dynamoItemSize);
    expect(fitted.fits).toBe(true);
    expect(dynamoItemSize(fitted.record)).toBeLessThanOrEqual(DYNAMODB_ITEM_MAX_BYTES);
    expect(dynamoItemSize(fitted.record)).toBeGreaterThan(DYNAMODB_ITEM_MAX_BYTES - 100);
  });

  it('counts JSON escaping in an event detail', () => {
    const detail = { jobId: 'j', message: '"'.repeat(200_000) };
    const fitted = fitRecord(detail, ['message'], 100_000, size);
    expect(size(fitted.record)).toBeLessThanOrEqual(100_000);
  });

  it('says when even emptying the listed fields is not enough, without throwing', () => {
    const record = { fixed: 'f'.repeat(500), message: 'm'.repeat(500) };
    const fitted = fitRecord(record, ['message'], 100, size);
    expect(fitted.fits).toBe(false);
    expect(fitted.record.message).toBe(TRUNCATION_MARKER);
    expect(fitted.record.fixed).toBe(record.fixed);
  });
});
