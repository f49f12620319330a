/**
 * The simulator's memory across restarts (local mode's `persist`): Runware keeps the tasks it accepted whatever
 * happens to the caller, so a stack restarted on the same folder finds them again. Every accepted task is kept
 * in one JSON file, rewritten (atomically) whenever a task changes, so a kill leaves it as a stop would.
 * Faults are not kept: they are a test's plan for the run that showed them.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { SIM_OUTPUT_FORMATS, videoInferenceSchema } from './spec.js';
import type { SimulatedResult, SimulatedTask, Submission } from './types.js';

/** A task was validated when it was accepted; read back with the same rules. */
const SavedTaskBodySchema = videoInferenceSchema();

const ErrorSchema = z.object({ code: z.string(), message: z.string() });

const SavedTaskSchema = z.object({
  taskUUID: z.string(),
  task: SavedTaskBodySchema,
  format: z.enum(SIM_OUTPUT_FORMATS),
  status: z.enum(['processing', 'success', 'error']),
  results: z.array(
    z.object({
      index: z.number(),
      status: z.enum(['processing', 'success', 'error']),
      seed: z.number(),
      videoUUID: z.string().optional(),
      videoURL: z.string().optional(),
      cost: z.number().optional(),
      durationSeconds: z.number().optional(),
      file: z.string().optional(),
      renderMs: z.number().optional(),
      expiresAtMs: z.number().optional(),
      error: ErrorSchema.optional(),
    }),
  ),
  error: ErrorSchema.optional(),
  inputFiles: z.object({ image: z.string(), audio: z.string() }).optional(),
  acceptedAt: z.string(),
  finishedAt: z.string().optional(),
  expiresAt: z.string().optional(),
});

const SavedStateSchema = z.object({
  submissions: z.array(z.object({ taskUUID: z.string(), task: SavedTaskBodySchema, receivedAt: z.string() })),
  tasks: z.array(SavedTaskSchema),
});

/** What was kept: the submissions in arrival order and the tasks, without faults. */
export interface SimulatorState {
  submissions: Submission[];
  tasks: SimulatedTask[];
}

export function saveState(file: string, state: SimulatorState): void {
  const saved = {
    submissions: state.submissions.map((s) => ({ ...s, receivedAt: s.receivedAt.toISOString() })),
    tasks: state.tasks.map(
      ({ faults: _faults, inputsFetchedAt: _fetched, acceptedAt, finishedAt, expiresAt, ...task }) => ({
        ...task,
        acceptedAt: acceptedAt.toISOString(),
        ...(finishedAt ? { finishedAt: finishedAt.toISOString() } : {}),
        ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
      }),
    ),
  };
  writeFileSync(`${file}.tmp`, JSON.stringify(saved));
  renameSync(`${file}.tmp`, file);
}

/** The state kept in `file`, or an empty one when there is none. */
export function loadState(file: string): SimulatorState {
  if (!existsSync(file)) return { submissions: [], tasks: [] };
  const saved = SavedStateSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  return {
    submissions: saved.submissions.map((s) => ({
      taskUUID: s.taskUUID,
      task: s.task,
      receivedAt: new Date(s.receivedAt),
    })),
    tasks: saved.tasks.map((t) => ({
      taskUUID: t.taskUUID,
      task: t.task,
      format: t.format,
      faults: {},
      status: t.status,
      results: t.results as SimulatedResult[],
      ...(t.error ? { error: t.error } : {}),
      ...(t.inputFiles ? { inputFiles: t.inputFiles } : {}),
      acceptedAt: new Date(t.acceptedAt),
      ...(t.finishedAt ? { finishedAt: new Date(t.finishedAt) } : {}),
      ...(t.expiresAt ? { expiresAt: new Date(t.expiresAt) } : {}),
    })),
  };
}
