import { describe, expect, it } from 'vitest';
import { nextSequencer, type S3rverRecord, s3EventOfRecord } from '../../local/events.js';

/**
 * The `Object Created` / `Object Deleted` events local mode sends EventBridge for s3rver's writes, field for field
 * against S3's documented examples (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
 */

/** S3's documented `Object Created` example, verbatim. */
const DOCUMENTED_CREATED = {
  version: '0',
  id: '17793124-05d4-b198-2fde-7ededc63b103',
  'detail-type': 'Object Created',
  source: 'aws.s3',
  account: '111122223333',
  time: '2021-11-12T00:00:00Z',
  region: 'ca-central-1',
  resources: ['arn:aws:s3:::amzn-s3-demo-bucket1'],
  detail: {
    version: '0',
    bucket: { name: 'amzn-s3-demo-bucket1' },
    object: {
      key: 'example-key',
      size: 5,
      etag: 'b1946ac92492d2347c6235b4d2611184',
      'version-id': 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e',
      sequencer: '617f08299329d189',
    },
    'request-id': 'N4N7GDK58NMKJ12R',
    requester: '123456789012',
    'source-ip-address': '1.2.3.4',
    reason: 'PutObject',
  },
};

/** A notification record as s3rver 3.7.1 emits it (lib/models/event.js), for a PutObject of `key`. */
function s3rverRecord(key: string, eventName = 'ObjectCreated:Put'): S3rverRecord {
  return {
    eventName,
    eventTime: '2026-12-07T14:03:07.123Z',
    requestParameters: { sourceIPAddress: '::ffff:127.0.0.1' },
    responseElements: { 'x-amz-request-id': '3F1A2B3C4D5E6F70' },
    s3: {
      bucket: { name: 'avatar-pipeline-input' },
      object: {
        key,
        size: 5,
        ...(eventName === 'ObjectCreated:Copy' ? {} : { eTag: 'b1946ac92492d2347c6235b4d2611184' }),
      },
    },
  };
}

/** Every path to a leaf, `detail.object.key` style, with the type of its value. */
function shape(value: unknown, at = ''): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { [at]: Array.isArray(value) ? 'array' : typeof value };
  return Object.assign(
    {},
    ...Object.entries(value).map(([k, v]) => shape(v, at ? `${at}.${k}` : k)),
  ) as Record<string, string>;
}

describe("S3's Object Created event on EventBridge, as local mode sends it", () => {
  const event = s3EventOfRecord(s3rverRecord('inbox/a b+c/é.jpg'));

  it('has every field of the documented example, of the same type, and no other', () => {
    const documented = shape(DOCUMENTED_CREATED);
    // The documented bucket is versioned; local S3 keeps no versions, so there is no version id to send.
    delete documented['detail.object.version-id'];
    expect(shape(event)).toEqual(documented);
  });

  it('fills the envelope as S3 does: source, detail-type, a UUID, the time to the second, the bucket ARN', () => {
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: expect.stringMatching(/^\d{12}$/),
      region: 'us-east-1',
      time: '2026-12-07T14:03:07Z',
      resources: ['arn:aws:s3:::avatar-pipeline-input'],
    });
    expect(event?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('fills the detail as S3 does: URL-encoded key, unquoted ETag, request id, requester, source IP, reason', () => {
    expect(event?.detail).toMatchObject({
      version: '0',
      bucket: { name: 'avatar-pipeline-input' },
      // S3 URL-encodes keys in its notifications: a space is "+", a "+" is "%2B", "/" stays.
      object: { key: 'inbox/a+b%2Bc/%C3%A9.jpg', size: 5, etag: 'b1946ac92492d2347c6235b4d2611184' },
      'request-id': '3F1A2B3C4D5E6F70',
      requester: expect.stringMatching(/^\d{12}$/),
      'source-ip-address': '127.0.0.1',
      reason: 'PutObject',
    });
    expect(event?.detail.object.sequencer).toMatch(/^[0-9A-F]{18}$/);
  });

  it.each([
    ['ObjectCreated:Put', 'PutObject'],
    ['ObjectCreated:Copy', 'CopyObject'],
    // s3rver names a completed multipart upload "Post"; local clients make no browser-form POST uploads.
    ['ObjectCreated:Post', 'CompleteMultipartUpload'],
  ])('gives %s the reason %s', (eventName, reason) => {
    expect(s3EventOfRecord(s3rverRecord('inbox/a.jpg', eventName), 'abc')?.detail).toMatchObject({
      reason,
      object: { etag: eventName === 'ObjectCreated:Copy' ? 'abc' : 'b1946ac92492d2347c6235b4d2611184' },
    });
  });

  it('sends Object Deleted with the fields of the documented DeleteObject example', () => {
    const deleted = s3EventOfRecord({ ...s3rverRecord('inbox/a.jpg', 'ObjectRemoved:Delete') });
    expect(deleted).toMatchObject({ 'detail-type': 'Object Deleted', source: 'aws.s3' });
    expect(Object.keys(deleted?.detail ?? {}).sort()).toEqual(
      [
        'version',
        'bucket',
        'object',
        'request-id',
        'requester',
        'source-ip-address',
        'reason',
        'deletion-type',
      ].sort(),
    );
    expect(deleted?.detail).toMatchObject({ reason: 'DeleteObject', 'deletion-type': 'Permanently Deleted' });
  });

  it('gives every write a greater sequencer than the one before, within one millisecond too', () => {
    const at = Date.now() + 60_000;
    const seen = [nextSequencer(at), nextSequencer(at), nextSequencer(at), nextSequencer(at + 1)];
    expect([...seen].sort()).toEqual(seen);
    expect(new Set(seen).size).toBe(seen.length);
  });
});
