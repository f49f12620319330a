/**
 * Construct ids of the stack's resources that other code looks up: local mode finds them in the synthesized
 * template by their construct path, monitoring names its alarms after them. No imports, so local mode can read it
 * without loading aws-cdk-lib. Renaming an id replaces the resource on the next deploy (its logical id changes).
 */

/** The stack as `bin/app.ts` (and local mode's synth) creates it. */
export const STACK_NAME = 'AvatarPipeline';

export const CONSTRUCT_IDS = {
  storage: 'Storage',
  inputBucket: 'InputBucket',
  outputBucket: 'OutputBucket',
  accessLogBucket: 'AccessLogBucket',
  table: 'Table',
  secrets: 'Secrets',
  runwareApiKey: 'RunwareApiKey',
  webhookSigningSecret: 'WebhookSigningSecret',
  /** The functions and the dead-letter queue (the id predates the split: their logical ids stay). */
  functions: 'Pipeline',
  deadLetterQueue: 'EventsDeadLetterQueue',
  workflow: 'Workflow',
  stateMachine: 'StateMachine',
  executionLogs: 'ExecutionLogs',
  rules: 'Rules',
  ingestRule: 'InputObjectCreated',
  executionEndedRule: 'ExecutionEndedUnhandled',
  orphanSweepRule: 'OrphanSweepSchedule',
  webhookApi: 'WebhookApi',
  httpApi: 'Api',
  monitoring: 'Monitoring',
  dashboard: 'Dashboard',
  notifications: 'JobNotifications',
} as const;

const ids = CONSTRUCT_IDS;

/** Where each looked-up resource sits under the stack: its `aws:cdk:path` is `<stack>/<path>/Resource`. */
export const CONSTRUCT_PATHS = {
  inputBucket: `${ids.storage}/${ids.inputBucket}`,
  outputBucket: `${ids.storage}/${ids.outputBucket}`,
  table: `${ids.storage}/${ids.table}`,
  webhookSigningSecret: `${ids.secrets}/${ids.webhookSigningSecret}`,
  deadLetterQueue: `${ids.functions}/${ids.deadLetterQueue}`,
  stateMachine: `${ids.workflow}/${ids.stateMachine}`,
  ingestRule: `${ids.rules}/${ids.ingestRule}`,
  executionEndedRule: `${ids.rules}/${ids.executionEndedRule}`,
  orphanSweepRule: `${ids.rules}/${ids.orphanSweepRule}`,
  httpApi: `${ids.webhookApi}/${ids.httpApi}`,
} as const;
export type LookedUpResource = keyof typeof CONSTRUCT_PATHS;
