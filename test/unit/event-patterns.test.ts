import { describe, expect, it } from 'vitest';
import {
  assertSupportedPattern,
  LocalEventBus,
  matches,
  UnsupportedPatternError,
} from '../../local/event-bus.js';
import type { LocalRule } from '../../local/template.js';

/**
 * Local mode's event pattern matcher against the examples of AWS's EventBridge documentation, one block per part
 * of the pattern language the template's rules use (lib/rules.ts: exact values, lists as OR, `prefix`, nested
 * `detail` fields) or the matcher implements; every other operator must stop the rules from loading.
 */

/** The EC2 state-change event of https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html */
const EC2_EVENT = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};

describe('exact values, nested fields and AND (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html)', () => {
  const pattern = {
    source: ['aws.ec2'],
    'detail-type': ['EC2 Instance State-change Notification'],
    detail: { state: ['terminated'] },
  };

  it('matches the documented event: every named field matches, the others are ignored', () => {
    expect(matches(pattern, EC2_EVENT)).toBe(true);
  });

  it.each([
    ['another source', { ...EC2_EVENT, source: 'aws.s3' }],
    [
      'a nested field with another value',
      { ...EC2_EVENT, detail: { ...EC2_EVENT.detail, state: 'running' } },
    ],
    ['a value in another case (matching is case-sensitive)', { ...EC2_EVENT, source: 'AWS.EC2' }],
    ['the nested field missing', { ...EC2_EVENT, detail: { 'instance-id': 'i-1' } }],
    ['no detail at all', { ...EC2_EVENT, detail: undefined }],
  ])('does not match %s', (_name, event) => {
    expect(matches(pattern, event)).toBe(false);
  });

  it('tells a number from the string of its digits, and matches null only to null', () => {
    expect(matches({ detail: { n: [5] } }, { detail: { n: 5 } })).toBe(true);
    expect(matches({ detail: { n: [5] } }, { detail: { n: '5' } })).toBe(false);
    expect(matches({ detail: { n: [null] } }, { detail: { n: null } })).toBe(true);
    expect(matches({ detail: { n: [null] } }, { detail: {} })).toBe(false);
  });
});

describe('a list of values is an OR (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html)', () => {
  it('matches when any listed value is the event value', () => {
    const pattern = { detail: { state: ['running', 'terminated'] } };
    expect(matches(pattern, EC2_EVENT)).toBe(true);
    expect(matches({ detail: { state: ['running', 'pending'] } }, EC2_EVENT)).toBe(false);
  });

  it("matches an array in the event when the two lists intersect (the documentation's resources example)", () => {
    const pattern = {
      resources: [
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f',
      ],
    };
    const event = {
      resources: [
        'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate',
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
      ],
    };
    expect(matches(pattern, event)).toBe(true);
    expect(matches(pattern, { resources: [event.resources[0]] })).toBe(false);
  });
});

describe('prefix (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html)', () => {
  const pattern = { time: [{ prefix: '2017-10-02' }] };

  it('matches a string that begins with the prefix (the documented "time" example)', () => {
    expect(matches(pattern, { time: '2017-10-02T18:43:48Z' })).toBe(true);
  });

  it('does not match another string, a number or a missing field', () => {
    expect(matches(pattern, { time: '2017-10-03T18:43:48Z' })).toBe(false);
    expect(matches({ n: [{ prefix: '1' }] }, { n: 12 })).toBe(false);
    expect(matches(pattern, {})).toBe(false);
  });

  it("matches the ingest rule's object key prefix inside nested detail, any element of an array too", () => {
    const ingest = { detail: { object: { key: [{ prefix: 'inbox/' }] } } };
    expect(matches(ingest, { detail: { object: { key: 'inbox/a.jpg' } } })).toBe(true);
    expect(matches(ingest, { detail: { object: { key: 'outbox/inbox/a.jpg' } } })).toBe(false);
    expect(matches({ tags: [{ prefix: 'a' }] }, { tags: ['x', 'ab'] })).toBe(true);
  });
});

describe('operators local mode does not implement are refused when the rules load', () => {
  // One example of each, from https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
  it.each([
    ['anything-but', { state: [{ 'anything-but': 'initializing' }] }],
    ['anything-but prefix', { Region: [{ 'anything-but': { prefix: 'us-' } }] }],
    ['suffix', { FileName: [{ suffix: '.png' }] }],
    ['equals-ignore-case', { name: [{ 'equals-ignore-case': 'alice' }] }],
    ['prefix ignoring case', { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] }],
    ['numeric', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }],
    ['exists', { detail: { 'c-count': [{ exists: false }] } }],
    ['cidr', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }],
    ['wildcard', { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] }],
    ['$or', { detail: { $or: [{ 'c-count': [{ numeric: ['>', 0] }] }, { d: ['x'] }] } }],
    ['a scalar where a list belongs', { source: 'aws.s3' }],
    ['an empty list', { source: [] }],
  ])('refuses %s', (_name, pattern) => {
    expect(() => assertSupportedPattern(pattern as Record<string, unknown>)).toThrow(UnsupportedPatternError);
  });

  it('stops the event bus from loading such a rule, naming the rule and the field', () => {
    const rule: LocalRule = {
      id: 'Suffix',
      arn: 'arn:aws:events:us-east-1:000000000000:rule/Suffix',
      eventPattern: { detail: { object: { key: [{ suffix: '.png' }] } } },
      targets: [],
    };
    expect(
      () =>
        new LocalEventBus({
          rules: [rule],
          functions: {} as never,
          lambdas: { invoke: async () => undefined },
          onDeadLetter: () => undefined,
        }),
    ).toThrow(/Rule Suffix: detail\.object\.key: the operator \{"suffix":"\.png"\} is not implemented/);
  });

  it('accepts the patterns of the template (exact values, lists, prefix, nested fields)', () => {
    expect(() =>
      assertSupportedPattern({
        source: ['aws.s3'],
        'detail-type': ['Object Created', 'Object Deleted'],
        detail: { bucket: { name: ['in'] }, object: { key: [{ prefix: 'inbox/' }] } },
      }),
    ).not.toThrow();
  });
});
