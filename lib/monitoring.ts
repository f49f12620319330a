import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { functionConstructId, type PipelineFunctionName } from './function-names';

export interface MonitoringProps {
  readonly stateMachine: IStateMachine;
  /** Functions whose errors raise an alarm (`<function construct id>Errors`), by name. */
  readonly functions: Readonly<Partial<Record<PipelineFunctionName, IFunction>>>;
  /** Dead-letter queues by construct id (the alarm is `<id>Messages`): any message is an event nothing handled. */
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
  /**
   * E-mail address subscribed to the alarm topic.
   * @default - no subscription (subscribe to the topic yourself)
   */
  readonly alarmEmail?: string;
  /**
   * Period over which each alarm counts.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

/**
 * Alarms on everything that means a job did not go as planned, sent to one encrypted SNS topic:
 * failed and timed-out executions (a timed-out one was stuck past its hard deadline), messages in a
 * dead-letter queue, and errors of any function.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);

    // A customer-managed key: CloudWatch alarms cannot publish to a topic encrypted with alias/aws/sns, whose key
    // policy cannot grant the CloudWatch service principal.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'avatar-pipeline: encrypts the alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'avatar-pipeline alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const alarm = (alarmId: string, description: string, metric: cloudwatch.IMetric) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: `avatar-pipeline: ${description}`,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new SnsAction(this.topic));
      this.alarms.push(created);
      return created;
    };
    const sum = { period, statistic: cloudwatch.Stats.SUM };

    alarm(
      'ExecutionsFailed',
      'a job execution failed (see the JobFailed event and <stem>.error.json)',
      props.stateMachine.metricFailed(sum),
    );
    alarm(
      'ExecutionsTimedOut',
      'a job execution was stuck past its hard deadline and timed out',
      props.stateMachine.metricTimedOut(sum),
    );
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name}Messages`,
        `events are waiting in the ${name} dead-letter queue: nothing handled them`,
        queue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
      );
    }
    for (const [name, fn] of Object.entries(props.functions) as [PipelineFunctionName, IFunction][]) {
      alarm(
        `${functionConstructId(name)}Errors`,
        `the ${name} function reported errors`,
        fn.metricErrors(sum),
      );
    }
  }
}
