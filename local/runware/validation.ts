/**
 * Request validation: a `videoInference` task checked the way Runware checks it, one error naming the
 * parameter, with a specific code. The rules are the provider's spec (spec.ts, from Runware's docs), not the
 * pipeline's schema: the two must agree on the fixtures in test/fixtures/runware, or a contract test fails.
 */
import { KLING_AVATAR_RULES, type SimTask, type VideoInferenceRules, videoInferenceSchema } from './spec.js';
import type { SimulatorErrorItem } from './types.js';

/** The rule of each parameter, as the error message states it. */
function parameterRules(rules: Readonly<VideoInferenceRules>): Readonly<Record<string, string>> {
  return {
    taskUUID: 'a UUID v4 string',
    model: `one of ${rules.models.join(', ')}`,
    positivePrompt: `a string of ${rules.prompt.min} to ${rules.prompt.max} characters`,
    inputs: 'an object with image and audio',
    'inputs.image': 'a URL of an image, or the UUID of an uploaded image',
    'inputs.audio': 'a URL of an audio file, or the UUID of an uploaded audio file',
    outputType: rules.outputTypes.map((t) => `"${t}"`).join(' or '),
    outputFormat: `one of ${rules.outputFormats.join(', ')}`,
    outputQuality: `an integer between ${rules.outputQuality.min} and ${rules.outputQuality.max}`,
    deliveryMethod: `${rules.deliveryMethods.map((m) => `"${m}"`).join(' or ')} (video tasks are delivered asynchronously)`,
    webhookURL: 'an http(s) URL',
    ttl: `an integer number of seconds, at least ${rules.ttlMin}`,
    includeCost: 'a boolean',
    numberResults: `an integer between ${rules.numberResults.min} and ${rules.numberResults.max}`,
    safety: `an object with checkContent (boolean) and mode (${rules.safetyModes.join(', ')})`,
  };
}

/**
 * Runware-style code for a parameter: `invalidOutputQuality`, `missingModel`; inputs have their own. INVENTED in
 * Runware's naming style (D-errors lists no codes per parameter; docs/runware-api.md section 2).
 */
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

/** The verdict on one task: the task as accepted, or Runware's error for it. */
export type Verdict = { ok: true; task: SimTask } | { ok: false; error: SimulatorErrorItem };

/**
 * A validator for `videoInference` tasks under the given rules (the documented ones by default; a test passes
 * deliberately wrong ones to prove the contract tests notice).
 */
export function createVideoInferenceValidator(
  rules: Readonly<VideoInferenceRules> = KLING_AVATAR_RULES,
): (raw: unknown) => Verdict {
  const schema = videoInferenceSchema(rules);
  const ruleOf = parameterRules(rules);
  return (raw) => {
    const scope = { taskType: 'videoInference', ...scopeOf(raw) };
    const parsed = schema.safeParse(raw);
    if (parsed.success) return { ok: true, task: parsed.data };
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
    const rule = ruleOf[parameter] ?? ruleOf[String(path[0])];
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
  };
}

/** The documented rules' validator: what a request must satisfy before the simulator looks at its inputs. */
export const checkVideoInference = createVideoInferenceValidator();

/**
 * Validates a `videoInference` task like Runware does: one error, naming the parameter, with a specific code.
 * Media UUIDs are valid inputs (D-media) but refused here, because the simulator has no media storage.
 */
export function validateVideoInference(raw: unknown): Verdict {
  const verdict = checkVideoInference(raw);
  if (!verdict.ok) return verdict;
  const { task } = verdict;
  for (const kind of ['image', 'audio'] as const) {
    const value = task.inputs[kind];
    if (!/^https?:/i.test(value)) {
      return {
        ok: false,
        error: {
          code: kind === 'image' ? 'invalidImage' : 'invalidAudio',
          message: `inputs.${kind} ${value} does not match any uploaded media. Upload it first, or pass a URL.`,
          parameter: `inputs.${kind}`,
          taskType: 'videoInference',
          taskUUID: task.taskUUID,
        },
      };
    }
  }
  return verdict;
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
