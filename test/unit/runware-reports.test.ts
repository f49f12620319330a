import { describe, expect, it } from 'vitest';
import {
  capResults,
  isTransientPollError,
  MAX_FAILURE_MESSAGE_CHARS,
  parseTaskReports,
  readJsonBody,
} from '../../lambdas/core/runware/reports.js';
import { loadRunwarePairs } from '../fixtures/runware/pairs.js';

const TASK = 'f3dc68b4-022e-4c23-bb4f-00e7095f2ed1';
const OTHER = '00000000-0000-4000-8000-000000000000';
const SIGNED = 'https://in.s3.amazonaws.com/face.jpg?X-Amz-Signature=deadbeefcafe';
const result = {
  taskType: 'videoInference',
  taskUUID: TASK,
  videoUUID: '267a2bde-25e5-48bc-9c2d-2823a2abe887',
  videoURL: 'https://vm.runware.ai/video/os/a15d18/ws/5/vi/267a2bde-25e5-48bc-9c2d-2823a2abe887.mp4',
  cost: 1.20634,
};
const failure = { code: 'providerError', message: 'No face found.' };

function reports(body: unknown, source?: 'webhook' | 'getResponse') {
  const parsed = parseTaskReports(body, TASK, source ? { source } : {});
  if (!parsed.ok) throw new Error(`refused: ${parsed.reason}`);
  return parsed.reports;
}

function reason(body: unknown, source?: 'webhook' | 'getResponse'): string {
  const parsed = parseTaskReports(body, TASK, source ? { source } : {});
  if (parsed.ok) throw new Error('expected a refusal');
  return parsed.reason;
}

describe('parseTaskReports: successes', () => {
  it('reads each real model-page response, bare and in the {data:[...]} envelope', () => {
    for (const { response } of loadRunwarePairs()) {
      const own = (response as { taskUUID: string }).taskUUID;
      for (const body of [response, { data: [response] }]) {
        const parsed = parseTaskReports(body, own);
        expect(parsed).toMatchObject({
          ok: true,
          reports: { results: [response], failures: [], pending: 0 },
        });
      }
    }
  });

  it('reads a result without taskType or taskUUID as the task’s', () => {
    const { taskType: _t, taskUUID: _u, ...bare } = result;
    expect(reports({ data: [bare] }).results).toEqual([
      { ...bare, taskType: 'videoInference', taskUUID: TASK },
    ]);
  });

  it('reads a result item that carries an empty error field as a result', () => {
    expect(reports({ ...result, status: 'success', error: {} }).results).toHaveLength(1);
    expect(reports({ ...result, error: null }).results).toHaveLength(1);
    expect(reports({ data: [{ ...result, error: {} }] }).results).toHaveLength(1);
  });

  it('matches the task UUID whatever its letter case', () => {
    expect(reports({ ...result, taskUUID: TASK.toUpperCase() }).results).toHaveLength(1);
  });
});

describe('parseTaskReports: failures in every shape the SDKs handle', () => {
  it.each([
    ['{errors:[...]}', { errors: [{ ...failure, taskUUID: TASK }] }],
    ['{data:[], errors:[...]} (the SDK test shape)', { data: [], errors: [{ ...failure, taskUUID: TASK }] }],
    ['{errors:[...]} without taskUUID', { errors: [failure] }],
    [
      'a data item with status "error" and an error object',
      { data: [{ taskUUID: TASK, status: 'error', error: failure }] },
    ],
    [
      'a data item with status "error" and the error fields on it',
      { data: [{ taskUUID: TASK, status: 'error', ...failure }] },
    ],
    ['a data item with an error object and no status', { data: [{ taskUUID: TASK, error: failure }] }],
    ['a bare item with status "error"', { taskUUID: TASK, status: 'error', error: failure }],
    ['{error:{code,message}, taskUUID}', { error: failure, taskUUID: TASK }],
    ['{error:{code,message}} without taskUUID', { error: failure }],
    ['{error:[...]}', { error: [failure] }],
    ['a bare error item', { ...failure, taskUUID: TASK }],
    ['a bare error item without taskUUID', failure],
  ])('reads %s as a failure of the task', (_, body) => {
    expect(reports(body)).toEqual({ results: [], failures: [failure], pending: 0, foreignFailures: [] });
  });

  it('reads a failure without code or message as a readable failure', () => {
    expect(reports({ data: [{ taskUUID: TASK, status: 'error' }] }).failures).toEqual([
      { code: 'taskFailed', message: 'Runware reported the task as failed without a message.' },
    ]);
    expect(reports({ taskUUID: TASK, status: 'error', error: 'Face not found' }).failures).toEqual([
      { code: 'taskFailed', message: 'Face not found' },
    ]);
  });

  it('keeps a parameter, also given as a list of fields', () => {
    expect(reports({ errors: [{ ...failure, parameter: ['width', 'height'] }] }).failures).toEqual([
      { ...failure, parameter: 'width, height' },
    ]);
  });

  it('removes secrets from the message and bounds its length', () => {
    const [item] = reports({
      errors: [{ code: 'failedToFetch', message: `Could not fetch ${SIGNED} ${'x'.repeat(50_000)}` }],
    }).failures;
    expect(item?.message).not.toContain('deadbeefcafe');
    expect(item?.message).toContain('https://in.s3.amazonaws.com/face.jpg');
    expect(item?.message.length).toBeLessThanOrEqual(MAX_FAILURE_MESSAGE_CHARS);
  });

  it('reads results and failures of one body together', () => {
    const body = { data: [result, { taskUUID: TASK, status: 'error', error: failure }], errors: [failure] };
    expect(reports(body)).toMatchObject({ results: [result], failures: [failure, failure] });
  });
});

describe('parseTaskReports: tasks still running', () => {
  it.each(['processing', 'pending', 'warming-up'])('counts a %s item as pending', (status) => {
    expect(reports({ data: [{ taskUUID: TASK, status, progress: 40 }] }).pending).toBe(1);
  });

  it('accepts an empty getResponse answer (nothing known yet)', () => {
    expect(reports({ data: [] }, 'getResponse')).toEqual({
      results: [],
      failures: [],
      pending: 0,
      foreignFailures: [],
    });
  });
});

describe('parseTaskReports: bodies that are refused, never thrown', () => {
  it.each([
    ['null', null, 'not a JSON object'],
    ['an array', [result], 'not a JSON object'],
    ['a string', 'ok', 'not a JSON object'],
    ['an empty object', {}, 'neither a result, a failure nor a task status'],
    ['an empty envelope', { data: [] }, 'no result, failure or status'],
    ['data that is not an array', { data: result }, '"data" is not an array'],
    ['errors that is not an array', { errors: failure }, '"errors" is not an array'],
    ['a data item that is not an object', { data: ['x'] }, 'data.0: not an object'],
    ['an error without code or message', { errors: [{ taskUUID: TASK }] }, 'without a code or a message'],
    ['a taskUUID that is not a string', { ...result, taskUUID: 42 }, 'taskUUID is not a non-empty string'],
    ['a success without a video', { taskUUID: TASK, status: 'success' }, 'videoUUID'],
    ['a result of another task', { ...result, taskUUID: OTHER }, 'about another task'],
    ['a failure of another task', { errors: [{ ...failure, taskUUID: OTHER }] }, 'about another task'],
    ['an error beside another task’s UUID', { error: failure, taskUUID: OTHER }, 'about another task'],
  ])('refuses %s with a reason', (_, body, expected) => {
    expect(reason(body)).toContain(expected);
  });

  it.each([
    ['a negative cost', { cost: -0.01 }, 'cost'],
    ['a cost over 10,000 USD', { cost: 10_000.01 }, 'cost'],
    ['an infinite cost (1e999 in JSON)', { cost: JSON.parse('1e999') as number }, 'cost'],
    ['a denormal cost', { cost: 5e-324 }, 'cost'],
    ['a cost that is a string', { cost: '1.2' }, 'cost'],
    ['an empty videoUUID', { videoUUID: '' }, 'videoUUID'],
    ['a videoUUID of 129 characters', { videoUUID: 'a'.repeat(129) }, 'videoUUID'],
    ['a videoUUID with a slash', { videoUUID: '../../etc' }, 'videoUUID'],
    ['an empty taskUUID', { taskUUID: '' }, 'taskUUID'],
    [
      'a videoURL over 2,048 characters',
      { videoURL: `https://vm.runware.ai/${'v'.repeat(2048)}` },
      'videoURL',
    ],
    ['a videoURL that is not http(s)', { videoURL: 'file:///etc/passwd' }, 'videoURL'],
    ['a seed that is not an integer', { seed: 1.5 }, 'seed'],
    ['a seed too large to store', { seed: 1e300 }, 'seed'],
  ])('refuses a result with %s, naming the field but not its value', (_, change, field) => {
    const why = reason({ data: [{ ...result, ...change }] });
    expect(why).toContain(field);
    expect(why).not.toContain('vvvvvvvv');
    expect(why).not.toContain('passwd');
  });

  it('accepts the bounds themselves', () => {
    for (const change of [
      { cost: 0 },
      { cost: 10_000 },
      { videoUUID: 'a'.repeat(128) },
      { videoURL: `https://vm.runware.ai/${'v'.repeat(2048 - 22)}` },
      { seed: 2 ** 63 }, // 9,223,372,036,854,775,807 (2^63 - 1) as a JSON number parses to this
    ]) {
      expect(reports({ ...result, ...change }).results).toHaveLength(1);
    }
  });

  it('in a getResponse answer, skips items of other tasks and returns their failures apart', () => {
    const body = {
      data: [
        { ...result, taskUUID: OTHER },
        { taskUUID: OTHER, status: 'error', error: failure },
      ],
      errors: [{ ...failure, taskUUID: OTHER }],
    };
    expect(reports(body, 'getResponse')).toEqual({
      results: [],
      failures: [],
      pending: 0,
      foreignFailures: [failure, failure],
    });
  });
});

describe('capResults', () => {
  const video = (n: number) => ({ videoUUID: `v${n}`, cost: 1 });

  it('keeps up to numberResults and returns the rest as extra', () => {
    expect(capResults([video(1), video(2), video(3)], { numberResults: 1 })).toEqual({
      kept: [video(1)],
      extra: [video(2), video(3)],
    });
  });

  it('counts results already recorded by earlier webhook calls', () => {
    expect(capResults([video(2), video(3)], { numberResults: 2, recorded: ['v1'] })).toEqual({
      kept: [video(2)],
      extra: [video(3)],
    });
  });

  it('keeps a result already recorded (a duplicate delivery) even when the cap is reached', () => {
    expect(capResults([video(1), video(9)], { numberResults: 1, recorded: ['v1'] })).toEqual({
      kept: [video(1)],
      extra: [video(9)],
    });
  });

  it('counts the same video twice in one body once', () => {
    expect(capResults([video(1), video(1), video(2)], { numberResults: 2 })).toEqual({
      kept: [video(1), video(2)],
      extra: [],
    });
  });
});

describe('isTransientPollError', () => {
  it.each([
    'serviceUnavailable',
    'internalServerError',
    'serverUnavailable',
    'rateLimitExceeded',
    'providerRateLimit',
  ])('treats %s as "ask again"', (code) => {
    expect(isTransientPollError(code)).toBe(true);
  });

  it.each(['timeoutProvider', 'providerError', 'taskFailed', 'invalidPositivePrompt', 'insufficientCredits'])(
    'treats %s as final',
    (code) => {
      expect(isTransientPollError(code)).toBe(false);
    },
  );
});

describe('readJsonBody', () => {
  it.each([
    ['a JSON object', '{"data":[]}', { data: [] }],
    ['JSON with a byte order mark', '\uFEFF{"a":1}', { a: 1 }],
    ['JSON with surrounding white space', ' \n{"a":1}\n', { a: 1 }],
  ])('reads %s', (_, text, json) => {
    expect(readJsonBody(text)).toEqual({ ok: true, json });
  });

  it.each([
    ['an empty body', '', 'empty'],
    ['a form body', 'a=1&b=2', 'not JSON'],
    ['truncated JSON', '{"data":[', 'not JSON'],
  ])('refuses %s with a reason and never throws', (_, text, reason) => {
    const read = readJsonBody(text);
    expect(read.ok).toBe(false);
    expect(read.ok ? '' : read.reason).toContain(reason);
  });
});
