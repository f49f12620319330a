import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionStarter } from '../../lambdas/core/aws/executions.js';
import { ingestObject, type ObjectCreated } from '../../lambdas/ingest/ingest.js';
import { sweepOrphans } from '../../lambdas/sweep/sweep.js';
import { useOutputBucket, useStores } from '../support/harness.js';

const db = useStores();
const { s3: s3Mock, outputs } = useOutputBucket();
let clock: Date;
let seq = 0x500;
const starter: ExecutionStarter = {
  start: async (name) => ({ executionArn: `arn:x:${name}`, alreadyExisted: false }),
};

beforeEach(() => {
  clock = new Date('2026-11-24T10:00:00Z');
});

const ingest = (key: string) => {
  seq += 1;
  const event: ObjectCreated = {
    eventId: `e${seq}`,
    encodedKey: key,
    etag: `"${key}"`,
    size: 10,
    sequencer: seq.toString(16),
  };
  return ingestObject(event, {
    files: db.files,
    jobs: db.jobs,
    executions: starter,
    outputs: outputs(),
    shown: db.shown,
    orphanAfterSeconds: 3600,
    now: () => clock,
  });
};
const sweep = (acceptOggAudio = false) =>
  sweepOrphans({ files: db.files, outputs: outputs(), now: () => clock, acceptOggAudio });
const later = (seconds: number) => {
  clock = new Date(clock.getTime() + seconds * 1000);
};

describe('orphan sweep', () => {
  it('reports a lone sidecar, saying that the image and the audio file are missing', async () => {
    await ingest('inbox/lone-sidecar/s.json');
    later(3601);
    expect((await sweep()).reported).toContain('lone-sidecar/s');
    const call = s3Mock
      .commandCalls(PutObjectCommand)
      .find((c) => c.args[0].input.Key === 'lone-sidecar/s.error.json');
    const doc = JSON.parse(String(call?.args[0].input.Body));
    expect(doc).toMatchObject({ code: 'ORPHAN_INPUT', inputs: { sidecar: 'inbox/lone-sidecar/s.json' } });
    expect(doc.message).toContain('inbox/lone-sidecar/s.json has waited');
    expect(doc.message).toContain('image (.jpg .jpeg .png .webp) and audio file');
  });

  it('lists .ogg among the audio types to upload only when acceptOggAudio is set', async () => {
    const message = async (stem: string, acceptOggAudio: boolean) => {
      await ingest(`inbox/${stem}.png`);
      later(3601);
      await sweep(acceptOggAudio);
      const call = s3Mock
        .commandCalls(PutObjectCommand)
        .find((c) => c.args[0].input.Key === `${stem}.error.json`);
      return String(JSON.parse(String(call?.args[0].input.Body)).message);
    };
    expect(await message('ogg-off/anna', false)).toContain('audio file (.mp3 .wav .m4a .aac) named');
    expect(await message('ogg-on/anna', true)).toContain('audio file (.mp3 .wav .m4a .aac .ogg) named');
  });

  it('spells out a name that only looks like its partner, so the person sees why they did not pair', async () => {
    // A Cyrillic "а" in the image's name: not the same name in any normalization form.
    await ingest('inbox/look-alike/%D0%B0nna.jpg');
    await ingest('inbox/look-alike/anna.mp3');
    later(3601);
    expect((await sweep()).reported).toEqual(
      expect.arrayContaining(['look-alike/\u0430nna', 'look-alike/anna']),
    );
    const call = s3Mock
      .commandCalls(PutObjectCommand)
      .find((c) => c.args[0].input.Key === 'look-alike/\u0430nna.error.json');
    const doc = JSON.parse(String(call?.args[0].input.Body));
    expect(doc.message).toContain('(spelled inbox/look-alike/\\u{430}nna.jpg)');
  });

  it('reports a lone image once its wait is over, once, and starts nothing', async () => {
    await ingest('inbox/lonely/img.jpg');
    later(3599);
    expect((await sweep()).reported).not.toContain('lonely/img');
    later(2);
    expect((await sweep()).reported).toContain('lonely/img');
    expect((await sweep()).reported).not.toContain('lonely/img');

    const call = s3Mock
      .commandCalls(PutObjectCommand)
      .find((c) => c.args[0].input.Key === 'lonely/img.error.json');
    const doc = JSON.parse(String(call?.args[0].input.Body));
    expect(doc).toMatchObject({
      stem: 'lonely/img',
      stage: 'RECEIVED',
      code: 'ORPHAN_INPUT',
      inputs: { image: 'inbox/lonely/img.jpg' },
    });
    expect(doc.message).toContain('audio file');
    expect(doc.message).toContain('inbox/lonely/img.<extension>');
  });

  it('does not report a stem whose partner arrived in time', async () => {
    await ingest('inbox/paired/a.mp3');
    later(600);
    await ingest('inbox/paired/a.png');
    later(7200);
    const out = await sweep();
    expect(out.reported).not.toContain('paired/a');
    expect(
      s3Mock.commandCalls(PutObjectCommand).filter((c) => c.args[0].input.Key === 'paired/a.error.json'),
    ).toHaveLength(0);
  });

  it('restarts the clock when the lone file is uploaded again', async () => {
    await ingest('inbox/again/b.wav');
    later(3000);
    await ingest('inbox/again/b.wav');
    later(1000);
    expect((await sweep()).reported).not.toContain('again/b');
    later(3000);
    expect((await sweep()).reported).toContain('again/b');
  });
});
