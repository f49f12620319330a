import { describe, expect, it } from 'vitest';
import type { StoredFile } from '../../lambdas/core/job.js';
import { changedInputs, inboxJobId, jobIdOf } from '../../lambdas/core/stem-files.js';

const file = (role: StoredFile['role'], key: string, etag: string): StoredFile => ({
  stem: 'x',
  role,
  key,
  etag,
  size: 1,
  sequencer: '1',
  seenAt: 't',
});
const image = file('image', 'inbox/x.jpg', 'i');
const audio = file('audio', 'inbox/x.mp3', 'a');
const sidecar = file('sidecar', 'inbox/x.json', 's');
const job = { inputs: { image, audio } };

describe("the job a stem's inbox holds", () => {
  it('is the job of its image, audio and sidecar; none while a file is missing or two are of a kind', () => {
    expect(inboxJobId('x', [image, audio])).toBe(jobIdOf('x', image, audio));
    expect(inboxJobId('x', [sidecar, audio, image])).toBe(jobIdOf('x', image, audio, sidecar));
    expect(inboxJobId('x', [image])).toBeUndefined();
    expect(inboxJobId('x', [image, audio, file('image', 'inbox/x.png', 'p')])).toBeUndefined();
  });

  it("lists the roles whose inbox file is not the job's: other bytes, another extension, a new sidecar", () => {
    expect(changedInputs(job, [image, audio])).toEqual([]);
    expect(changedInputs(job, [file('image', 'inbox/x.jpg', 'other'), audio])).toEqual(['image']);
    expect(changedInputs(job, [image, file('audio', 'inbox/x.wav', 'a')])).toEqual(['audio']);
    expect(changedInputs(job, [sidecar, image, audio])).toEqual(['sidecar']);
    expect(changedInputs({ inputs: { image, audio, sidecar } }, [image, audio, sidecar])).toEqual([]);
  });

  it('counts a deleted file as no change (deleting inputs starts nothing either)', () => {
    expect(changedInputs(job, [image])).toEqual([]);
    expect(changedInputs({ inputs: { image, audio, sidecar } }, [image, audio])).toEqual([]);
    expect(changedInputs(job, [])).toEqual([]);
  });
});
