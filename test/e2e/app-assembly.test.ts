import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSamplePortrait, makeSampleVoice } from '../../local/ffmpeg.js';
import { synth } from '../../local/services.js';
import { LocalStack } from '../../local/stack.js';
import { drop, finishedJob, outputKeys } from '../support/local.js';

/**
 * `npm start -- --app <dir>`: local mode runs a cloud assembly `cdk synth -o <dir>` wrote earlier, without
 * synthesizing. The assembly is made for the real Runware API (the default settings), as one for a deployment
 * is; the functions must still reach this run's simulator.
 */

let dir: string;
let stack: LocalStack;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'avatar-app-'));
  // Synthesized as for a deployment, with the default settings (as docs/local-mode.md shows it): for the real
  // Runware API and its video hosts. This is also the suite's `cdk synth` of the default settings through the CDK CLI.
  await synth(join(dir, 'assembly'), {});
  stack = await LocalStack.start({
    workDir: join(dir, 'work'),
    assemblyDir: join(dir, 'assembly'),
    removeWorkDirOnStop: true,
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('local mode from an existing cloud assembly', () => {
  it('runs the functions the assembly holds, with its settings, pointed at this run’s Runware', () => {
    expect(stack.assembly.functions.submit.assetDir.startsWith(join(dir, 'assembly'))).toBe(true);
    expect(stack.assembly.functions.submit.environment.RUNWARE_API_URL).toBe(stack.endpoints.runware);
    expect(stack.assembly.functions.poll.environment.RUNWARE_API_URL).toBe(stack.endpoints.runware);
    expect(stack.assembly.functions.deliver.environment.ALLOWED_VIDEO_HOSTS).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+$/,
    );
    // Nothing was synthesized into the work folder.
    expect(() => readFileSync(join(dir, 'work', 'cdk.out', 'manifest.json'))).toThrow();
  });

  it('delivers a job dropped into the inbox', async () => {
    await makeSamplePortrait(join(dir, 'portrait.png'));
    await makeSampleVoice(join(dir, 'voice.wav'), 3);
    await drop(stack, 'app/anna.png', readFileSync(join(dir, 'portrait.png')));
    await drop(stack, 'app/anna.wav', readFileSync(join(dir, 'voice.wav')));
    const job = await finishedJob(stack, 'app/anna');
    expect(job.status).toBe('DELIVERED');
    expect(await outputKeys(stack, 'app/anna')).toEqual(['app/anna.json', 'app/anna.mp4']);
  }, 120_000);

  it('refuses a folder that is not a cloud assembly before starting anything', async () => {
    await expect(LocalStack.start({ workDir: join(dir, 'other'), assemblyDir: dir })).rejects.toThrow(
      /not a cloud assembly \(no manifest\.json/,
    );
  });
});
