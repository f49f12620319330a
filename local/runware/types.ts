/** The simulator's public records: what it accepted, what became of it, and what it sent. */
import type { TaskFaults } from './faults.js';
import { MODEL_MEDIA_LIMITS, type SimOutputFormat, type SimTask } from './spec.js';

/** API key the simulator accepts unless told otherwise. */
export const SIMULATOR_DEFAULT_API_KEY = 'local-simulator-key';

/** Runware's published price per second of output video, per model (spec.ts). */
export { COST_PER_SECOND_USD } from './spec.js';

/** The model's audio limits (Kling's docs, spec.ts). */
export const AUDIO_LIMITS_SECONDS = {
  min: MODEL_MEDIA_LIMITS.minAudioSeconds,
  max: MODEL_MEDIA_LIMITS.maxAudioSeconds,
} as const;

/** One entry of an `errors` array, as Runware sends it. */
export interface SimulatorErrorItem {
  code: string;
  message: string;
  parameter?: string;
  taskType?: string;
  taskUUID?: string;
}

/** A task's or a result's failure, as Runware's code and message. */
export interface SimulatedError {
  code: string;
  message: string;
}

/** One finished video, as sent in a webhook (and, with `status`, in a `getResponse` reply). */
export interface SimulatorResultItem {
  taskType: 'videoInference';
  taskUUID: string;
  videoUUID: string;
  videoURL: string;
  cost?: number;
  /** Only with the `sendSeed` fault: none of the four real avatar responses carries one (docs/runware-api.md section 8). */
  seed?: number;
}

/** A `data` item reporting a failure (TS and PY SDKs: `status: "error"` with an `error` object). */
export interface SimulatorFailedItem {
  taskType: 'videoInference';
  taskUUID: string;
  status: 'error';
  error: SimulatedError;
}

/**
 * A webhook body: results, or the task's (or one result's) error in one of the shapes the official SDKs handle
 * (the shape of a failure webhook itself is undocumented; docs/runware-api.md section 1).
 */
export type SimulatorWebhookBody =
  | { data: (SimulatorResultItem | SimulatorFailedItem)[] }
  | { errors: SimulatorErrorItem[] }
  | { error: SimulatedError; taskUUID: string }
  | SimulatorErrorItem;

/** Status of a task or of one of its results. */
export type SimulatedStatus = 'processing' | 'success' | 'error';

/** One result of a task (a task has `numberResults` of them, each with its own seed). */
export interface SimulatedResult {
  /** 1-based position among the task's results. */
  index: number;
  status: SimulatedStatus;
  seed: number;
  videoUUID?: string;
  videoURL?: string;
  /** USD, only when the task asked for `includeCost`. */
  cost?: number;
  durationSeconds?: number;
  /** Where the rendered file is on disk. */
  file?: string;
  renderMs?: number;
  /**
   * When the video URL stops serving (epoch ms): `ttl` seconds after the result was made. D-model: `ttl` is the
   * "Time-to-live (TTL) in seconds for generated content"; D-old: "how long the generated content will be available
   * at the provided URL before being automatically deleted". Counted from generation, the reading that matches
   * "generated content"; whether Runware counts from acceptance instead is not documented.
   */
  expiresAtMs?: number;
  error?: SimulatedError;
}

/** A task the simulator accepted, with what became of it. */
export interface SimulatedTask {
  taskUUID: string;
  task: SimTask;
  format: SimOutputFormat;
  faults: TaskFaults;
  status: SimulatedStatus;
  results: SimulatedResult[];
  /** Set when the task as a whole failed (inputs unusable, `errorWebhook`). */
  error?: SimulatedError;
  /** The inputs once downloaded: a task resumed after a restart renders from them. */
  inputFiles?: { image: string; audio: string };
  acceptedAt: Date;
  /** When its inputs had been downloaded (not kept across restarts): what follows is the render, not the fetch. */
  inputsFetchedAt?: Date;
  finishedAt?: Date;
  /** When the result URLs stop working (`ttl` seconds after the last result was made; kept for old state files). */
  expiresAt?: Date;
}

/** An accepted `videoInference` task, as it arrived. */
export interface Submission {
  taskUUID: string;
  task: SimTask;
  receivedAt: Date;
}

/** One webhook POST attempt. */
export interface WebhookDelivery {
  taskUUID: string;
  /** The webhook URL without its query string, which carries the pipeline's token. */
  url: string;
  /** 1-based attempt number within this delivery. */
  attempt: number;
  /** HTTP status of the answer, or `null` when there was none (refused, reset, timed out). */
  status: number | null;
  /** Why there was no answer, when `status` is null. */
  error?: string;
  body: SimulatorWebhookBody;
  at: Date;
}

/** Options of the simulator. */
export interface RunwareSimulatorOptions {
  /** @default 'local-simulator-key' */
  apiKey?: string;
  /** Where downloaded inputs and rendered videos go (one folder per task). */
  workDir: string;
  /** Host name put in `videoURL`s and in the URL returned by `start`. @default '127.0.0.1' */
  publicHost?: string;
  /** Address the server listens on. @default '127.0.0.1' */
  listenHost?: string;
  /** Extra time each task takes before it finishes, in ms. @default 0 */
  renderDelayMs?: number;
  /**
   * Tasks in flight (accepted, not finished) the API key may have; a submission above it is answered 429
   * `queueCapacityExceeded`, as Runware's full model queue answers. @default unlimited
   */
  capacity?: number;
  /**
   * Seconds of render time per second of audio, added to `renderDelayMs`: real renders take minutes and grow
   * with the video's length (e.g. 2 makes a 10 s video take 20 s). @default 0 (as fast as ffmpeg goes)
   */
  renderSpeed?: number;
  /** Longest one render may take before ffmpeg is killed and the result fails. @default 60 s + 2 s per audio second */
  renderTimeoutMs?: number;
  /**
   * Keep the accepted tasks in this file across restarts, as Runware keeps them whatever happens to the caller
   * (local mode's `persist`): they are answered by `getResponse`, a resent one meets `conflictTaskUUID`, and
   * one still processing when the simulator stopped is processed again by {@link RunwareSimulator.resumeTasks}.
   * @default not kept
   */
  stateFile?: string;
  /** Receives one line per event. Never gets the API key or any URL's query string. @default no logging */
  log?: (line: string) => void;
}

/** Where a started simulator answers. */
export interface SimulatorAddress {
  /** The API endpoint, e.g. `http://127.0.0.1:PORT/v1`. */
  url: string;
  /** Origin of the `videoURL`s, e.g. `http://127.0.0.1:PORT`. */
  videoOrigin: string;
}

/** A finished result in the shape webhooks and `getResponse` carry it. */
export function resultItem(task: SimulatedTask, result: SimulatedResult): SimulatorResultItem {
  return {
    taskType: 'videoInference',
    taskUUID: task.taskUUID,
    videoUUID: result.videoUUID ?? '',
    videoURL: result.videoURL ?? '',
    ...(result.cost === undefined ? {} : { cost: result.cost }),
    // The seed picks the render; it is sent only when a test asks (`sendSeed`): the real responses have none.
    ...(task.faults.sendSeed ? { seed: result.seed } : {}),
  };
}

/** An error scoped to its task, as webhooks and `getResponse` report it. */
export function taskError(task: SimulatedTask, error: SimulatedError): SimulatorErrorItem {
  return { ...error, taskType: 'videoInference', taskUUID: task.taskUUID };
}
