import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../lambdas/core/contract/metric-names';

/**
 * One of the pipeline's own metrics (`lambdas/core/contract/metric-names.ts`), as the functions emit it: in the pipeline's
 * namespace, with the `service` dimension Powertools adds and the metric's own dimension, if any.
 */
export function pipelineMetric(
  metricName: string,
  options: {
    readonly statistic: string;
    readonly period: Duration;
    readonly dimensions?: Readonly<Record<string, string>>;
    readonly label?: string;
  },
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: METRICS_SERVICE, ...options.dimensions },
    statistic: options.statistic,
    period: options.period,
    ...(options.label ? { label: options.label } : {}),
  });
}

/**
 * Every value of a metric that has one dimension beside `service` whose values are open-ended (Runware's error
 * codes), as a CloudWatch SEARCH expression: one line per value that occurred.
 */
export function searchByDimension(
  metricName: string,
  dimension: string,
  statistic: string,
  period: Duration,
  label: string,
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression:
      `SEARCH('{${METRICS_NAMESPACE},service,${dimension}} MetricName="${metricName}" ` +
      `service="${METRICS_SERVICE}"', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    label,
    period,
  });
}
