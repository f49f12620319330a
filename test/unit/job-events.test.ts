import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  JOB_EVENT_TYPES,
  JobCancelledDetailSchema,
  JobEventSchema,
  JobFailedDetailSchema,
  JobSucceededDetailSchema,
} from '../../lambdas/core/contract/job-events.js';

const DOC = readFileSync(join(import.meta.dirname, '../../docs/events.md'), 'utf8');

/** The JSON examples of docs/events.md that are events (a `detail-type` string; a rule pattern has a list). */
const documentedEvents = [...DOC.matchAll(/```json\n([\s\S]*?)```/g)]
  .map((m) => JSON.parse(m[1] ?? '') as Record<string, unknown>)
  .filter((json) => typeof json['detail-type'] === 'string');

const identity = { version: '1', jobId: 'a'.repeat(32), attempt: 1, stem: 'team/alice' };

describe('job event schemas (docs/events.md)', () => {
  it('parse every example event the document shows, one per event type', () => {
    expect(documentedEvents.map((e) => e['detail-type'])).toEqual(JOB_EVENT_TYPES);
    for (const event of documentedEvents) expect(() => JobEventSchema.parse(event)).not.toThrow();
  });

  it('keep fields they do not know: an additive change keeps the version', () => {
    const detail = {
      ...identity,
      outputs: ['team/alice.mp4'],
      recordKey: 'team/alice.json',
      durationSeconds: 3,
    };
    expect(JobSucceededDetailSchema.parse(detail)).toEqual(detail);
  });

  it('refuse another version, and a detail that lacks a documented field', () => {
    expect(
      JobSucceededDetailSchema.safeParse({
        ...identity,
        version: '2',
        outputs: ['a.mp4'],
        recordKey: 'a.json',
      }).success,
    ).toBe(false);
    expect(
      JobFailedDetailSchema.safeParse({ ...identity, code: 'X', message: 'm', stage: 'VALIDATED' }).success,
    ).toBe(false);
    expect(JobCancelledDetailSchema.safeParse({ ...identity, at: '2026-11-26T19:30:00Z' }).success).toBe(
      false,
    );
  });

  it('accept a JobFailed whose error file was not written', () => {
    const detail = { ...identity, code: 'STALE_ATTEMPT', message: 'm', stage: 'SUBMITTED', errorKey: null };
    expect(JobFailedDetailSchema.parse(detail).errorKey).toBeNull();
  });
});
