/**
 * The task registry: `videoInference` submissions become tasks here, `getResponse` reads them back, and the
 * rendered videos are looked up here by `GET /video`.
 */
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { type Dispatched, refused } from './envelopes.js';
import type { FaultPlan } from './faults.js';
import { formatOf } from './spec.js';
import type { SimulatorState } from './state.js';
import {
  resultItem,
  type SimulatedResult,
  type SimulatedTask,
  type SimulatorErrorItem,
  type Submission,
  taskError,
} from './types.js';
import { validateVideoInference } from './validation.js';

const GetResponseTaskSchema = z.looseObject({ taskType: z.literal('getResponse'), taskUUID: z.unknown() });

export class TaskRegistry {
  /** Every accepted `videoInference` task, in arrival order. */
  readonly submissions: Submission[] = [];
  /** Accepted tasks by taskUUID (lower case). */
  readonly tasks = new Map<string, SimulatedTask>();
  /** The most tasks in flight at once since the start (or the last `resetPeakInFlight`). */
  peakInFlight = 0;
  /** videoUUID -> the task and result it belongs to. */
  private readonly videos = new Map<string, { task: SimulatedTask; result: SimulatedResult }>();

  /** Told whenever a task is accepted or changes (the simulator keeps its state file with it). */
  onChange: (() => void) | undefined;

  constructor(
    private readonly plan: FaultPlan,
    private readonly log: (line: string) => void,
  ) {}

  /** A task was accepted or changed. */
  changed(): void {
    this.onChange?.();
  }

  /**
   * Takes back the tasks a previous run kept (see state.ts), their videos served again from `origin` (the port
   * may have changed). Returns the tasks still processing, for the caller to resume.
   */
  restore(state: SimulatorState, origin: string): SimulatedTask[] {
    this.submissions.push(...state.submissions);
    for (const task of state.tasks) {
      this.tasks.set(task.taskUUID.toLowerCase(), task);
      for (const result of task.results) {
        if (!result.videoUUID || !result.videoURL) continue;
        result.videoURL = `${origin}/video/${new URL(result.videoURL).pathname.split('/').pop() ?? ''}`;
        this.addVideo(result.videoUUID, task, result);
      }
    }
    return state.tasks.filter((t) => t.status === 'processing');
  }

  /**
   * How many `videoInference` tasks were accepted, or, given a taskUUID, how many with that UUID (0 or 1,
   * since Runware refuses a reused UUID).
   */
  acceptedTasks(taskUUID?: string): number {
    if (taskUUID === undefined) return this.submissions.length;
    const key = taskUUID.toLowerCase();
    return this.submissions.filter((s) => s.taskUUID.toLowerCase() === key).length;
  }

  /** Tasks accepted and not finished (processing), which the capacity limit counts. */
  get inFlight(): number {
    let n = 0;
    for (const task of this.tasks.values()) if (task.status === 'processing') n += 1;
    return n;
  }

  /** Whether a task with this UUID was accepted before (a retry of it is answered conflictTaskUUID). */
  has(taskUUID: string | undefined): boolean {
    return taskUUID !== undefined && this.tasks.has(taskUUID.toLowerCase());
  }

  /** Makes a rendered result downloadable. */
  addVideo(videoUUID: string, task: SimulatedTask, result: SimulatedResult): void {
    this.videos.set(videoUUID, { task, result });
  }

  video(videoUUID: string): { task: SimulatedTask; result: SimulatedResult } | undefined {
    return this.videos.get(videoUUID.toLowerCase());
  }

  /** Accepts a valid task with a new UUID, taking the task faults the plan has for it. */
  submit(item: unknown): Dispatched {
    const checked = validateVideoInference(item);
    if (!checked.ok) {
      this.log(
        `runware-sim: videoInference refused: ${checked.error.code} (${checked.error.parameter ?? '-'})`,
      );
      return refused(checked.error);
    }
    const task = checked.task;
    const key = task.taskUUID.toLowerCase();
    if (this.tasks.has(key)) {
      this.log(`runware-sim: videoInference ${task.taskUUID} refused: conflictTaskUUID`);
      return refused({
        code: 'conflictTaskUUID',
        message: `A task with taskUUID ${task.taskUUID} already exists. Use a new UUID v4 for every task.`,
        parameter: 'taskUUID',
        taskType: 'videoInference',
        taskUUID: task.taskUUID,
      });
    }

    const now = new Date();
    const format = formatOf(task);
    const count = task.numberResults ?? 1;
    const simulated: SimulatedTask = {
      taskUUID: task.taskUUID,
      task,
      format,
      faults: this.plan.takeTaskFaults(),
      status: 'processing',
      results: Array.from({ length: count }, (_, i) => ({
        index: i + 1,
        status: 'processing' as const,
        seed: randomInt(1, 2 ** 31),
      })),
      acceptedAt: now,
    };
    this.tasks.set(key, simulated);
    this.submissions.push({ taskUUID: task.taskUUID, task, receivedAt: now });
    this.changed();
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    const faultNames = Object.keys(simulated.faults);
    this.log(
      `runware-sim: videoInference ${task.taskUUID} accepted (${task.model}, ${format}, ${count} result${count > 1 ? 's' : ''}` +
        `${faultNames.length ? `, faults: ${faultNames.join(', ')}` : ''})`,
    );
    // Processing starts when the request is answered, which submitDelayMs can put off.
    return {
      data: [{ taskType: 'videoInference', taskUUID: task.taskUUID }],
      errors: [],
      accepted: simulated,
    };
  }

  /** Reports a task: its error, or each result done or still processing. */
  getResponse(item: unknown): Dispatched {
    const parsed = GetResponseTaskSchema.safeParse(item);
    const taskUUID = parsed.success ? parsed.data.taskUUID : undefined;
    if (typeof taskUUID !== 'string' || !z.uuid().safeParse(taskUUID).success) {
      return refused({
        code: taskUUID === undefined ? 'missingTaskUUID' : 'invalidTaskUUID',
        message: 'getResponse needs the taskUUID (a UUID) of a task sent earlier.',
        parameter: 'taskUUID',
        taskType: 'getResponse',
      });
    }
    const task = this.tasks.get(taskUUID.toLowerCase());
    if (!task) {
      // INVENTED: how Runware answers a poll for a task it never accepted is not documented (docs/runware-api.md
      // section 3); `taskNotFound` is a code the official TS SDK's classifier knows, the 400 is a guess.
      return refused({
        code: 'taskNotFound',
        message: `No task with taskUUID ${taskUUID} was found.`,
        parameter: 'taskUUID',
        taskType: 'getResponse',
        taskUUID,
      });
    }
    // A failed task is reported, not refused: 200 `{"data":[], "errors":[...]}` (TS SDK test; never a 400).
    if (task.error) return { data: [], errors: [taskError(task, task.error)], reported: true };
    const data: unknown[] = [];
    const errors: SimulatorErrorItem[] = [];
    for (const result of task.results) {
      if (result.status === 'error' && result.error) errors.push(taskError(task, result.error));
      // (a result's failure rides along in `errors`; with every result failed, the answer is still a report)
      else if (result.status === 'success') data.push({ ...resultItem(task, result), status: 'success' });
      else {
        const scope = { taskType: 'videoInference', taskUUID: task.taskUUID };
        data.push({ ...scope, status: 'processing', progress: result.file ? 90 : 0 });
      }
    }
    return { data, errors, reported: true };
  }
}
