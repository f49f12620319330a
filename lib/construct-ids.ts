/**
 * Construct ids of the stack's resources that other code looks up: local mode finds them in the synthesized
 * template by their construct path, monitoring names its alarms after them. No imports, so local mode can read it
 * without loading aws-cdk-lib. Renaming an id replaces the resource on the next deploy (its logical id changes).
 */

/** The stack as `bin/app.ts` (and local mode's synth) creates it. */
export const STACK_NAME = 'AvatarPipeline';

/**
 * The ids as the constructs nest: each group's own `id`, then the ids of what it holds that other code looks up
 * (`CONSTRUCT_IDS.rules.ingestRule` sits under `CONSTRUCT_IDS.rules.id`).
 */
export const CONSTRUCT_IDS = {
  storage: {
    id: 'Storage',
    inputBucket: 'InputBucket',
    outputBucket: 'OutputBucket',
    accessLogBucket: 'AccessLogBucket',
    table: 'Table',
  },
  secrets: { id: 'Secrets', runwareApiKey: 'RunwareApiKey', webhookSigningSecret: 'WebhookSigningSecret' },
  /** The functions and the dead-letter queue (the id predates the split: their logical ids stay). */
  functions: { id: 'Pipeline', deadLetterQueue: 'EventsDeadLetterQueue' },
  workflow: { id: 'Workflow', stateMachine: 'StateMachine', executionLogs: 'ExecutionLogs' },
  rules: {
    id: 'Rules',
    ingestRule: 'InputObjectCreated',
    executionEndedRule: 'ExecutionEndedUnhandled',
    orphanSweepRule: 'OrphanSweepSchedule',
  },
  webhookApi: { id: 'WebhookApi', httpApi: 'Api' },
  monitoring: { id: 'Monitoring' },
  dashboard: { id: 'Dashboard' },
  notifications: { id: 'JobNotifications' },
} as const;

const { storage, secrets, functions, workflow, rules, webhookApi } = CONSTRUCT_IDS;

/** Where each looked-up resource sits under the stack: its `aws:cdk:path` is `<stack>/<path>/Resource`. */
export const CONSTRUCT_PATHS = {
  inputBucket: `${storage.id}/${storage.inputBucket}`,
  outputBucket: `${storage.id}/${storage.outputBucket}`,
  table: `${storage.id}/${storage.table}`,
  webhookSigningSecret: `${secrets.id}/${secrets.webhookSigningSecret}`,
  deadLetterQueue: `${functions.id}/${functions.deadLetterQueue}`,
  stateMachine: `${workflow.id}/${workflow.stateMachine}`,
  ingestRule: `${rules.id}/${rules.ingestRule}`,
  executionEndedRule: `${rules.id}/${rules.executionEndedRule}`,
  orphanSweepRule: `${rules.id}/${rules.orphanSweepRule}`,
  httpApi: `${webhookApi.id}/${webhookApi.httpApi}`,
} as const;
export type LookedUpResource = keyof typeof CONSTRUCT_PATHS;
