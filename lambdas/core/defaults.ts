/**
 * The default of every deploy-time setting, in one place: `lib/settings.ts` applies them when the CDK context
 * names none, local mode and the tests read them from here. The functions never fall back on them: each setting
 * reaches a function through an environment variable the stack always sets, and a missing one fails at start.
 * No imports beyond plain constants, so the CDK app, local mode and the Lambda bundles can all load this file.
 */
import type { AvatarModel } from './settings.js';

const MIB = 1024 * 1024;

export const DEFAULT_SETTINGS = {
  /** Name of the operator-created Secrets Manager secret that holds the Runware API key. */
  runwareApiKeySecretName: 'avatar-pipeline/runware-api-key',
  model: 'klingai:avatar@2.0-pro' satisfies AvatarModel,
  allowedVideoHosts: ['vm.runware.ai'],
  waitTimeoutSeconds: 1800,
  hardDeadlineSeconds: 7200,
  settleSeconds: 10,
  runwareApiUrl: 'https://api.runware.ai/v1',
  maxImageBytes: 10 * MIB,
  maxAudioBytes: 50 * MIB,
  presignTtlSeconds: 900,
  orphanAfterSeconds: 86_400,
  logRetentionDays: 30,
  /**
   * USD per second of output video, per model (docs/runware-api.md section 7, from Runware's model pages:
   * "$0.087 per second" for pro, "$0.044 per second" for standard). Estimates multiply it by the audio's seconds
   * and the number of results.
   */
  modelPricesUsdPerSecond: {
    'klingai:avatar@2.0-pro': 0.087,
    'klingai:avatar@2.0-standard': 0.044,
  } satisfies Record<AvatarModel, number>,
} as const;
