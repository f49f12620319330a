import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { normalizedCopyExpirationDays } from '../lambdas/core/contract/retention';
import { CONSTRUCT_IDS as IDS } from './construct-ids';
import { Dashboard } from './dashboard';
import { Monitoring, WEBHOOK_REFUSED_ALARM_THRESHOLD } from './monitoring';
import { JobNotifications } from './notifications';
import { PipelineFunctions } from './pipeline-functions';
import { PipelineRules } from './rules';
import { Secrets } from './secrets';
import { loadSettings, type Settings } from './settings';
import { Storage } from './storage';
import { WebhookApi } from './webhook-api';
import { Workflow } from './workflow';

export interface AvatarPipelineStackProps extends StackProps {
  /**
   * Settings to use instead of reading them from CDK context (tests).
   * @default - read from CDK context with `loadSettings`
   */
  readonly settings?: Settings;
}

/** The avatar video pipeline: drop a portrait and a voice track under `inbox/`, get a talking-avatar video. */
export class AvatarPipelineStack extends Stack {
  readonly settings: Settings;
  readonly storage: Storage;
  readonly secrets: Secrets;
  /** The functions (`pipeline.functions`) and the dead-letter queue. */
  readonly pipeline: PipelineFunctions;
  readonly webhookApi: WebhookApi;
  readonly workflow: Workflow;
  readonly rules: PipelineRules;
  readonly monitoring: Monitoring;
  readonly dashboard: Dashboard;
  /** Only with the `notificationEmail` setting. */
  readonly notifications?: JobNotifications;

  constructor(scope: Construct, id: string, props: AvatarPipelineStackProps = {}) {
    super(scope, id, {
      description: 'avatar-pipeline: S3 drop folder -> Runware klingai:avatar -> video in S3',
      ...props,
    });
    const settings = props.settings ?? loadSettings(this.node);
    this.settings = settings;

    this.storage = new Storage(this, IDS.storage.id, {
      normalizedCopyExpiration: Duration.days(
        normalizedCopyExpirationDays(settings.hardDeadlineSeconds, settings.presignTtlSeconds),
      ),
    });
    this.secrets = new Secrets(this, IDS.secrets.id, {
      runwareApiKeySecretName: settings.runwareApiKeySecretName,
    });
    this.pipeline = new PipelineFunctions(this, IDS.functions.id, {
      storage: this.storage,
      secrets: this.secrets,
      settings,
    });
    const { functions, deadLetterQueue } = this.pipeline;
    this.webhookApi = new WebhookApi(this, IDS.webhookApi.id, {
      handler: functions.webhook,
      logRetention: settings.logRetentionDays,
    });
    this.pipeline.useWebhookUrl(this.webhookApi.url);
    this.workflow = new Workflow(this, IDS.workflow.id, { functions, settings });
    this.rules = new PipelineRules(this, IDS.rules.id, {
      inputBucket: this.storage.inputBucket,
      stateMachine: this.workflow.stateMachine,
      ingest: functions.ingest,
      fail: functions.fail,
      sweep: functions.sweep,
      deadLetterQueue,
    });
    const budgets = {
      ...(settings.dailyBudgetUsd > 0 ? { dailyBudgetUsd: settings.dailyBudgetUsd } : {}),
      ...(settings.monthlyBudgetUsd > 0 ? { monthlyBudgetUsd: settings.monthlyBudgetUsd } : {}),
    };
    this.monitoring = new Monitoring(this, IDS.monitoring.id, {
      stateMachine: this.workflow.stateMachine,
      functions,
      deadLetterQueues: { [IDS.functions.deadLetterQueue]: deadLetterQueue },
      ...(settings.alarmEmail ? { alarmEmail: settings.alarmEmail } : {}),
      slotWaitAlarmSeconds: settings.slotWaitAlarmSeconds,
      webhookRefusedThreshold: WEBHOOK_REFUSED_ALARM_THRESHOLD,
      ...budgets,
    });
    this.dashboard = new Dashboard(this, IDS.dashboard.id, {
      functions,
      slotWaitAlarmSeconds: settings.slotWaitAlarmSeconds,
      webhookRefusedThreshold: WEBHOOK_REFUSED_ALARM_THRESHOLD,
      ...budgets,
    });
    if (settings.notificationEmail) {
      this.notifications = new JobNotifications(this, IDS.notifications.id, {
        email: settings.notificationEmail,
      });
    }

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output('InputBucketName', this.storage.inputBucket.bucketName, 'Drop jobs here under inbox/');
    output('OutputBucketName', this.storage.outputBucket.bucketName, 'Videos, job records and error reports');
    output('TableName', this.storage.table.tableName, 'Job table');
    output('StateMachineArn', this.workflow.stateMachine.stateMachineArn, 'One execution per job attempt');
    output('WebhookUrl', this.webhookApi.url, 'Base URL of the Runware webhooks');
    output(
      'ModelPricesUsdPerSecond',
      JSON.stringify(settings.modelPricesUsdPerSecond),
      'Price table of the cost estimates (modelPricesUsdPerSecond); avatar-pipeline estimate reads it',
    );
    // The limits the review console shows beside what is spent and in flight (0 budget = no limit).
    output(
      'DailyBudgetUsd',
      String(settings.dailyBudgetUsd),
      'Daily budget in USD (dailyBudgetUsd; 0 = no limit)',
    );
    output(
      'MonthlyBudgetUsd',
      String(settings.monthlyBudgetUsd),
      'Monthly budget in USD (monthlyBudgetUsd; 0 = no limit)',
    );
    output(
      'MaxConcurrentTasks',
      String(settings.maxConcurrentTasks),
      'Runware tasks in flight at once (maxConcurrentTasks)',
    );
    output('DashboardName', this.dashboard.dashboard.dashboardName, 'CloudWatch dashboard of the pipeline');
    output(
      'RunwareApiKeySecretName',
      settings.runwareApiKeySecretName,
      'Create this secret (SecretString = the Runware API key) before the first job',
    );
  }
}
