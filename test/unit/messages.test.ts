import { describe, expect, it } from 'vitest';
import { taskErrorOf } from '../../lambdas/core/completion.js';
import { deadlineMessage } from '../../lambdas/core/deadline.js';
import { providerWords } from '../../lambdas/core/runware/provider-text.js';

describe('Runware-side messages', () => {
  it.each(['Invalid audio.', 'Invalid audio..', 'Invalid audio. ', 'Invalid audio'])(
    'never end in a doubled full stop (%j)',
    (said) => {
      const { message } = taskErrorOf({ code: 'invalidAudio', message: said });
      expect(message).toBe(
        'Runware could not make the video (invalidAudio): Invalid audio. Check the inputs and prompt, then retry.',
      );
    },
  );

  it('says no reason was given when Runware gave none', () => {
    expect(taskErrorOf({ message: ' . ' }).message).toContain('no reason given. Check');
  });

  it('keeps the provider words otherwise', () => {
    expect(providerWords(' Wait... what?! ')).toBe('Wait... what?!');
  });
});

describe('deadline messages', () => {
  it('advises raising hardDeadlineSeconds only when the task may still be running', () => {
    const lost = deadlineMessage({
      kind: 'not-finished',
      taskUUID: 't-1',
      minutes: 120,
      received: 0,
      expected: 1,
    });
    expect(lost).toContain('no webhook came');
    expect(lost).toContain("Runware's dashboard");
    expect(lost).toContain('t-1');

    const queued = deadlineMessage({ kind: 'queued', minutes: 120 });
    expect(queued).toContain('never sent');
    expect(queued).toContain('Nothing was paid for');
    expect(queued).toContain('would only make them wait longer');

    const partial = deadlineMessage({
      kind: 'not-finished',
      taskUUID: 't-2',
      minutes: 120,
      received: 1,
      expected: 2,
    });
    expect(partial).toContain('1 of 2 results');
  });
});
