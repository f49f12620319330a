/**
 * Request validation: a `videoInference` task checked the way Runware checks it, one error naming the
 * parameter, with a specific code.
 */
import { type VideoInferenceTask, VideoInferenceTaskSchema } from '../../lambdas/core/runware/schemas.js';
import { AVATAR_MODELS, PROMPT_MAX_LENGTH } from '../../lambdas/core/settings.js';
import type { SimulatorErrorItem } from './types.js';

const PARAMETER_RULES: Readonly<Record<string, string>> = {
  taskUUID: 'a UUID v4 string',
  model: `a Kling avatar model (${AVATAR_MODELS.join(', ')})`,
  positivePrompt: `a string of 1 to ${PROMPT_MAX_LENGTH} characters`,
  inputs: 'an object with image and audio',
  'inputs.image': 'a URL of an image, or the UUID of an uploaded image',
  'inputs.audio': 'a URL of an audio file, or the UUID of an uploaded audio file',
  outputType: '"URL"',
  outputFormat: 'one of MP4, WEBM, MOV',
  outputQuality: 'an integer between 20 and 99',
  deliveryMethod: '"async" (video tasks are always delivered asynchronously)',
  webhookURL: 'an http(s) URL',
  ttl: 'an integer number of seconds, at least 60',
  includeCost: 'a boolean',
  numberResults: 'an integer between 1 and 4',
  safety: 'an object with checkContent (boolean) and mode (none, fast or full)',
};

/** Runware-style code for a parameter: `invalidOutputQuality`, `missingModel`; inputs have their own. */
function parameterCode(parameter: string, missing: boolean): string {
  if (parameter.startsWith('inputs')) {
    if (missing) return 'missingInputs';
    if (parameter === 'inputs.image') return 'invalidImage';
    if (parameter === 'inputs.audio') return 'invalidAudio';
    return 'invalidInputs';
  }
  const top = parameter.split('.')[0] ?? parameter;
  return `${missing ? 'missing' : 'invalid'}${top.charAt(0).toUpperCase()}${top.slice(1)}`;
}

/**
 * Validates a `videoInference` task like Runware does: one error, naming the parameter, with a specific code.
 * Media UUIDs pass the pipeline's schema but are refused here, because the simulator has no media storage.
 */
export function validateVideoInference(
  raw: unknown,
): { ok: true; task: VideoInferenceTask } | { ok: false; error: SimulatorErrorItem } {
  const scope = { taskType: 'videoInference', ...scopeOf(raw) };
  const parsed = VideoInferenceTaskSchema.safeParse(raw);
  if (!parsed.success) {
    // Known parameters first, in schema order; unknown ones last, as Runware reports the worst problem first.
    const issues = [...parsed.error.issues].sort(
      (a, b) => Number(a.code === 'unrecognized_keys') - Number(b.code === 'unrecognized_keys'),
    );
    const issue = issues[0];
    if (issue?.code === 'unrecognized_keys') {
      const parameter = [...issue.path.map(String), issue.keys[0] ?? ''].join('.');
      return {
        ok: false,
        error: {
          code: 'unsupportedParameter',
          message: `Parameter ${parameter} is not supported for model ${modelOf(raw)} in videoInference tasks.`,
          parameter,
          ...scope,
        },
      };
    }
    const path = issue?.path ?? [];
    const parameter = path.map(String).join('.') || 'task';
    const missing = path.length > 0 && valueAt(raw, path) === undefined;
    const rule = PARAMETER_RULES[parameter];
    return {
      ok: false,
      error: {
        code: parameterCode(parameter, missing),
        message: missing
          ? `Missing required parameter ${parameter}.`
          : `Invalid value for ${parameter}${rule ? `: it must be ${rule}` : ` (${issue?.message ?? 'invalid'})`}.`,
        parameter,
        ...scope,
      },
    };
  }
  const task = parsed.data;
  for (const kind of ['image', 'audio'] as const) {
    const value = task.inputs[kind];
    if (!/^https?:/i.test(value)) {
      return {
        ok: false,
        error: {
          code: kind === 'image' ? 'invalidImage' : 'invalidAudio',
          message: `inputs.${kind} ${value} does not match any uploaded media. Upload it first, or pass a URL.`,
          parameter: `inputs.${kind}`,
          ...scope,
        },
      };
    }
  }
  return { ok: true, task };
}

/** The value at a path of an unparsed body, if there is one. */
export function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function modelOf(raw: unknown): string {
  const model = valueAt(raw, ['model']);
  return typeof model === 'string' ? model : '(none)';
}

/** The `taskUUID` of an unparsed task, if it is a string. */
export function uuidOf(raw: unknown): string | undefined {
  const taskUUID = valueAt(raw, ['taskUUID']);
  return typeof taskUUID === 'string' ? taskUUID : undefined;
}

/** The `taskUUID` scope of an unparsed task's errors. */
export function scopeOf(raw: unknown): { taskUUID?: string } {
  const taskUUID = uuidOf(raw);
  return taskUUID === undefined ? {} : { taskUUID };
}
