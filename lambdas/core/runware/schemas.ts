import * as z from 'zod';
import { AVATAR_MODELS, OUTPUT_FORMATS, PROMPT_MAX_LENGTH, SafetySchema } from '../contract/job-settings.js';
import { InvalidWebhookBodyError } from '../errors.js';
import { redactSecrets } from '../redact.js';

/**
 * Shapes of what we send to Runware and what it sends back, for the Kling avatar `videoInference` task.
 * Outgoing shapes are strict (a typo must never reach a paid API); incoming shapes tolerate extra fields,
 * because Runware adds fields without notice and a new field must not lose us a finished video.
 */

/** An http(s) URL. `new URL()` alone would also accept `mailto:` and `javascript:`, which Runware cannot fetch. */
const HttpUrlSchema = z.url({ protocol: /^https?$/ });

/** A media input: a URL Runware can fetch (a presigned S3 GET qualifies) or the UUID of media uploaded to Runware. */
export const MediaInputSchema = z.union([HttpUrlSchema, z.uuid()]);

/** Request task for the Kling avatar models (`klingai:avatar@2.0-pro` / `-standard`). */
export const VideoInferenceTaskSchema = z.strictObject({
  taskType: z.literal('videoInference'),
  // D-model: "string required UUID v4 ... Must be unique per task". The pipeline makes them with randomUUID().
  taskUUID: z.uuidv4(),
  model: z.enum(AVATAR_MODELS),
  positivePrompt: z.string().min(1).max(PROMPT_MAX_LENGTH).optional(),
  inputs: z.strictObject({
    image: MediaInputSchema,
    audio: MediaInputSchema,
  }),
  outputType: z.literal('URL').optional(),
  outputFormat: z.enum(OUTPUT_FORMATS).optional(),
  outputQuality: z.int().min(20).max(99).optional(),
  deliveryMethod: z.literal('async').optional(),
  webhookURL: HttpUrlSchema.optional(),
  ttl: z.int().min(60).optional(),
  includeCost: z.boolean().optional(),
  numberResults: z.int().min(1).max(4).optional(),
  safety: SafetySchema.optional(),
  // No `uploadEndpoint` on purpose: presigned PUTs to S3 are reported to fail and to race the webhook.
});
export type VideoInferenceTask = z.infer<typeof VideoInferenceTaskSchema>;

/** The immediate acknowledgement of an async task. */
export const AckItemSchema = z.looseObject({
  taskType: z.string(),
  taskUUID: z.string(),
});
export type AckItem = z.infer<typeof AckItemSchema>;

/** Longest `videoURL` accepted: browsers and CDNs commonly stop at 2,048; Runware's are about 100 characters. */
export const MAX_VIDEO_URL_LENGTH = 2048;
/** Longest id accepted (`taskUUID`, `videoUUID`): a UUID has 36 characters. */
export const MAX_ID_LENGTH = 128;
/**
 * Highest cost accepted for one result, in USD. The model costs 0.087 USD per second and makes at most five
 * minutes (about 26 USD, docs/runware-api.md section 7); anything near this bound is a broken reply, not a bill.
 */
export const MAX_RESULT_COST_USD = 10_000;
/**
 * Smallest non-zero cost accepted. DynamoDB stores numbers down to 1e-130 only, and a denormal such as 5e-324
 * would make the record write fail; no real price is below a millionth of a cent.
 */
export const MIN_NONZERO_COST_USD = 1e-8;

/** A Runware id: non-empty, bounded, and made of characters that are safe in a key or a log line. */
const IdSchema = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits, ".", "_", ":" or "-"');

/**
 * Where the video is. http is accepted here only for the local simulator; which hosts and schemes may be
 * downloaded from is decided by the allow-list (`hosts.ts`, HTTPS to `*.runware.ai` by default).
 */
const VideoUrlSchema = HttpUrlSchema.max(MAX_VIDEO_URL_LENGTH);

/** A cost in USD that can be stored and summed: finite, not negative, within {@link MAX_RESULT_COST_USD}. */
const CostSchema = z
  .number()
  .min(0)
  .max(MAX_RESULT_COST_USD)
  .refine((cost) => cost === 0 || cost >= MIN_NONZERO_COST_USD, 'must be 0 or at least 1e-8 USD');

/** A seed: an integer DynamoDB can store (Runware's largest documented seed is 2^63 - 1). */
const SeedSchema = z
  .number()
  .min(-(2 ** 64))
  .max(2 ** 64)
  .refine(Number.isInteger, 'must be an integer');

/**
 * One finished video. With `numberResults > 1` each result is its own item (and its own webhook call). Values
 * are bounded so that whatever is accepted can be stored and billed; a body that breaks a bound is refused.
 */
export const VideoResultItemSchema = z.looseObject({
  taskType: z.string().max(MAX_ID_LENGTH),
  taskUUID: IdSchema,
  videoUUID: IdSchema,
  videoURL: VideoUrlSchema,
  cost: CostSchema.optional(),
  seed: SeedSchema.optional(),
  NSFWContent: z.boolean().optional(),
  status: z.string().optional(),
});
export type VideoResultItem = z.infer<typeof VideoResultItemSchema>;
/** A finished video, as the rest of the pipeline sees it. */
export type VideoResult = VideoResultItem;

/** One entry of Runware's `errors` array. Codes vary by model and provider, so the message is kept whole. */
export const ErrorItemSchema = z.looseObject({
  code: z.string(),
  message: z.string(),
  // Cross-field violations name every field involved (TS SDK `src/errors.ts` `normalizeParameter`).
  parameter: z
    .union([z.string(), z.array(z.string())])
    .transform((p) => (Array.isArray(p) ? p.join(', ') : p))
    .optional(),
  taskType: z.string().optional(),
  taskUUID: z.string().optional(),
  documentation: z.string().optional(),
});
export type RunwareErrorItem = z.infer<typeof ErrorItemSchema>;

/**
 * Every Runware reply: `{data: [...]}` on success, `{errors: [...]}` on failure. Items of `data` depend on the
 * task, so they are checked by whoever knows which task was sent. A body with neither key is not a reply.
 */
export const ResponseEnvelopeSchema = z
  .looseObject({
    data: z.array(z.unknown()).optional(),
    errors: z.array(ErrorItemSchema).optional(),
  })
  .refine((body) => body.data !== undefined || body.errors !== undefined, {
    message: 'Expected a "data" or an "errors" array',
  });
export type ResponseEnvelope = z.infer<typeof ResponseEnvelopeSchema>;

const WebhookEnvelopeSchema = z
  .looseObject({
    data: z.array(VideoResultItemSchema).optional(),
    errors: z.array(ErrorItemSchema).optional(),
  })
  .refine((body) => body.data !== undefined || body.errors !== undefined, {
    message: 'Expected a "data" or an "errors" array',
  });

/**
 * What Runware POSTs to our webhook. Documented: the same envelope as a synchronous reply. Also accepted: a bare
 * result item or a bare error item, since undocumented shapes have been seen and the video is paid for either way.
 */
export const WebhookBodySchema = z.union([WebhookEnvelopeSchema, VideoResultItemSchema, ErrorItemSchema]);
export type WebhookBody = z.infer<typeof WebhookBodySchema>;

export { InvalidWebhookBodyError };

/**
 * Normalizes any accepted webhook body to lists of results and errors. Error messages have query strings
 * removed from URLs (providers echo input URLs, and a presigned URL's signature is a secret); result URLs are
 * kept whole because they are needed to download the video.
 *
 * @throws {InvalidWebhookBodyError} when the body matches no known shape.
 */
export function parseWebhookBody(json: unknown): { results: VideoResult[]; errors: RunwareErrorItem[] } {
  // Tried one shape at a time, envelope first: the shapes are loose, so an envelope with a stray `code` field
  // would also pass as a bare error item.
  const envelope = WebhookEnvelopeSchema.safeParse(json);
  if (envelope.success) {
    return { results: envelope.data.data ?? [], errors: (envelope.data.errors ?? []).map(sanitizeErrorItem) };
  }
  const result = VideoResultItemSchema.safeParse(json);
  if (result.success) return { results: [result.data], errors: [] };
  const error = ErrorItemSchema.safeParse(json);
  if (error.success) return { results: [], errors: [sanitizeErrorItem(error.data)] };

  // Report against the shape the body was most likely meant to be.
  const looksLikeEnvelope = typeof json === 'object' && json !== null && ('data' in json || 'errors' in json);
  const issues = looksLikeEnvelope ? envelope.error : result.error;
  throw new InvalidWebhookBodyError(
    `The webhook body is not a Runware result or error (${describeIssues(issues)}).`,
  );
}

/** Statuses of a `getResponse` item. `pending` is from older docs; unknown strings are tolerated too. */
export const TASK_STATUSES = ['processing', 'pending', 'success', 'error'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** One item of a `getResponse` reply (polling fallback when a webhook is late or lost). */
export const GetResponseItemSchema = z.looseObject({
  taskType: z.string().optional(),
  taskUUID: IdSchema,
  // Optional and open-ended: a status we do not know must not turn a finished video into a parse failure.
  status: z.union([z.enum(TASK_STATUSES), z.string()]).optional(),
  progress: z.number().optional(),
  videoUUID: IdSchema.optional(),
  videoURL: VideoUrlSchema.optional(),
  cost: CostSchema.optional(),
  seed: SeedSchema.optional(),
  NSFWContent: z.boolean().optional(),
  error: z
    .looseObject({
      code: z.string().optional(),
      message: z.string().optional(),
    })
    .optional(),
});
export type GetResponseItem = z.infer<typeof GetResponseItemSchema>;

/**
 * Removes secrets from a text: kept under this name for existing callers (the simulator); it is
 * {@link redactSecrets}, which also removes URL user info and secret parameters in encoded forms.
 */
export function stripUrlQueries(text: string): string {
  return redactSecrets(text);
}

function sanitizeErrorItem(item: RunwareErrorItem): RunwareErrorItem {
  return { ...item, message: stripUrlQueries(item.message) };
}

/**
 * Summarizes zod issues as `path: message` pairs. Built from paths and zod's own messages only, never from the
 * input values, which may be presigned URLs.
 */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
