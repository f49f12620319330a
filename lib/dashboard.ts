import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  CODE_DIMENSION,
  FAILURE_CATEGORIES,
  FAILURE_CATEGORY_DIMENSION,
  METRIC,
  STAGE_DIMENSION,
  STAGE_SPANS,
  type StageSpan,
} from '../lambdas/core/contract/metric-names';
import type { PipelineFunctionName } from './function-names';
import { BUDGET_ALARM_SHARE, BUDGET_GAUGE_PERIOD } from './monitoring';
import { pipelineMetric, searchByDimension } from './pipeline-metrics';

export interface DashboardProps {
  /** Functions whose errors are graphed, by name. */
  readonly functions: Readonly<Partial<Record<PipelineFunctionName, IFunction>>>;
  /** Drawn on the slot-wait graph: where the `SlotWaitTooLong` alarm fires. */
  readonly slotWaitAlarmSeconds: number;
  /** Drawn on the refused-webhooks graph: where the `WebhookRefusedBurst` alarm fires. */
  readonly webhookRefusedThreshold: number;
  /**
   * Drawn on the cost-per-day graph.
   * @default - no budget line
   */
  readonly dailyBudgetUsd?: number;
  /**
   * Drawn on the budget graph, with the `MonthlyBudgetNearlySpent` alarm's threshold.
   * @default - no monthly budget line
   */
  readonly monthlyBudgetUsd?: number;
  /**
   * Period of the graphs (cost is always per day).
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

/**
 * One CloudWatch dashboard of the pipeline, from the metrics the functions emit (`lambdas/core/contract/metric-names.ts`):
 * jobs by how they ended, stage durations, tasks in flight and jobs waiting for a slot, Runware errors by code,
 * refused webhooks, function errors, cost per day against the daily budget, and what the month and the day have
 * committed (the sweep's gauges) against the budgets.
 */
export class Dashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const sum = (name: string, label: string, dimensions?: Record<string, string>) =>
      pipelineMetric(name, {
        statistic: cloudwatch.Stats.SUM,
        period,
        label,
        ...(dimensions ? { dimensions } : {}),
      });
    const max = (name: string, label: string) =>
      pipelineMetric(name, { statistic: cloudwatch.Stats.MAXIMUM, period, label });

    const jobs = new cloudwatch.GraphWidget({
      title: 'Jobs by how they ended',
      width: 12,
      stacked: true,
      left: [
        sum(METRIC.jobsDelivered, 'Delivered'),
        ...FAILURE_CATEGORIES.map((category) =>
          sum(METRIC.jobsFailed, `Failed: ${category}`, { [FAILURE_CATEGORY_DIMENSION]: category }),
        ),
        sum(METRIC.jobsCancelled, 'Cancelled'),
      ],
    });
    const stages = new cloudwatch.GraphWidget({
      title: 'Stage durations of delivered jobs (average, seconds)',
      width: 12,
      left: (Object.keys(STAGE_SPANS) as StageSpan[]).map((stage) =>
        pipelineMetric(METRIC.stageSeconds, {
          statistic: cloudwatch.Stats.AVERAGE,
          period,
          label: stage,
          dimensions: { [STAGE_DIMENSION]: stage },
        }),
      ),
      leftYAxis: { min: 0, label: 'seconds', showUnits: false },
    });
    const slots = new cloudwatch.GraphWidget({
      title: 'Runware tasks in flight and jobs waiting for a slot',
      width: 12,
      left: [max(METRIC.slotsHeld, 'Tasks in flight (slots held)'), max(METRIC.jobsWaiting, 'Jobs waiting')],
      right: [max(METRIC.oldestSlotWaitSeconds, 'Oldest wait (s)')],
      rightAnnotations: [
        { value: props.slotWaitAlarmSeconds, label: 'slot-wait alarm', color: cloudwatch.Color.RED },
      ],
      leftYAxis: { min: 0, showUnits: false },
      rightYAxis: { min: 0, label: 'seconds', showUnits: false },
    });
    const runware = new cloudwatch.GraphWidget({
      title: 'Runware errors by code',
      width: 12,
      left: [searchByDimension(METRIC.runwareErrors, CODE_DIMENSION, cloudwatch.Stats.SUM, period, '[Code]')],
    });
    const webhooks = new cloudwatch.GraphWidget({
      title: 'Refused webhook requests',
      width: 12,
      left: [sum(METRIC.webhookRefused, 'Refused')],
      leftAnnotations: [
        { value: props.webhookRefusedThreshold, label: 'burst alarm', color: cloudwatch.Color.RED },
      ],
    });
    const errors = new cloudwatch.GraphWidget({
      title: 'Function errors (crashes, timeouts; refused input is not one)',
      width: 12,
      left: (Object.entries(props.functions) as [PipelineFunctionName, IFunction][]).map(([name, fn]) =>
        fn.metricErrors({ period, statistic: cloudwatch.Stats.SUM, label: name }),
      ),
    });
    const budget = props.dailyBudgetUsd;
    const cost = new cloudwatch.GraphWidget({
      title: 'Cost per day (USD)',
      width: 24,
      view: cloudwatch.GraphWidgetView.BAR,
      period: Duration.days(1),
      left: [
        pipelineMetric(METRIC.costUsd, {
          statistic: cloudwatch.Stats.SUM,
          period: Duration.days(1),
          label: 'Charged by Runware (delivered jobs, and cancelled ones charged late)',
        }),
      ],
      leftAnnotations:
        budget === undefined
          ? []
          : [
              { value: budget, label: 'daily budget', color: cloudwatch.Color.RED },
              {
                value: Math.round(budget * 80) / 100,
                label: 'budget alarm (80 %)',
                color: cloudwatch.Color.ORANGE,
              },
            ],
      leftYAxis: { min: 0, label: 'USD', showUnits: false },
    });

    const monthly = props.monthlyBudgetUsd;
    const gauge = (name: string, label: string) =>
      pipelineMetric(name, { statistic: cloudwatch.Stats.MAXIMUM, period: BUDGET_GAUGE_PERIOD, label });
    const committed = new cloudwatch.GraphWidget({
      title: 'Budget committed: spent + reserved this UTC month and day (USD)',
      width: 24,
      left: [gauge(METRIC.budgetMonthUsd, 'This month')],
      right: [gauge(METRIC.budgetDayUsd, 'Today')],
      leftAnnotations:
        monthly === undefined
          ? []
          : [
              { value: monthly, label: 'monthly budget', color: cloudwatch.Color.RED },
              {
                value: Math.round(monthly * BUDGET_ALARM_SHARE * 100) / 100,
                label: 'monthly budget alarm (80 %)',
                color: cloudwatch.Color.ORANGE,
              },
            ],
      rightAnnotations:
        budget === undefined
          ? []
          : [{ value: budget, label: 'daily budget', color: cloudwatch.Color.PURPLE }],
      leftYAxis: { min: 0, label: 'USD', showUnits: false },
      rightYAxis: { min: 0, label: 'USD', showUnits: false },
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
      widgets: [
        [
          new cloudwatch.TextWidget({
            markdown:
              '# avatar-pipeline\nJobs, stages, Runware slots and cost. Alarms and what to do for each: ' +
              'docs/monitoring.md. Job events: docs/events.md.',
            width: 24,
            height: 2,
          }),
        ],
        [jobs, stages],
        [slots, runware],
        [webhooks, errors],
        [cost],
        [committed],
      ],
    });
  }
}
