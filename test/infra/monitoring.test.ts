import type { CfnResource } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../../lambdas/core/contract/metric-names';
import { functionConstructId, PIPELINE_FUNCTION_NAMES } from '../../lib/function-names';
import { build, type Synthesized, synth } from './synth';

/** The alarms, dashboard and job notifications: what each alarm watches and when it fires, what the dashboard shows. */

interface AlarmProps {
  AlarmDescription: string;
  Namespace: string;
  MetricName: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Statistic: string;
  Period: number;
  Threshold: number;
  ComparisonOperator: string;
  TreatMissingData: string;
  AlarmActions: unknown[];
}

const logicalId = (from: Synthesized, construct: { node: { defaultChild?: unknown } }): string =>
  from.stack.getLogicalId(construct.node.defaultChild as CfnResource);

/** The alarm whose construct id is `id` (under Monitoring). */
function alarmOf(from: Synthesized, id: string): AlarmProps {
  const alarm = from.stack.monitoring.alarms.find((a) => a.node.id === id);
  if (!alarm)
    throw new Error(`no alarm ${id}: ${from.stack.monitoring.alarms.map((a) => a.node.id).join(', ')}`);
  return from.template.toJSON().Resources[logicalId(from, alarm)].Properties as AlarmProps;
}

const dims = (alarm: AlarmProps) =>
  Object.fromEntries((alarm.Dimensions ?? []).map((d) => [d.Name, d.Value]));

/** The dashboard body as JSON, references replaced by their logical ids. */
function dashboardOf(from: Synthesized): { widgets: Widget[] } {
  const resources = from.template.findResources('AWS::CloudWatch::Dashboard');
  const [dashboard] = Object.values(resources) as { Properties: { DashboardBody: unknown } }[];
  const text = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const node = value as Record<string, unknown>;
    if ('Fn::Join' in node) return (node['Fn::Join'] as [string, unknown[]])[1].map(text).join('');
    if ('Ref' in node) return String(node.Ref);
    throw new Error(`unexpected ${JSON.stringify(value)}`);
  };
  return JSON.parse(text(dashboard?.Properties.DashboardBody)) as { widgets: Widget[] };
}
interface Widget {
  type: string;
  properties: {
    title?: string;
    metrics?: unknown[][];
    annotations?: { horizontal?: { value: number; label: string; yAxis?: string }[] };
  };
}
const widget = (body: { widgets: Widget[] }, title: RegExp): Widget => {
  const found = body.widgets.find((w) => title.test(w.properties.title ?? ''));
  if (!found)
    throw new Error(`no widget ${title}: ${body.widgets.map((w) => w.properties.title).join(', ')}`);
  return found;
};
/** `[namespace, name, dimension, value, ...]` rows of a widget's metrics (options objects left out). */
const rows = (w: Widget) =>
  (w.properties.metrics ?? []).map((m) => m.filter((part) => typeof part === 'string'));

let s: Synthesized;
let budget: Synthesized;
beforeAll(() => {
  s = synth();
  budget = synth({
    dailyBudgetUsd: '50',
    monthlyBudgetUsd: '1000',
    slotWaitAlarmSeconds: '600',
    notificationEmail: 'team@example.com',
  });
});

describe('alarms', () => {
  it('sends every alarm to the alarm topic, with a description that says what to do', () => {
    for (const alarm of s.stack.monitoring.alarms) {
      const props = alarmOf(s, alarm.node.id);
      expect(props.AlarmActions, alarm.node.id).toEqual([{ Ref: logicalId(s, s.stack.monitoring.topic) }]);
      expect(props.AlarmDescription, alarm.node.id).toMatch(/^avatar-pipeline: .{40,}/);
      expect(props.TreatMissingData, alarm.node.id).toBe('notBreaching');
    }
  });

  it('alarms on a crash of each function (refused input is no longer a validate error)', () => {
    for (const name of PIPELINE_FUNCTION_NAMES) {
      const alarm = alarmOf(s, `${functionConstructId(name)}Errors`);
      expect(alarm, name).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Statistic: 'Sum',
        Threshold: 1,
      });
      expect(dims(alarm).FunctionName, name).toEqual({ Ref: logicalId(s, s.stack.pipeline.functions[name]) });
    }
    expect(alarmOf(s, `${functionConstructId('validate')}Errors`).AlarmDescription).toContain(
      'refused input is not counted',
    );
  });

  it('alarms on jobs that failed for Runware or the pipeline, never for refused input or an operator stop', () => {
    const failed = s.stack.monitoring.alarms
      .map((a) => alarmOf(s, a.node.id))
      .filter((a) => a.MetricName === 'JobsFailed');
    expect(failed.map((a) => dims(a))).toEqual([
      { service: METRICS_SERVICE, Category: 'Runware' },
      { service: METRICS_SERVICE, Category: 'Pipeline' },
    ]);
    for (const alarm of failed) {
      expect(alarm).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
      });
    }
  });

  it('alarms on timed-out executions and on messages in the dead-letter queue', () => {
    expect(alarmOf(s, 'ExecutionsTimedOut')).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsTimedOut',
      Threshold: 1,
    });
    expect(alarmOf(s, 'EventsDeadLetterQueueMessages')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Threshold: 1,
    });
  });

  it('alarms on a burst of 20 refused webhooks in 5 minutes', () => {
    expect(alarmOf(s, 'WebhookRefusedBurst')).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: 'WebhookRefused',
      Dimensions: [{ Name: 'service', Value: METRICS_SERVICE }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 20,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarms when a job has waited for a slot past slotWaitAlarmSeconds', () => {
    const expected = {
      Namespace: METRICS_NAMESPACE,
      MetricName: 'OldestSlotWaitSeconds',
      Statistic: 'Maximum',
      Period: 300,
    };
    expect(alarmOf(s, 'SlotWaitTooLong')).toMatchObject({ ...expected, Threshold: 1800 });
    expect(alarmOf(budget, 'SlotWaitTooLong')).toMatchObject({ ...expected, Threshold: 600 });
  });

  it.each([
    [
      'DailyBudgetNearlySpent',
      'dailyBudgetUsd',
      { MetricName: 'BudgetDayUsd', Statistic: 'Maximum', Period: 900, Threshold: 40 },
    ],
    // Spent + reserved, as the sweep's gauges say it (CloudWatch cannot sum a calendar day or month).
    [
      'MonthlyBudgetNearlySpent',
      'monthlyBudgetUsd',
      { MetricName: 'BudgetMonthUsd', Statistic: 'Maximum', Period: 900, Threshold: 800 },
    ],
  ])('alarms with %s at 80 %% of %s, and only when it is set', (id, setting, metric) => {
    expect(s.stack.monitoring.alarms.map((a) => a.node.id)).not.toContain(id);
    const alarm = alarmOf(budget, id);
    expect(alarm).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      Dimensions: [{ Name: 'service', Value: METRICS_SERVICE }],
      ...metric,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: logicalId(budget, budget.stack.monitoring.topic) }],
    });
    expect(alarm.AlarmDescription).toContain(setting);
  });

  it('alarms on the monthly budget alone when only monthlyBudgetUsd is set', () => {
    const monthlyOnly = synth({ monthlyBudgetUsd: '20' });
    expect(alarmOf(monthlyOnly, 'MonthlyBudgetNearlySpent').Threshold).toBe(16);
    expect(monthlyOnly.stack.monitoring.alarms.map((a) => a.node.id)).not.toContain('DailyBudgetNearlySpent');
  });
});

describe('dashboard', () => {
  it('shows jobs by how they ended', () => {
    expect(rows(widget(dashboardOf(s), /^Jobs by how they ended/))).toEqual([
      [METRICS_NAMESPACE, 'JobsDelivered', 'service', METRICS_SERVICE],
      [METRICS_NAMESPACE, 'JobsFailed', 'Category', 'InputRefused', 'service', METRICS_SERVICE],
      [METRICS_NAMESPACE, 'JobsFailed', 'Category', 'Runware', 'service', METRICS_SERVICE],
      [METRICS_NAMESPACE, 'JobsFailed', 'Category', 'Stopped', 'service', METRICS_SERVICE],
      [METRICS_NAMESPACE, 'JobsFailed', 'Category', 'Pipeline', 'service', METRICS_SERVICE],
      [METRICS_NAMESPACE, 'JobsCancelled', 'service', METRICS_SERVICE],
    ]);
  });

  it('shows the duration of each stage', () => {
    const stages = rows(widget(dashboardOf(s), /^Stage durations/)).map((r) => r[3]);
    expect(stages).toEqual(['Validate', 'Submit', 'Generate', 'Deliver', 'Total']);
  });

  it('shows tasks in flight, jobs waiting for a slot and the oldest wait against its alarm', () => {
    const slots = widget(dashboardOf(s), /^Runware tasks in flight/);
    expect(rows(slots).map((r) => r[1])).toEqual([
      'SlotsHeld',
      'JobsWaitingForSlot',
      'OldestSlotWaitSeconds',
    ]);
    expect(slots.properties.annotations?.horizontal).toEqual([
      expect.objectContaining({ value: 1800, yAxis: 'right' }),
    ]);
  });

  it('shows Runware errors by code, refused webhooks and the errors of every function', () => {
    const body = dashboardOf(s);
    const runware = JSON.stringify(widget(body, /^Runware errors by code/).properties.metrics);
    expect(runware).toContain(`SEARCH('{${METRICS_NAMESPACE},service,Code} MetricName=\\"RunwareErrors\\"`);
    const webhooks = widget(body, /^Refused webhook requests/);
    expect(rows(webhooks)).toEqual([[METRICS_NAMESPACE, 'WebhookRefused', 'service', METRICS_SERVICE]]);
    expect(webhooks.properties.annotations?.horizontal).toEqual([expect.objectContaining({ value: 20 })]);
    expect(rows(widget(body, /^Function errors/)).map((r) => r[1])).toEqual(
      PIPELINE_FUNCTION_NAMES.map(() => 'Errors'),
    );
  });

  it('shows cost per day, against the daily budget when one is set', () => {
    const plain = widget(dashboardOf(s), /^Cost per day/);
    expect(rows(plain)).toEqual([[METRICS_NAMESPACE, 'CostUsd', 'service', METRICS_SERVICE]]);
    expect(plain.properties.annotations?.horizontal ?? []).toEqual([]);
    const withBudget = widget(dashboardOf(budget), /^Cost per day/);
    expect(withBudget.properties.annotations?.horizontal).toEqual([
      expect.objectContaining({ value: 50, label: 'daily budget' }),
      expect.objectContaining({ value: 40 }),
    ]);
  });

  it("shows the month's and the day's spent + reserved against the monthly and daily budgets", () => {
    const plain = widget(dashboardOf(s), /^Budget committed/);
    expect(rows(plain)).toEqual([
      [METRICS_NAMESPACE, 'BudgetMonthUsd', 'service', METRICS_SERVICE],
      [METRICS_NAMESPACE, 'BudgetDayUsd', 'service', METRICS_SERVICE],
    ]);
    expect(plain.properties.annotations?.horizontal ?? []).toEqual([]);
    expect(widget(dashboardOf(budget), /^Budget committed/).properties.annotations?.horizontal).toEqual([
      expect.objectContaining({ value: 1000, label: 'monthly budget' }),
      expect.objectContaining({ value: 800 }),
      expect.objectContaining({ value: 50, label: 'daily budget', yAxis: 'right' }),
    ]);
  });
});

describe('job notifications (notificationEmail)', () => {
  it('creates no topic or rule for job events without the setting', () => {
    expect(s.stack.notifications).toBeUndefined();
    expect(JSON.stringify(s.template.findResources('AWS::Events::Rule'))).not.toContain('JobSucceeded');
    expect(Object.keys(s.template.findResources('AWS::SNS::Topic'))).toHaveLength(1); // the alarm topic
  });

  it('e-mails JobSucceeded, JobFailed and JobCancelled through an encrypted topic', () => {
    const notifications = budget.stack.notifications;
    if (!notifications) throw new Error('no notifications');
    const topic = logicalId(budget, notifications.topic);
    budget.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['avatar-pipeline'],
        'detail-type': ['JobSucceeded', 'JobFailed', 'JobCancelled'],
      },
      Targets: [Match.objectLike({ Arn: { Ref: topic } })],
    });
    budget.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'team@example.com',
      TopicArn: { Ref: topic },
    });
    budget.template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('JobNotificationsTopicKey'), 'Arn'] },
    });
    budget.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'events.amazonaws.com' } })]),
      },
    });
  });

  it('stays cdk-nag clean with the setting', () => {
    const built = build({ notificationEmail: 'team@example.com', dailyBudgetUsd: '50' });
    const violations = new AwsSolutionsChecks(undefined, { verbose: true })
      .validateScope(built.stack)
      .violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(violations).toEqual([]);
  });
});

describe('monitoring settings', () => {
  it.each([
    [{ notificationEmail: 'not an address' }, 'notificationEmail'],
    [{ slotWaitAlarmSeconds: '5' }, 'slotWaitAlarmSeconds'],
    [{ dailyBudgetUsd: '-1' }, 'dailyBudgetUsd'],
    [{ monthlyBudgetUsd: 'lots' }, 'monthlyBudgetUsd'],
  ])('fails synth on %o, naming %s', (context, name) => {
    expect(() => synth(context)).toThrow(new RegExp(`Invalid setting "${name}"`));
  });
});
