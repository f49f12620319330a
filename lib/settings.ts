import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { z } from 'zod';
import { DEFAULT_SETTINGS as D } from '../lambdas/core/contract/defaults';
import { AVATAR_MODELS, MAX_TTL_SECONDS, PROMPT_MAX_LENGTH } from '../lambdas/core/contract/job-settings';
import { MAX_HARD_DEADLINE_SECONDS, MIN_JOB_RECORD_RETENTION_DAYS } from '../lambdas/core/contract/retention';
import { defaultResultTtlSeconds, minResultTtlSeconds } from './delivery-window';

/**
 * Deploy-time settings of the pipeline, read from CDK context (`cdk.json` or `cdk deploy -c name=value`).
 * Every setting has a documented default (the values live in `lambdas/core/contract/defaults.ts`); an invalid value fails
 * synth with the setting's name.
 */
export interface Settings {
  /**
   * Name of an EXISTING Secrets Manager secret (created by the operator) whose SecretString is the Runware API key.
   * Imported by name; never read at synth time.
   * @default 'avatar-pipeline/runware-api-key'
   */
  readonly runwareApiKeySecretName: string;
  /**
   * Runware model used when a job's sidecar names none.
   * @default 'klingai:avatar@2.0-pro'
   */
  readonly model: (typeof AVATAR_MODELS)[number];
  /**
   * Prompt used when a job's sidecar has none (at most 2500 characters).
   * @default - no prompt
   */
  readonly defaultPrompt?: string;
  /**
   * Hosts a `videoURL` may point at; deliver refuses to download from any other host. An entry is a host name
   * (HTTPS only), `*.domain` for its sub-domains, or a full origin such as `http://127.0.0.1:8080` (local mode).
   * Accepts a list (cdk.json) or a comma-separated string (`-c`).
   * @default ['*.runware.ai'] (every result host in Runware's docs; docs/runware-api.md section 4)
   */
  readonly allowedVideoHosts: readonly string[];
  /**
   * How long the submit step waits for the webhook before falling back to polling.
   * @default 1800
   */
  readonly waitTimeoutSeconds: number;
  /**
   * A job's hard deadline, counted from its start: polling gives up after it. Must exceed `waitTimeoutSeconds`.
   * @default 7200
   */
  readonly hardDeadlineSeconds: number;
  /**
   * Wait before validation, so a sidecar uploaded together with the pair is picked up whatever the order.
   * @default 10
   */
  readonly settleSeconds: number;
  /**
   * Runware REST endpoint.
   * @default 'https://api.runware.ai/v1'
   */
  readonly runwareApiUrl: string;
  /**
   * Largest accepted image, in bytes.
   * @default 10485760 (10 MiB)
   */
  readonly maxImageBytes: number;
  /**
   * Largest accepted audio file, in bytes. The default is Kling's documented "max 5MB"; a larger value lets
   * larger files through at the risk of the model refusing them (after submission).
   * @default 5000000 (5 MB)
   */
  readonly maxAudioBytes: number;
  /**
   * Accept Ogg (Vorbis, Opus) voice tracks. Not among Kling's documented formats (MP3, WAV, M4A, AAC).
   * @default false
   */
  readonly acceptOggAudio: boolean;
  /**
   * Lifetime of the presigned GET URLs handed to Runware for the inputs (Runware may fetch them only when the
   * queued task starts). URLs signed with the function's temporary credentials die with them, whatever this says.
   * @default 3600
   */
  readonly presignTtlSeconds: number;
  /**
   * How long Runware keeps each finished video at its URL (`ttl` of the task), unless a job's sidecar says
   * otherwise. At least the time this deployment may need to fetch it: `hardDeadlineSeconds` plus the Record and
   * Deliver steps with all their retries (lib/delivery-window.ts); a shorter value, here or in a sidecar, is
   * refused. Likeness data should not stay at Runware longer than needed.
   * @default - that minimum rounded up to a whole hour: 14400 with the default hardDeadlineSeconds (7200)
   */
  readonly resultTtlSeconds: number;
  /**
   * After how long a file whose partner never arrived is reported as an orphan.
   * @default 86400
   */
  readonly orphanAfterSeconds: number;
  /**
   * Days a job record is kept after its creation (DynamoDB TTL); 0 keeps job records for ever. At least
   * 8 days otherwise, so that no record expires while its job may still run.
   * @default 0
   */
  readonly jobRecordRetentionDays: number;
  /**
   * Retention of every log group of the pipeline (a value CloudWatch Logs accepts, e.g. 7, 30, 90, 365).
   * @default 30
   */
  readonly logRetentionDays: RetentionDays;
  /**
   * Runware tasks in flight at once, across all executions (1-1000). A job takes a slot before it submits and
   * gives it back when its generation has ended; the others wait (QUEUED) until a slot is free or their deadline.
   * @default 10
   */
  readonly maxConcurrentTasks: number;
  /**
   * E-mail address subscribed to the alarm topic (the subscription must be confirmed).
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * E-mail address subscribed to the job events (JobSucceeded, JobFailed, JobCancelled) through an encrypted SNS
   * topic (the subscription must be confirmed). See docs/events.md.
   * @default - no subscription, no topic
   */
  readonly notificationEmail?: string;
  /**
   * A job that has waited this long for a Runware slot raises an alarm (the queue is not draining: raise
   * `maxConcurrentTasks`, or look for tasks that never finish).
   * @default 1800
   */
  readonly slotWaitAlarmSeconds: number;
  /**
   * USD per second of output video for each model, used for cost estimates. Accepts an object (cdk.json) or a
   * JSON string (`-c`); models not named keep their default.
   * @default { 'klingai:avatar@2.0-pro': 0.087, 'klingai:avatar@2.0-standard': 0.044 } (docs/runware-api.md §7)
   */
  readonly modelPricesUsdPerSecond: Readonly<Record<(typeof AVATAR_MODELS)[number], number>>;
  /**
   * Budget per UTC day, in USD (0-1,000,000; 0 is no limit). Each job's estimated charge is reserved at submit;
   * a job whose estimate does not fit in what is left fails `BUDGET_EXCEEDED` without being submitted. When set,
   * the `DailyBudgetNearlySpent` alarm fires at 80 % of it and the dashboard draws it on the cost panel.
   * @default 0
   */
  readonly dailyBudgetUsd: number;
  /**
   * Budget per UTC month, in USD (0-1,000,000; 0 is no limit), reserved like `dailyBudgetUsd`.
   * @default 0
   */
  readonly monthlyBudgetUsd: number;
}

/** Context keys, in the order they are documented. */
export const SETTING_NAMES = [
  'runwareApiKeySecretName',
  'model',
  'defaultPrompt',
  'allowedVideoHosts',
  'waitTimeoutSeconds',
  'hardDeadlineSeconds',
  'settleSeconds',
  'runwareApiUrl',
  'maxImageBytes',
  'maxAudioBytes',
  'acceptOggAudio',
  'presignTtlSeconds',
  'resultTtlSeconds',
  'orphanAfterSeconds',
  'jobRecordRetentionDays',
  'logRetentionDays',
  'maxConcurrentTasks',
  'alarmEmail',
  'notificationEmail',
  'slotWaitAlarmSeconds',
  'dailyBudgetUsd',
  'monthlyBudgetUsd',
  'modelPricesUsdPerSecond',
] as const satisfies readonly (keyof Settings)[];

const RETENTION_VALUES = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'),
);

/** `-c name=value` always yields strings: numbers are coerced, an empty string means "not set". */
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** An amount of USD: finite, non-negative, bounded, at most micro-dollar precision (what the budget counts). */
const usd = z.coerce
  .number()
  .min(0)
  .max(1_000_000)
  .transform((n) => Math.round(n * 1e6) / 1e6);
const emptyAsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const SettingsSchema = z
  .object({
    runwareApiKeySecretName: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'must be a Secrets Manager secret name')
      .default(D.runwareApiKeySecretName),
    model: z.enum(AVATAR_MODELS).default(D.model),
    defaultPrompt: z.string().trim().min(1).max(PROMPT_MAX_LENGTH).optional(),
    allowedVideoHosts: z
      .union([z.string().transform((s) => s.split(',')), z.array(z.string())])
      .transform((hosts) => hosts.map((h) => h.trim().toLowerCase()).filter(Boolean))
      .pipe(
        z
          .array(
            z
              .string()
              .regex(
                /^(\*\.)?[a-z0-9.-]+$|^https?:\/\/[a-z0-9.-]+(:\d+)?$/,
                'must be host names such as vm.runware.ai, *.runware.ai, or origins such as http://127.0.0.1:8080',
              ),
          )
          .min(1, 'must name at least one host'),
      )
      .default([...D.allowedVideoHosts]),
    waitTimeoutSeconds: int(5, 86_400).default(D.waitTimeoutSeconds),
    hardDeadlineSeconds: int(10, MAX_HARD_DEADLINE_SECONDS).default(D.hardDeadlineSeconds),
    settleSeconds: int(0, 300).default(D.settleSeconds),
    runwareApiUrl: z.url({ protocol: /^https?$/ }).default(D.runwareApiUrl),
    maxImageBytes: int(1, 1_073_741_824).default(D.maxImageBytes),
    maxAudioBytes: int(1, 1_073_741_824).default(D.maxAudioBytes),
    acceptOggAudio: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
      .default(D.acceptOggAudio),
    presignTtlSeconds: int(60, 604_800).default(D.presignTtlSeconds),
    // No default here: it follows hardDeadlineSeconds (below).
    resultTtlSeconds: int(60, MAX_TTL_SECONDS).optional(),
    orphanAfterSeconds: int(1, 31_536_000).default(D.orphanAfterSeconds),
    jobRecordRetentionDays: int(0, 36_500)
      .refine((n) => n === 0 || n >= MIN_JOB_RECORD_RETENTION_DAYS, {
        message: `must be 0 (keep job records) or at least ${MIN_JOB_RECORD_RETENTION_DAYS} days`,
      })
      .default(D.jobRecordRetentionDays),
    logRetentionDays: z.coerce
      .number()
      .refine(
        (n) => RETENTION_VALUES.has(n),
        'must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ...)',
      )
      .default(D.logRetentionDays)
      .transform((n) => n as RetentionDays),
    maxConcurrentTasks: int(1, 1000).default(D.maxConcurrentTasks),
    alarmEmail: z.email().optional(),
    notificationEmail: z.email().optional(),
    slotWaitAlarmSeconds: int(60, 604_800).default(D.slotWaitAlarmSeconds),
    modelPricesUsdPerSecond: z
      .union([z.string().transform((s, ctx) => parseJson(s, ctx)), z.record(z.string(), z.unknown())])
      .pipe(z.partialRecord(z.enum(AVATAR_MODELS), z.coerce.number().min(0).max(100)))
      .transform((prices) => ({ ...D.modelPricesUsdPerSecond, ...prices }))
      .default({ ...D.modelPricesUsdPerSecond }),
    dailyBudgetUsd: usd.default(D.dailyBudgetUsd),
    monthlyBudgetUsd: usd.default(D.monthlyBudgetUsd),
  })
  .strict()
  .refine((s) => s.hardDeadlineSeconds > s.waitTimeoutSeconds, {
    path: ['hardDeadlineSeconds'],
    message: 'must be greater than waitTimeoutSeconds',
  })
  .superRefine((s, ctx) => {
    const min = minResultTtlSeconds(s.hardDeadlineSeconds);
    if (s.resultTtlSeconds !== undefined && s.resultTtlSeconds < min) {
      ctx.addIssue({
        code: 'custom',
        path: ['resultTtlSeconds'],
        message:
          `must be at least ${min} s: the video must stay at Runware's URL until delivery and its retries are over ` +
          `(hardDeadlineSeconds ${s.hardDeadlineSeconds} s plus the Record and Deliver retries). Raise it, or ` +
          'lower hardDeadlineSeconds',
      });
    }
  })
  .transform((s) => ({
    ...s,
    resultTtlSeconds: s.resultTtlSeconds ?? defaultResultTtlSeconds(s.hardDeadlineSeconds),
  }));

function parseJson(text: string, ctx: z.RefinementCtx): unknown {
  try {
    return JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object of model name to USD per second' });
    return z.NEVER;
  }
}

/** Raised when a setting is invalid; the message starts with the setting's name. */
export class InvalidSettingError extends Error {
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super(`Invalid setting "${setting}": ${problem}`);
    this.name = 'InvalidSettingError';
  }
}

/** Parses settings from a plain record (keys as in {@link SETTING_NAMES}); unknown keys are ignored. */
export function parseSettings(raw: Readonly<Record<string, unknown>>): Settings {
  const input: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const value = emptyAsUnset(raw[name]);
    if (value !== undefined) input[name] = value;
  }
  const parsed = SettingsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const setting = String(issue?.path[0] ?? 'settings');
    throw new InvalidSettingError(setting, issue?.message ?? 'invalid value');
  }
  return parsed.data;
}

/** Reads the settings from the CDK context visible at `node` (app context, `cdk.json`, `-c`). */
export function loadSettings(node: Node): Settings {
  const raw: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) raw[name] = node.tryGetContext(name);
  return parseSettings(raw);
}
