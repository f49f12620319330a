/**
 * The default of every deploy-time setting, in one place: `lib/settings.ts` applies them when the CDK context
 * names none, local mode and the tests read them from here. The functions never fall back on them: each setting
 * reaches a function through an environment variable the stack always sets, and a missing one fails at start.
 * No imports beyond plain constants, so the CDK app, local mode and the Lambda bundles can all load this file.
 */
import { DEFAULT_ALLOWED_VIDEO_HOSTS } from './hosts.js';
import type { AvatarModel } from './job-settings.js';

const MIB = 1024 * 1024;
/** Kling's documented sizes are in "MB" (docs/runware-api.md section 6); read strictly as 10^6 bytes. */
const MB = 1000 * 1000;

export const DEFAULT_SETTINGS = {
  /** Name of the operator-created Secrets Manager secret that holds the Runware API key. */
  runwareApiKeySecretName: 'avatar-pipeline/runware-api-key',
  model: 'klingai:avatar@2.0-pro' satisfies AvatarModel,
  /** Every Runware result host is a sub-domain of runware.ai (docs/runware-api.md section 4). */
  allowedVideoHosts: DEFAULT_ALLOWED_VIDEO_HOSTS,
  waitTimeoutSeconds: 1800,
  hardDeadlineSeconds: 7200,
  settleSeconds: 10,
  runwareApiUrl: 'https://api.runware.ai/v1',
  maxImageBytes: 10 * MIB,
  /** Kling's avatar limit, "max 5MB" (docs/runware-api.md section 6); raise it to accept larger files. */
  maxAudioBytes: 5 * MB,
  /** Ogg is not among Kling's documented audio formats (MP3/WAV/M4A/AAC): refused unless this is set. */
  acceptOggAudio: false,
  /**
   * Runware queues tasks and does not say when it fetches inputs; an hour covers its queueing without handing out
   * long-lived URLs. Temporary Lambda credentials may end a URL sooner (docs/runware-api.md section 5).
   */
  presignTtlSeconds: 3600,
  orphanAfterSeconds: 86_400,
  logRetentionDays: 30,
  /** Runware tasks in flight at once, across all jobs. */
  maxConcurrentTasks: 10,
  /** A job waiting this long for a Runware slot raises an alarm (the queue is not draining). */
  slotWaitAlarmSeconds: 1800,
  /** Days a job record is kept after its creation; 0 keeps job records for ever. */
  jobRecordRetentionDays: 0,
  /**
   * USD per second of output video, per model (docs/runware-api.md section 7, from Runware's model pages:
   * "$0.087 per second" for pro, "$0.044 per second" for standard). Estimates multiply it by the audio's seconds
   * and the number of results.
   */
  modelPricesUsdPerSecond: {
    'klingai:avatar@2.0-pro': 0.087,
    'klingai:avatar@2.0-standard': 0.044,
  } satisfies Record<AvatarModel, number>,
  /** USD of estimated charges a UTC day may reserve; 0 is no limit. */
  dailyBudgetUsd: 0,
  /** USD of estimated charges a UTC month may reserve; 0 is no limit. */
  monthlyBudgetUsd: 0,
} as const;
