/**
 * The provider's spec: what Runware accepts and sends for the Kling avatar models, written from Runware's docs and
 * official SDKs (docs/runware-api.md, whose source ids D-model, D-errors, D-webhooks, D-polling, TS, PY and KLING
 * are used below), never from the pipeline's own code. Nothing here (or anywhere in local/runware/) imports from
 * `lambdas/`: a wrong bound or field name in the client must not be accepted by the simulator because both read it
 * from the same place. test/unit/runware-contract.test.ts holds both sides to the same fixtures.
 */
import { z } from 'zod';

/**
 * Models the simulator serves. D-model: `klingai:avatar@2.0-pro` ("model string required value:
 * klingai:avatar@2.0-pro"); its Standard sibling `klingai:avatar@2.0-standard` has its own page with the same
 * options (D-model, "klingai-avatar-2-0-standard").
 */
export const SIM_MODELS = ['klingai:avatar@2.0-pro', 'klingai:avatar@2.0-standard'] as const;
export type SimModel = (typeof SIM_MODELS)[number];

/** D-model `outputFormat`: "MP4 (default) | WEBM | MOV" ("Allowed values 3 values"), upper case as listed. */
export const SIM_OUTPUT_FORMATS = ['MP4', 'WEBM', 'MOV'] as const;
export type SimOutputFormat = (typeof SIM_OUTPUT_FORMATS)[number];

/** File extension and Content-Type the video URL serves per format (MP4: H.264; MOV: QuickTime; D-model). */
export const SIM_FORMAT_FILES: Readonly<Record<SimOutputFormat, { ext: string; contentType: string }>> = {
  MP4: { ext: 'mp4', contentType: 'video/mp4' },
  WEBM: { ext: 'webm', contentType: 'video/webm' },
  MOV: { ext: 'mov', contentType: 'video/quicktime' },
};

/**
 * Bounds of a `videoInference` task for the avatar models. Every one is from D-model's "API Options" list (the
 * copy is in docs/runware-api.md and on the model page), in the page's own words:
 */
export interface VideoInferenceRules {
  models: readonly string[];
  /** `positivePrompt` "string min: 1 max: 2500". */
  prompt: { min: number; max: number };
  /** `outputQuality` "integer min: 20 max: 99 default: 95". */
  outputQuality: { min: number; max: number };
  /** `numberResults` "integer min: 1 max: 4 default: 1". */
  numberResults: { min: number; max: number };
  /** `ttl` "integer min: 60", "Time-to-live (TTL) in seconds for generated content. Only applies when outputType is URL". */
  ttlMin: number;
  outputFormats: readonly string[];
  /** `outputType` "default: URL", "Allowed values 1 value". */
  outputTypes: readonly string[];
  /** `deliveryMethod` "default: async", "Allowed values 1 value" ("Required for long-running tasks like video"). */
  deliveryMethods: readonly string[];
  /** `safety.mode` "default: none", "Allowed values 3 values": disables, key frames, all frames. */
  safetyModes: readonly string[];
}

export const KLING_AVATAR_RULES: Readonly<VideoInferenceRules> = Object.freeze({
  models: SIM_MODELS,
  prompt: { min: 1, max: 2500 },
  outputQuality: { min: 20, max: 99 },
  numberResults: { min: 1, max: 4 },
  ttlMin: 60,
  outputFormats: SIM_OUTPUT_FORMATS,
  outputTypes: ['URL'],
  deliveryMethods: ['async'],
  safetyModes: ['none', 'fast', 'full'],
});

/**
 * What the model takes as inputs. KLING (Kling's own avatar API docs, copies at docs.fast-token.com and
 * docs.comfy.org; docs/runware-api.md section 6): image ".jpg / .jpeg / .png. Max file size 10MB; width and height
 * must each be at least 300px; aspect ratio between 1:2.5 and 2.5:1"; audio ".mp3 / .wav / .m4a / .aac; max 5MB;
 * duration 2–300 seconds". "MB" is read as 10^6 bytes, the strict reading.
 */
export const MODEL_MEDIA_LIMITS = Object.freeze({
  maxImageBytes: 10_000_000,
  minImageSide: 300,
  maxAspectRatio: 2.5,
  maxAudioBytes: 5_000_000,
  minAudioSeconds: 2,
  maxAudioSeconds: 300,
});

/** D-model `.md` "## Pricing": pro "$0.087 per second"; standard "$0.044 per second" (docs/runware-api.md section 7). */
export const COST_PER_SECOND_USD: Readonly<Record<SimModel, number>> = {
  'klingai:avatar@2.0-pro': 0.087,
  'klingai:avatar@2.0-standard': 0.044,
};

/** A URL Runware can fetch or post to: D-model types `webhookURL` / `uploadEndpoint` as "string URI", used over HTTP(S). */
const HttpUrl = z.url({ protocol: /^https?$/ });

/**
 * A `videoInference` task as Runware accepts it for the given rules. Strict: Runware answers an option the model
 * does not take with `unsupportedParameter` (a code in the official TS SDK's tests; docs/runware-api.md section 2).
 * `taskUUID` is a UUID v4 (D-model: "string required UUID v4 ... Must be unique per task"). `inputs` holds `image`
 * and `audio`, each "a URL Runware can fetch ... or a UUID of media already uploaded" (D-model "These must be nested
 * inside the inputs object"; D-media). `uploadEndpoint` is documented (D-model) but not simulated: refused as
 * unsupported, so a client that starts sending it learns it here first.
 */
export function videoInferenceSchema(rules: Readonly<VideoInferenceRules> = KLING_AVATAR_RULES) {
  const oneOf = (values: readonly string[]) =>
    z.string().refine((v) => values.includes(v), `must be one of ${values.join(', ')}`);
  const media = z.union([HttpUrl, z.uuidv4()]);
  return z.strictObject({
    taskType: z.literal('videoInference'),
    taskUUID: z.uuidv4(),
    model: oneOf(rules.models),
    positivePrompt: z.string().min(rules.prompt.min).max(rules.prompt.max).optional(),
    inputs: z.strictObject({ image: media, audio: media }),
    outputType: oneOf(rules.outputTypes).optional(),
    outputFormat: oneOf(rules.outputFormats).optional(),
    outputQuality: z.int().min(rules.outputQuality.min).max(rules.outputQuality.max).optional(),
    deliveryMethod: oneOf(rules.deliveryMethods).optional(),
    webhookURL: HttpUrl.optional(),
    ttl: z.int().min(rules.ttlMin).optional(),
    includeCost: z.boolean().optional(),
    numberResults: z.int().min(rules.numberResults.min).max(rules.numberResults.max).optional(),
    safety: z
      .strictObject({ checkContent: z.boolean().optional(), mode: oneOf(rules.safetyModes).optional() })
      .optional(),
  });
}

/** A `videoInference` task the simulator accepted, as sent. */
export type SimTask = z.output<ReturnType<typeof videoInferenceSchema>>;

/** The format a task asked for (MP4 by default, D-model `outputFormat` "default: MP4"). */
export function formatOf(task: Pick<SimTask, 'outputFormat'>): SimOutputFormat {
  return SIM_OUTPUT_FORMATS.find((format) => format === task.outputFormat) ?? 'MP4';
}

const PRICES = new Map<string, number>(Object.entries(COST_PER_SECOND_USD));
/** USD per second of output for a model (0 for a model without a published price). */
export function costPerSecondOf(model: string): number {
  return PRICES.get(model) ?? 0;
}

// What Runware sends. The simulator's answers and webhooks are held to these in its tests, and the real responses
// on the model page pass them (test/fixtures/runware).

/**
 * One finished video. D-model's four real responses: `taskType, taskUUID, videoUUID, videoURL, cost` (no `seed`).
 * TS `VideoInferenceResult`: `cost?: number` ("Task cost in USD"), `seed?: number`; `NSFWContent` is a result field
 * of the older video API (D-old). Extra fields are allowed: Runware adds fields without notice.
 */
export const ResultItemShape = z.looseObject({
  taskType: z.literal('videoInference'),
  taskUUID: z.uuid(),
  videoUUID: z.uuid(),
  videoURL: HttpUrl,
  cost: z.number().nonnegative().optional(),
  seed: z.int().optional(),
  NSFWContent: z.boolean().optional(),
});

/**
 * The immediate answer to an async task: D-model `deliveryMethod` "Returns an immediate acknowledgment with the task
 * UUID"; docs/runware-api.md: the immediate reply "only acknowledges (`taskType`, `taskUUID`)".
 */
export const AckItemShape = z.strictObject({ taskType: z.literal('videoInference'), taskUUID: z.uuid() });

/**
 * One entry of `errors`. D-errors: fields `code, message, parameter, taskType, taskUUID, documentation` ("if
 * applicable", so only code and message always); `parameter` may be an array of the fields involved (TS
 * `src/errors.ts` `normalizeParameter`); getResponse items add `status: "error"` (D-old).
 */
export const ErrorItemShape = z.looseObject({
  code: z.string().min(1),
  message: z.string(),
  parameter: z.union([z.string(), z.array(z.string())]).optional(),
  taskType: z.string().optional(),
  taskUUID: z.string().optional(),
  documentation: z.string().optional(),
});

/** A failed result as a `data` item: TS `src/client.ts` / PY `_maybe_raise_item_errors` (`status: 'error'` + `error`). */
export const FailedItemShape = z.looseObject({
  taskUUID: z.string(),
  status: z.literal('error'),
  error: z.looseObject({ code: z.string().optional(), message: z.string().optional() }),
});

/** A `getResponse` item: D-polling statuses `processing | success | error` (D-old: `pending`); TS `progress` 0..100. */
export const PollItemShape = z.union([
  ResultItemShape.extend({ status: z.literal('success') }),
  z.looseObject({
    taskUUID: z.string(),
    status: z.enum(['processing', 'pending']),
    progress: z.number().min(0).max(100).optional(),
  }),
  FailedItemShape,
]);

/**
 * A webhook body. D-webhooks: "the complete task response as JSON" (the `{"data":[item]}` envelope); SKILLS: a bare
 * item. Failures, undocumented for webhooks, in each shape the official SDKs handle (docs/runware-api.md section 1):
 * `{errors:[...]}`, a `data` item with `status:"error"`, `{error:{code,message}, taskUUID}`, and a bare error item.
 */
export const WebhookBodyShape = z.union([
  z.strictObject({ data: z.array(z.union([ResultItemShape, FailedItemShape])).min(1) }),
  z.strictObject({ errors: z.array(ErrorItemShape).min(1) }),
  z.strictObject({ error: z.looseObject({ code: z.string(), message: z.string() }), taskUUID: z.string() }),
  ResultItemShape,
  ErrorItemShape,
]);

/**
 * An answer to `POST /v1` whose `data` items are `item`: D-errors `{"errors":[...]}` on failure; `{"data":[...]}` on
 * success, with errors of other tasks (or of a polled task's results, TS `test/rest-polling.test.ts`:
 * `{ data: [], errors: [...] }`) beside it.
 */
function responseBody(item: z.ZodType) {
  return z
    .strictObject({ data: z.array(item).optional(), errors: z.array(ErrorItemShape).optional() })
    .refine((body) => body.data !== undefined || body.errors !== undefined, 'needs data or errors');
}
/** The answer to a `videoInference` submission. */
export const SubmitResponseShape = responseBody(AckItemShape);
/** The answer to a `getResponse` poll. */
export const PollResponseShape = responseBody(PollItemShape);
