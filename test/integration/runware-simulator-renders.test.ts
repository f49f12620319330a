import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpRunwareClient } from '../../lambdas/core/runware/client.js';
import { parseWebhookBody, type VideoInferenceTask } from '../../lambdas/core/runware/schemas.js';
import { FFMPEG_PATH, makeSamplePortrait, makeSampleVoice } from '../../local/ffmpeg.js';
import { isAnimatedWebp } from '../../local/runware/inputs.js';
import { RunwareSimulator } from '../../local/runware-simulator.js';

/**
 * Renders that cannot finish: inputs a provider cannot decode, and renders past their time limit, end the task
 * as Runware ends a failed task (an `errors` webhook, a `getResponse` error), instead of hanging.
 */

const API_KEY = 'sim-render-key-0123456789abcdefghijklmnop';
const run = promisify(execFile);
const files = new Map<string, Buffer>();
const received: { path: string; body: unknown }[] = [];
const servers: Server[] = [];
let workDir: string;
let filesUrl: string;
let hookUrl: string;

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'runware-renders-'));
  const at = (name: string) => join(workDir, name);
  await makeSamplePortrait(at('portrait.png'));
  await makeSampleVoice(at('voice.wav'), 2.5);
  const ff = ['-hide_banner', '-loglevel', 'error', '-y'];
  await run(FFMPEG_PATH, [
    ...ff,
    ...['-f', 'lavfi', '-i', 'testsrc=size=400x400:rate=5:duration=1'],
    ...['-c:v', 'libwebp_anim', '-loop', '0', at('animated.webp')],
  ]);
  const png = await readFile(at('portrait.png'));
  files.set('/portrait.png', png);
  files.set('/voice.wav', await readFile(at('voice.wav')));
  files.set('/animated.webp', await readFile(at('animated.webp')));
  // A complete PNG followed by unrelated bytes (a second file appended by a careless tool).
  files.set('/trailing.png', Buffer.concat([png, Buffer.alloc(4096, 0x9e)]));

  filesUrl = await listen(
    createServer((req, res) => {
      const body = files.get(new URL(req.url ?? '/', 'http://x').pathname);
      if (!body) res.writeHead(404).end();
      else res.writeHead(200, { 'Content-Length': body.length }).end(body);
    }),
  );
  hookUrl = await listen(
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          path: new URL(req.url ?? '/', 'http://x').pathname,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        });
        res.writeHead(200).end();
      });
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const server of servers) server.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function simulatorWith(options: { renderTimeoutMs?: number; stateFile?: string } = {}) {
  const simulator = new RunwareSimulator({
    apiKey: API_KEY,
    workDir: join(workDir, randomUUID()),
    ...options,
  });
  const { url } = await simulator.start();
  const client = new HttpRunwareClient({ url, apiKey: async () => API_KEY });
  return { simulator, client };
}

function task(image: string): VideoInferenceTask {
  const taskUUID = randomUUID();
  return {
    taskType: 'videoInference',
    taskUUID,
    model: 'klingai:avatar@2.0-pro',
    inputs: { image: `${filesUrl}${image}`, audio: `${filesUrl}/voice.wav` },
    deliveryMethod: 'async',
    includeCost: true,
    webhookURL: `${hookUrl}/webhook/${taskUUID}`,
  };
}

const webhooksFor = (taskUUID: string) =>
  received.filter((r) => r.path === `/webhook/${taskUUID}`).map((r) => parseWebhookBody(r.body));

describe('renders that cannot finish', () => {
  it('ends an animated WebP as a failed task (invalidImage), reported by webhook and getResponse', async () => {
    const { simulator, client } = await simulatorWith();
    try {
      const sent = task('/animated.webp');
      const started = performance.now();
      await client.submit(sent);
      await simulator.waitForIdle();
      expect(performance.now() - started).toBeLessThan(20_000);

      const errors = webhooksFor(sent.taskUUID).flatMap((w) => w.errors);
      expect(errors).toEqual([expect.objectContaining({ code: 'invalidImage', taskUUID: sent.taskUUID })]);
      expect(errors[0]?.message).toContain('animated WebP');
      const poll = await client.getResponse(sent.taskUUID);
      expect(poll).toMatchObject({ results: [], pending: 0, errors: [{ code: 'invalidImage' }] });
      expect(simulator.renders).toBe(0);
    } finally {
      await simulator.stop();
    }
  });

  it('renders a PNG followed by trailing bytes from its image, as decoders show it, instead of looping forever', async () => {
    const { simulator, client } = await simulatorWith();
    try {
      const sent = task('/trailing.png');
      await client.submit(sent);
      await simulator.waitForIdle();
      const webhooks = webhooksFor(sent.taskUUID);
      expect(webhooks.flatMap((w) => w.errors)).toEqual([]);
      expect(webhooks.flatMap((w) => w.results)).toHaveLength(1);
      expect(simulator.renders).toBe(1);
    } finally {
      await simulator.stop();
    }
  });

  it('kills a render past its time limit and reports the result as a provider failure', async () => {
    const { simulator, client } = await simulatorWith({ renderTimeoutMs: 1 });
    try {
      const sent = task('/portrait.png');
      await client.submit(sent);
      await simulator.waitForIdle();
      const errors = webhooksFor(sent.taskUUID).flatMap((w) => w.errors);
      expect(errors).toEqual([expect.objectContaining({ code: 'providerError', taskUUID: sent.taskUUID })]);
      // Runware's words: what happened, no local path, no ffmpeg output, one full stop.
      expect(errors[0]?.message).toMatch(
        /^The provider failed to generate the video: the render did not finish within 0\.0 s\. Retry the task\.$/,
      );
      const poll = await client.getResponse(sent.taskUUID);
      expect(poll).toMatchObject({ results: [], pending: 0, errors: [{ code: 'providerError' }] });
      expect(simulator.renders).toBe(0);
    } finally {
      await simulator.stop();
    }
  });

  it('tells an animated WebP from a still one by its header', async () => {
    expect(isAnimatedWebp(files.get('/animated.webp') ?? Buffer.alloc(0))).toBe(true);
    expect(isAnimatedWebp(files.get('/portrait.png') ?? Buffer.alloc(0))).toBe(false);
  });
});

describe('tasks kept across a restart (stateFile)', () => {
  it('answers for the tasks of the last run, refuses them again, and finishes the one that was processing', async () => {
    const stateFile = join(workDir, `${randomUUID()}.json`);
    const first = await simulatorWith({ stateFile });
    const done = task('/portrait.png');
    const cut = task('/portrait.png');
    try {
      await first.client.submit(done);
      await first.simulator.waitForIdle();
      first.simulator.queueFault({ slowMs: 600_000 });
      await first.client.submit(cut);
      for (let i = 0; i < 100 && !first.simulator.tasks.get(cut.taskUUID)?.inputFiles; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await first.simulator.stop();
    }
    // The input server is gone: a resumed task renders from the inputs it downloaded.
    const inputs = new Map(files);
    files.clear();

    const second = await simulatorWith({ stateFile });
    try {
      expect(second.simulator.acceptedTasks()).toBe(2);
      const finished = await second.client.getResponse(done.taskUUID);
      expect(finished).toMatchObject({ pending: 0, errors: [], results: [{}] });
      // Served again, from this run's origin.
      const video = await fetch(finished.results[0]?.videoURL ?? '');
      expect(video.status).toBe(200);
      expect((await video.arrayBuffer()).byteLength).toBeGreaterThan(1000);
      await expect(second.client.submit(cut)).resolves.toEqual({ status: 'already-accepted' });
      expect(await second.client.getResponse(cut.taskUUID)).toMatchObject({ pending: 1 });

      expect(second.simulator.resumeTasks()).toBe(1);
      await second.simulator.waitForIdle();
      expect(await second.client.getResponse(cut.taskUUID)).toMatchObject({ pending: 0, results: [{}] });
      expect(second.simulator.acceptedTasks()).toBe(2);
    } finally {
      await second.simulator.stop();
      for (const [path, body] of inputs) files.set(path, body);
    }
  });
});
