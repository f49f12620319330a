import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { JOB_EVENT_TYPES } from '../lambdas/core/contract/job-events';
import { EVENT_SOURCE } from './workflow';

export interface JobNotificationsProps {
  /** E-mail address subscribed to the topic (the subscription must be confirmed from the first message). */
  readonly email: string;
}

/**
 * The job events (JobSucceeded, JobFailed, JobCancelled; docs/events.md) e-mailed to a person: an EventBridge rule on
 * the default bus sends them to an SNS topic encrypted with its own key, which the e-mail address subscribes to.
 * Only created when the `notificationEmail` setting is set.
 */
export class JobNotifications extends Construct {
  readonly topic: sns.Topic;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: JobNotificationsProps) {
    super(scope, id);
    // A customer-managed key: EventBridge cannot publish to a topic encrypted with alias/aws/sns, whose key policy
    // cannot grant the EventBridge service principal.
    const key = new kms.Key(this, 'TopicKey', {
      description: 'avatar-pipeline: encrypts the job notification topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'avatar-pipeline job events',
      masterKey: key,
      enforceSSL: true,
    });
    this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    this.rule = new events.Rule(this, 'JobEnded', {
      description: 'avatar-pipeline: e-mail each job that ended (JobSucceeded, JobFailed, JobCancelled)',
      eventPattern: { source: [EVENT_SOURCE], detailType: [...JOB_EVENT_TYPES] },
      targets: [new targets.SnsTopic(this.topic)],
    });
  }
}
