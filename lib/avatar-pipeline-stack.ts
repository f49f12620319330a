import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Monitoring } from './monitoring';
import { Pipeline } from './pipeline';
import { Secrets } from './secrets';
import { loadSettings, type Settings } from './settings';
import { Storage } from './storage';
import { WebhookApi } from './webhook-api';

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
  readonly pipeline: Pipeline;
  readonly webhookApi: WebhookApi;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: AvatarPipelineStackProps = {}) {
    super(scope, id, {
      description: 'avatar-pipeline: S3 drop folder -> Runware klingai:avatar -> video in S3',
      ...props,
    });
    const settings = props.settings ?? loadSettings(this.node);
    this.settings = settings;

    this.storage = new Storage(this, 'Storage');
    this.secrets = new Secrets(this, 'Secrets', {
      runwareApiKeySecretName: settings.runwareApiKeySecretName,
    });

    this.pipeline = new Pipeline(this, 'Pipeline', {
      storage: this.storage,
      secrets: this.secrets,
      settings,
    });
    this.webhookApi = new WebhookApi(this, 'WebhookApi', {
      handler: this.pipeline.functions.webhook,
      logRetention: settings.logRetentionDays,
    });
    this.pipeline.useWebhookUrl(this.webhookApi.url);

    this.monitoring = new Monitoring(this, 'Monitoring', {
      stateMachine: this.pipeline.stateMachine,
      functions: this.pipeline.functions,
      deadLetterQueues: { EventsDeadLetterQueue: this.pipeline.deadLetterQueue },
      ...(settings.alarmEmail ? { alarmEmail: settings.alarmEmail } : {}),
    });

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output('InputBucketName', this.storage.inputBucket.bucketName, 'Drop jobs here under inbox/');
    output('OutputBucketName', this.storage.outputBucket.bucketName, 'Videos, job records and error reports');
    output('TableName', this.storage.table.tableName, 'Job table');
    output('StateMachineArn', this.pipeline.stateMachine.stateMachineArn, 'One execution per job attempt');
    output('WebhookUrl', this.webhookApi.url, 'Base URL of the Runware webhooks');
    output(
      'RunwareApiKeySecretName',
      settings.runwareApiKeySecretName,
      'Create this secret (SecretString = the Runware API key) before the first job',
    );
  }
}
