import { describe, expect, it } from 'vitest';
import { type DeadLetter, LocalEventBus, matches, UnsupportedPatternError } from '../../local/event-bus.js';
import { executionStatusChange, s3ObjectCreated, s3ObjectDeleted } from '../../local/events.js';
import type { FunctionName, LocalFunction, LocalRule } from '../../local/template.js';

/** The rules as local mode reads them from the synthesized template (see `loadAssembly`). */
const RULES: LocalRule[] = [
  {
    id: 'InputObjectCreated',
    arn: 'arn:aws:events:us-east-1:000000000000:rule/InputObjectCreated',
    eventPattern: {
      source: ['aws.s3'],
      'detail-type': ['Object Created', 'Object Deleted'],
      detail: { bucket: { name: ['in'] }, object: { key: [{ prefix: 'inbox/' }] } },
    },
    targets: [{ function: 'ingest', retryAttempts: 4, maximumEventAgeSeconds: 7200, deadLetterQueue: true }],
  },
  {
    id: 'ExecutionEndedUnhandled',
    arn: 'arn:aws:events:us-east-1:000000000000:rule/ExecutionEndedUnhandled',
    eventPattern: {
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: ['arn:sm'] },
    },
    targets: [{ function: 'fail', deadLetterQueue: true }],
  },
  {
    id: 'OrphanSweepSchedule',
    arn: 'arn:aws:events:us-east-1:000000000000:rule/OrphanSweepSchedule',
    scheduleExpression: 'rate(5 minutes)',
    targets: [{ function: 'sweep', deadLetterQueue: false }],
  },
];

const fn = (name: FunctionName, asyncOnFailure: boolean): LocalFunction => ({
  name,
  logicalId: name,
  assetDir: '',
  handler: 'index.handler',
  timeoutSeconds: 3,
  memoryMb: 128,
  environment: {},
  arn: `arn:${name}`,
  asyncRetryAttempts: 2,
  asyncOnFailure,
});
const FUNCTIONS = Object.fromEntries(
  (['ingest', 'validate', 'submit', 'webhook', 'poll', 'record', 'deliver', 'fail', 'sweep'] as const).map(
    (name) => [name, fn(name, name === 'ingest' || name === 'fail')],
  ),
) as Record<FunctionName, LocalFunction>;

/** A bus whose functions fail `failures` times each before they succeed. */
function busWith(failures = 0) {
  const invoked: { name: FunctionName; event: unknown }[] = [];
  const delivered: FunctionName[] = [];
  const deadLetters: DeadLetter[] = [];
  const left = new Map<FunctionName, number>();
  const bus = new LocalEventBus({
    rules: RULES,
    functions: FUNCTIONS,
    lambdas: {
      invoke: async (name, event) => {
        invoked.push({ name, event });
        const remaining = left.get(name) ?? failures;
        left.set(name, remaining - 1);
        if (remaining > 0) throw new Error(`${name} failed`);
        return { ok: name };
      },
    },
    onDeliver: (name) => delivered.push(name),
    onDeadLetter: (letter) => deadLetters.push(letter),
    retryDelayMs: () => 0,
  });
  return { bus, invoked, delivered, deadLetters };
}

const created = (bucket: string, key: string) =>
  s3ObjectCreated({ bucket, key, size: 1, etag: 'e', sequencer: '1' });
const ended = (status: string, stateMachineArn = 'arn:sm') =>
  executionStatusChange({ executionArn: 'arn:x', stateMachineArn, name: 'x', status, input: '{}' });

describe('EventBridge pattern matching', () => {
  it.each([
    ['an Object Created event under inbox/ of the input bucket', created('in', 'inbox/a b.jpg'), true],
    [
      'an Object Deleted event under inbox/',
      s3ObjectDeleted({ bucket: 'in', key: 'inbox/a.jpg', sequencer: '1' }),
      true,
    ],
    ['an event outside inbox/', created('in', 'other/a.jpg'), false],
    ['an event of another bucket', created('out', 'inbox/a.jpg'), false],
    ['an execution status change', ended('TIMED_OUT'), false],
  ])('matches the ingest rule against %s', (_name, event, expected) => {
    expect(matches(RULES[0]?.eventPattern ?? {}, event)).toBe(expected);
  });

  it.each([
    ['TIMED_OUT', 'arn:sm', true],
    ['ABORTED', 'arn:sm', true],
    ['SUCCEEDED', 'arn:sm', false],
    ['FAILED', 'arn:sm', false],
    ['TIMED_OUT', 'arn:other', false],
  ])('matches the execution-ended rule against %s of %s: %s', (status, arn, expected) => {
    expect(matches(RULES[1]?.eventPattern ?? {}, ended(status, arn))).toBe(expected);
  });

  it('refuses a pattern operator it does not implement, rather than matching wrongly', () => {
    expect(() => matches({ detail: { size: [{ numeric: ['>', 0] }] } }, { detail: { size: 1 } })).toThrow(
      UnsupportedPatternError,
    );
  });
});

describe('local event bus', () => {
  it('delivers an event to the targets of every matching rule, and nothing else', async () => {
    const { bus, invoked, delivered } = busWith();
    bus.put(created('in', 'inbox/a.jpg'));
    bus.put(created('out', 'a.mp4'));
    bus.put(ended('SUCCEEDED'));
    bus.put(ended('TIMED_OUT'));
    await bus.idle();
    expect(delivered).toEqual(['ingest', 'fail']);
    expect(invoked.map((i) => i.name)).toEqual(['ingest', 'fail']);
  });

  it('retries a failing function as often as its async invoke config says, then dead-letters the event', async () => {
    const { bus, invoked, deadLetters } = busWith(5);
    const event = created('in', 'inbox/a.jpg');
    bus.put(event);
    await bus.idle();
    expect(invoked).toHaveLength(3);
    expect(deadLetters).toEqual([{ function: 'ingest', event, error: 'ingest failed' }]);
    expect(bus.busy).toBe(false);
  });

  it('succeeds on a retry without a dead letter', async () => {
    const { bus, invoked, deadLetters } = busWith(2);
    bus.put(created('in', 'inbox/a.jpg'));
    await bus.idle();
    expect(invoked).toHaveLength(3);
    expect(deadLetters).toEqual([]);
  });

  it('drops a failed event of a function without an on-failure destination, as Lambda does', async () => {
    const { bus, invoked, deadLetters } = busWith(5);
    bus.startSchedules(5);
    // Three scheduled runs, however late a loaded machine fires the 5 ms timer, not whatever fits in 20 ms.
    await expect.poll(() => invoked.length, { timeout: 30_000, interval: 5 }).toBeGreaterThanOrEqual(3);
    bus.stop();
    await bus.idle();
    expect(invoked.length).toBeGreaterThanOrEqual(3);
    expect(invoked.every((i) => i.name === 'sweep')).toBe(true);
    expect(deadLetters).toEqual([]);
  });

  it('re-delivers an event to a rule whatever its pattern (a duplicate delivery) and runs a schedule on demand', async () => {
    const { bus, delivered } = busWith();
    const event = created('in', 'inbox/a.jpg');
    bus.deliverTo('InputObjectCreated', event);
    await bus.idle();
    expect(delivered).toEqual(['ingest']);
    expect(await bus.runSchedule('OrphanSweepSchedule')).toEqual([{ ok: 'sweep' }]);
    expect(() => bus.deliverTo('NoSuchRule', event)).toThrow(/no rule NoSuchRule/);
  });
});
