import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  AUDIO_EXTENSIONS,
  acceptedExtensionsText,
  IMAGE_EXTENSIONS,
} from '../../lambdas/core/contract/keys.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { CliError, EXIT } from '../errors.js';
import type { Target } from '../target.js';
import { ending, follow, int, type Outcome } from './common.js';

const dotted = (list: readonly string[]) => list.map((extension) => `.${extension}`);

export interface SubmitOptions {
  image: string;
  audio: string;
  prompt?: string;
  format?: string;
  quality?: string;
  results?: string;
  stem?: string;
  wait: boolean;
  timeoutSeconds: number;
  /** Where the live progress goes (stderr with --json, so stdout stays one JSON document). */
  progress: (line: string, final: boolean) => void;
}

/**
 * Reads an input the drop folder would pair. The CLI does not know the target's `acceptOggAudio`: it lets `.ogg`
 * through (validation then refuses or takes it by the setting), and its message says so rather than list it as
 * accepted.
 */
async function readInput(file: string, role: 'image' | 'audio'): Promise<Buffer> {
  const ext = extname(file).toLowerCase();
  const allowed = dotted(role === 'image' ? IMAGE_EXTENSIONS : AUDIO_EXTENSIONS);
  if (!allowed.includes(ext)) {
    throw new CliError(
      `The ${role} must be one of ${acceptedExtensionsText(role, undefined)} (got ${file}).`,
      EXIT.usage,
      'USAGE',
    );
  }
  try {
    return await readFile(file);
  } catch {
    throw new CliError(`Cannot read the ${role} file ${file}.`, EXIT.usage, 'USAGE');
  }
}

export async function submit(target: Target, o: SubmitOptions): Promise<Outcome> {
  const image = await readInput(o.image, 'image');
  const audio = await readInput(o.audio, 'audio');
  const stem = (o.stem ?? basename(o.image, extname(o.image))).replace(/^\/+|\/+$/g, '');
  const sidecar = {
    ...(o.prompt !== undefined ? { prompt: o.prompt } : {}),
    ...(o.format !== undefined ? { outputFormat: o.format.toUpperCase() } : {}),
    ...(o.quality !== undefined ? { outputQuality: int('quality', o.quality) } : {}),
    ...(o.results !== undefined ? { numberResults: int('results', o.results) } : {}),
  };
  const bucket = target.names.inputBucket;
  const put = async (key: string, body: Buffer | string) => {
    const out = await target.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    return (out.ETag ?? '').replace(/"/g, '');
  };
  const started = new Date();
  const uploaded: string[] = [];
  // The sidecar goes first, so the job's settings are there before the pair can start it.
  if (Object.keys(sidecar).length > 0) {
    await put(`inbox/${stem}.json`, JSON.stringify(sidecar));
    uploaded.push(`inbox/${stem}.json`);
  }
  const imageKey = `inbox/${stem}${extname(o.image).toLowerCase()}`;
  const audioKey = `inbox/${stem}${extname(o.audio).toLowerCase()}`;
  const imageEtag = await put(imageKey, image);
  const audioEtag = await put(audioKey, audio);
  uploaded.push(imageKey, audioKey);
  const where = uploaded.map((k) => `s3://${bucket}/${k}`);
  if (!o.wait) {
    return {
      json: { stem, uploaded: where },
      text: `Uploaded ${where.join(', ')}.\nFollow it with: avatar-pipeline status ${stem}`,
    };
  }

  const isOurs = (job: JobRecord) =>
    job.stem === stem && job.inputs.image.etag === imageEtag && job.inputs.audio.etag === audioEtag;
  // A failure recorded before this upload belongs to the attempt before: the upload starts the next one.
  const ended = (job: JobRecord) =>
    job.status === 'DELIVERED' ||
    ((job.status === 'FAILED' || job.status === 'CANCELLED') &&
      Date.parse(job.updatedAt) >= started.getTime());
  const job = await follow(
    async () => (await target.jobs.list()).items.find(isOurs),
    ended,
    started,
    stem,
    o,
  );
  return ending(target, job);
}
