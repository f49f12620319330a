/**
 * The renderer: turns an accepted task into videos. It fetches and checks the inputs, waits the configured
 * render time, renders each result with ffmpeg, and reports each one by webhook as it becomes available.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FFMPEG_PATH, renderAvatarVideo } from '../ffmpeg.js';
import type { VideoContentFault } from './faults.js';
import { checkInputs, fetchInput, TaskFailure } from './inputs.js';
import type { TaskRegistry } from './registry.js';
import { describe, elapsed, type Runtime } from './runtime.js';
import { costPerSecondOf, SIM_FORMAT_FILES } from './spec.js';
import type { SimulatedError, SimulatedResult, SimulatedTask } from './types.js';
import type { WebhookSender } from './webhooks.js';

export interface RendererOptions {
  workDir: string;
  /** Extra time each task takes before it finishes, in ms. */
  renderDelayMs: number;
  /** Seconds of render time per second of audio (read per task, so it can change while the simulator runs). */
  renderSpeed: () => number;
  /** The origin `videoURL`s point at (known once the server listens). */
  origin: () => string;
  /**
   * Longest a render may take before ffmpeg is killed and the result fails, in ms. A stuck render must end the
   * task, not hold a core until the simulator stops. @default 60 s plus 2 s per second of audio
   */
  renderTimeoutMs?: number;
}

export class Renderer {
  /** Videos rendered in all (one per successful result; a failed or aborted render is not one). */
  renders = 0;
  /** The running processing of each task, for acks held until its webhooks went out. */
  private readonly processes = new WeakMap<SimulatedTask, Promise<void>>();

  constructor(
    private readonly runtime: Runtime,
    private readonly registry: TaskRegistry,
    private readonly webhooks: WebhookSender,
    private readonly options: RendererOptions,
  ) {}

  /** Starts processing an accepted task (unless it never finishes, or the simulator is stopping). */
  start(task: SimulatedTask): void {
    // A task that never finishes is not tracked: waitForIdle() must not wait for it.
    if (task.faults.neverFinish || this.runtime.stopping || this.processes.has(task)) return;
    const work = this.process(task);
    this.processes.set(task, work);
    this.runtime.track(work);
  }

  /** Settles when the task has finished and each of its webhooks had its first POST answered (or failed). */
  async webhooksPosted(task: SimulatedTask): Promise<void> {
    if (task.faults.neverFinish) return;
    await this.processes.get(task);
    await this.webhooks.firstPostsOf(task);
  }

  private async process(task: SimulatedTask): Promise<void> {
    const { runtime } = this;
    const started = performance.now();
    const renderTime = this.options.renderDelayMs + (task.faults.slowMs ?? 0);
    try {
      const dir = join(this.options.workDir, task.taskUUID.toLowerCase());
      await mkdir(dir, { recursive: true });
      if (task.faults.errorWebhook) {
        await runtime.sleep(renderTime);
        if (runtime.stopping) return;
        throw new TaskFailure(task.faults.errorWebhook.code, task.faults.errorWebhook.message);
      }
      // A task resumed after a restart renders from the inputs it downloaded before (their URLs may be gone).
      const kept = task.inputFiles;
      const [image, audio] =
        kept && existsSync(kept.image) && existsSync(kept.audio)
          ? [kept.image, kept.audio]
          : [
              await fetchInput(runtime, task.task.inputs.image, 'image', dir),
              await fetchInput(runtime, task.task.inputs.audio, 'audio', dir),
            ];
      task.inputFiles = { image, audio };
      task.inputsFetchedAt = new Date();
      this.registry.changed();
      const { still, durationSeconds } = await checkInputs(runtime, image, audio);
      await runtime.sleep(renderTime + this.options.renderSpeed() * durationSeconds * 1000);

      for (const result of task.results) {
        if (runtime.stopping) return;
        if (result.status !== 'processing') continue;
        if (task.faults.failResult === result.index) {
          this.finishResult(task, result, {
            code: 'providerError',
            message: `The provider failed to generate result ${result.index} of ${task.results.length}. Retry the task.`,
          });
          continue;
        }
        await this.renderResult(task, result, still, audio, durationSeconds);
      }
      task.status = task.results.some((r) => r.status === 'error') ? 'error' : 'success';
      task.finishedAt = new Date();
      this.registry.changed();
      runtime.log(`runware-sim: videoInference ${task.taskUUID} ${task.status} in ${elapsed(started)}`);
    } catch (error) {
      if (runtime.stopping) return;
      this.failTask(task, error);
    }
  }

  /** Ends the whole task in an error, and reports it by webhook. */
  private failTask(task: SimulatedTask, error: unknown): void {
    const failure =
      error instanceof TaskFailure
        ? error
        : new TaskFailure('internalError', `The task failed inside the simulator: ${describe(error)}`);
    task.error = { code: failure.code, message: failure.message };
    task.status = 'error';
    task.finishedAt = new Date();
    for (const result of task.results) {
      if (result.status === 'processing') result.status = 'error';
    }
    this.registry.changed();
    this.runtime.log(
      `runware-sim: videoInference ${task.taskUUID} error ${failure.code}: ${failure.message}`,
    );
    this.webhooks.sendFailure(task, task.error);
  }

  private async renderResult(
    task: SimulatedTask,
    result: SimulatedResult,
    image: string,
    audio: string,
    durationSeconds: number,
  ): Promise<void> {
    const { runtime } = this;
    const videoUUID = randomUUID();
    const ext = SIM_FORMAT_FILES[task.format].ext;
    const file = join(this.options.workDir, task.taskUUID.toLowerCase(), `${videoUUID}.${ext}`);
    result.file = file;
    const limitMs = this.options.renderTimeoutMs ?? 60_000 + Math.ceil(durationSeconds * 2000);
    const signal = runtime.deadline(limitMs);
    try {
      const content = task.faults.videoContent;
      const rendered = await renderAvatarVideo({
        image,
        audio,
        output: file,
        format: task.format,
        quality: task.task.outputQuality ?? 95,
        seed: result.seed,
        // A short render is the audio's first half: the voice is cut off where the video ends.
        durationSeconds: content === 'short' ? durationSeconds / 2 : durationSeconds,
        signal,
      });
      if (content === 'silent' || content === 'no-picture') await dropStream(file, content, signal);
      this.renders += 1;
      if (runtime.stopping) return;
      result.videoUUID = videoUUID;
      const origin = videoOrigin(task.faults.videoUrlHost) ?? this.options.origin();
      const query = task.faults.videoUrlQuery ? `?${task.faults.videoUrlQuery}` : '';
      result.videoURL = `${origin}/video/${videoUUID}.${ext}${query}`;
      result.durationSeconds = rendered.durationSeconds;
      result.renderMs = rendered.elapsedMs;
      if (task.task.includeCost) {
        result.cost = roundCost(costPerSecondOf(task.task.model) * rendered.durationSeconds);
      }
      this.registry.addVideo(videoUUID, task, result);
      runtime.log(
        `runware-sim: videoInference ${task.taskUUID} result ${result.index}/${task.results.length} rendered in ` +
          `${rendered.elapsedMs} ms (${rendered.durationSeconds.toFixed(2)} s, ${rendered.width}x${rendered.height}, ${task.format})`,
      );
      this.finishResult(task, result);
    } catch (error) {
      if (runtime.stopping) return;
      // Runware's words for a failed generation: no local path, no ffmpeg output.
      const why = signal.aborted
        ? `the render did not finish within ${(limitMs / 1000).toFixed(1)} s`
        : 'the render failed';
      runtime.log(
        `runware-sim: videoInference ${task.taskUUID} result ${result.index} ${why}: ${describe(error)}`,
      );
      this.finishResult(task, result, {
        code: 'providerError',
        message: `The provider failed to generate the video: ${why}. Retry the task.`,
      });
    }
  }

  /** Marks a result done and sends its webhook. */
  private finishResult(task: SimulatedTask, result: SimulatedResult, error?: SimulatedError): void {
    if (error) {
      result.status = 'error';
      result.error = error;
      this.registry.changed();
      this.runtime.log(
        `runware-sim: videoInference ${task.taskUUID} result ${result.index} error ${error.code}`,
      );
      this.webhooks.sendFailure(task, error);
      return;
    }
    result.status = 'success';
    if (task.task.ttl !== undefined) result.expiresAtMs = Date.now() + task.task.ttl * 1000;
    this.registry.changed();
    this.webhooks.sendResult(task, result);
  }
}

const run = promisify(execFile);

/** Rewrites `file` without its audio track (`silent`) or its video track (`no-picture`), stream-copied. */
async function dropStream(file: string, content: VideoContentFault, signal: AbortSignal): Promise<void> {
  const kept = content === 'silent' ? '0:v' : '0:a';
  const dot = file.lastIndexOf('.');
  const temp = `${file.slice(0, dot)}.partial${file.slice(dot)}`;
  await run(
    FFMPEG_PATH,
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', file, '-map', kept, '-c', 'copy', temp],
    { signal },
  );
  await rename(temp, file);
}

/** The origin `videoUrlHost` names: a bare host means HTTPS; a value with a scheme is taken as is. */
function videoOrigin(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host.replace(/\/+$/, '') : `https://${host}`;
}

/** USD with 5 decimals, as Runware reports costs. */
function roundCost(usd: number): number {
  return Math.round(usd * 100_000) / 100_000;
}
