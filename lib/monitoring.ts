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
import {
  ALARMED_FAILURE_CATEGORIES,
  FAILURE_CATEGORY_DIMENSION,
  METRIC,
} from '../lambdas/core/contract/metric-names';
import { functionConstructId, type PipelineFunctionName } from './function-names';
import { pipelineMetric } from './pipeline-metrics';

export interface MonitoringProps {
  readonly stateMachine: IStateMachine;
  /**
   * Functions whose errors raise an alarm (`<function construct id>Errors`), by name. Refused input is not an
   * error of the validate function (it returns a refusal), so each error is a fault: a crash, a timeout, a bug.
   */
  readonly functions: Readonly<Partial<Record<PipelineFunctionName, IFunction>>>;
  /** Dead-letter queues by construct id (the alarm is `<id>Messages`): any message is an event nothing handled. */
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
  /**
   * E-mail address subscribed to the alarm topic.
   * @default - no subscription (subscribe to the topic yourself)
   */
  readonly alarmEmail?: string;
  /**
   * Period over which each alarm counts (except the budget alarm, which counts a UTC day).
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
  /** A job waiting this long for a Runware slot raises the `SlotWaitTooLong` alarm (setting `slotWaitAlarmSeconds`). */
  readonly slotWaitAlarmSeconds: number;
  /**
   * Budget in USD per UTC day: the `DailyBudgetNearlySpent` alarm fires when what the day has committed (spent
   * plus reserved, the sweep's `BudgetDayUsd` gauge) reaches {@link BUDGET_ALARM_SHARE} of it.
   * @default - no budget, no budget alarm
   */
  readonly dailyBudgetUsd?: number;
  /**
   * Budget in USD per UTC month: the `MonthlyBudgetNearlySpent` alarm fires when what the month has committed
   * (spent plus reserved, the sweep's `BudgetMonthUsd` gauge) reaches {@link BUDGET_ALARM_SHARE} of it.
   * @default - no budget, no monthly budget alarm
   */
  readonly monthlyBudgetUsd?: number;
  /**
   * Refused webhook requests within one period that raise the `WebhookRefusedBurst` alarm: a few are Runware's
   * retries or a typo; a burst is someone probing the endpoint, or a webhook secret that no longer matches.
   * @default 20
   */
  readonly webhookRefusedThreshold?: number;
}

/** Share of the daily or monthly budget at which its alarm fires. */
export const BUDGET_ALARM_SHARE = 0.8;

/** Period of the budget gauges (published by the sweep every 5 minutes) in the alarm and on the dashboard. */
export const BUDGET_GAUGE_PERIOD = Duration.minutes(15);

/** Refused webhook requests in one period that make a burst (see `webhookRefusedThreshold`). */
export const WEBHOOK_REFUSED_ALARM_THRESHOLD = 20;

/**
 * Alarms that each mean someone should act, sent to one encrypted SNS topic; each alarm's description says what to
 * do. Ordinary bad input raises none: it is refused by validate without a Lambda error and counted as
 * `JobsFailed{Category=InputRefused}`, which no alarm watches.
 * - `<Function>Errors`: a function crashed, timed out or hit a bug (refused input is not an error);
 * - `ExecutionsTimedOut`: an execution was stuck past its hard deadline;
 * - `<queue>Messages`: events nothing handled wait in a dead-letter queue;
 * - `JobsFailed<Category>`: jobs failed for a reason that is not the user's input (Runware, Pipeline);
 * - `WebhookRefusedBurst`: many webhook requests refused at once;
 * - `SlotWaitTooLong`: a job has waited for a Runware slot past `slotWaitAlarmSeconds`;
 * - `DailyBudgetNearlySpent` (only with `dailyBudgetUsd`): the UTC day's spent + reserved reached 80 % of it;
 * - `MonthlyBudgetNearlySpent` (only with `monthlyBudgetUsd`): the month's spent + reserved reached 80 % of it.
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

    const alarm = (
      alarmId: string,
      description: string,
      metric: cloudwatch.IMetric,
      threshold = 1,
    ): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: `avatar-pipeline: ${description}`,
        metric,
        threshold,
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
      'ExecutionsTimedOut',
      'a job execution was stuck past its hard deadline and timed out. Its job is FAILED with ' +
        'EXECUTION_TIMED_OUT; read the execution history to see which step it was stuck in.',
      props.stateMachine.metricTimedOut(sum),
    );
    for (const category of ALARMED_FAILURE_CATEGORIES) {
      alarm(
        `JobsFailed${category}`,
        category === 'Runware'
          ? 'Runware refused or failed jobs. Read the code in each JobFailed event or <stem>.error.json: ' +
              'RUNWARE_UNAUTHORIZED or RUNWARE_INSUFFICIENT_BALANCE mean the API key or the account needs attention; ' +
              'content refusals are the input.'
          : 'jobs failed for a reason that is not their input (a crash, a timeout, a deadline, a delivery ' +
              "problem). Read the code in the JobFailed events or <stem>.error.json, then the failed step's log.",
        pipelineMetric(METRIC.jobsFailed, { ...sum, dimensions: { [FAILURE_CATEGORY_DIMENSION]: category } }),
      );
    }
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name}Messages`,
        `events are waiting in the ${name} dead-letter queue: nothing handled them. Read a message to see ` +
          "which upload or execution it was, fix the cause, and upload the job's files again.",
        queue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
      );
    }
    for (const [name, fn] of Object.entries(props.functions) as [PipelineFunctionName, IFunction][]) {
      alarm(
        `${functionConstructId(name)}Errors`,
        `the ${name} function crashed or timed out (refused input is not counted). Read its log group for ` +
          'the error; the state machine retried transient ones before the job failed.',
        fn.metricErrors(sum),
      );
    }
    const webhookRefused = props.webhookRefusedThreshold ?? WEBHOOK_REFUSED_ALARM_THRESHOLD;
    alarm(
      'WebhookRefusedBurst',
      `${webhookRefused} or more webhook requests were refused within ${period.toMinutes()} minutes. If ` +
        'they are Unauthorized, someone is probing the endpoint or the webhook secret was rotated while tasks ' +
        "were in flight; read the webhook function's log for the status codes.",
      pipelineMetric(METRIC.webhookRefused, sum),
      webhookRefused,
    );
    alarm(
      'SlotWaitTooLong',
      `a job has waited more than ${props.slotWaitAlarmSeconds} s for a Runware slot. Check that tasks in ` +
        'flight finish (dashboard), raise maxConcurrentTasks, or cancel jobs you no longer need.',
      pipelineMetric(METRIC.oldestSlotWaitSeconds, { period, statistic: cloudwatch.Stats.MAXIMUM }),
      props.slotWaitAlarmSeconds,
    );
    // Both budgets are watched on the sweep's gauges (spent plus reserved, per UTC day and month, every 5 minutes):
    // the same figures submit checks, so the alarm comes before jobs start to be refused. Over 15 minutes, a late
    // sweep run does not leave the period empty.
    const budgets = [
      {
        id: 'DailyBudgetNearlySpent',
        limit: props.dailyBudgetUsd,
        setting: 'dailyBudgetUsd',
        span: 'today',
        of: 'daily',
        metric: METRIC.budgetDayUsd,
      },
      {
        id: 'MonthlyBudgetNearlySpent',
        limit: props.monthlyBudgetUsd,
        setting: 'monthlyBudgetUsd',
        span: 'this month',
        of: 'monthly',
        metric: METRIC.budgetMonthUsd,
      },
    ] as const;
    for (const budget of budgets) {
      if (budget.limit === undefined) continue;
      const threshold = Math.round(budget.limit * BUDGET_ALARM_SHARE * 100) / 100;
      alarm(
        budget.id,
        `${budget.span === 'today' ? "today's" : "this month's"} Runware spend (spent plus reserved by jobs in ` +
          `flight) reached ${threshold} USD, ${BUDGET_ALARM_SHARE * 100} % of the ${budget.of} budget ` +
          `(${budget.limit} USD). Jobs past the budget are not submitted; raise ${budget.setting} if they must ` +
          `run ${budget.span}.`,
        pipelineMetric(budget.metric, { period: BUDGET_GAUGE_PERIOD, statistic: cloudwatch.Stats.MAXIMUM }),
        threshold,
      );
    }
  }
}
