import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as Unit } from '@aws-lambda-powertools/metrics/types';
import {
  CANCELLED_CODE,
  CODE_DIMENSION,
  FAILURE_CATEGORY_DIMENSION,
  failureCategory,
  METRIC,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  STAGE_DIMENSION,
  STAGE_SPANS,
  type StageSpan,
} from '../contract/metric-names.js';
import { RunwareBusyError } from '../errors.js';
import type { JobRecord } from '../job.js';

/** What the sweep sees of the Runware slots on each run. */
export interface SlotGauge {
  held: number;
  waiting: number;
  /** Age of the oldest waiter's wait, 0 when none waits. */
  oldestWaitSeconds: number;
}

/** What the budget has committed (spent + reserved) in the current UTC month and day, in USD (the sweep). */
export interface BudgetGauge {
  monthUsd: number;
  dayUsd: number;
}

/**
 * The pipeline's metrics (names in `metric-names.ts`), written as CloudWatch Embedded Metric Format lines on
 * stdout through Powertools: CloudWatch Logs turns them into metrics, no API call and no permission needed. Each
 * call is flushed at once, so a handler that throws afterwards still counts, and no handler needs wrapping.
 * Local mode's Lambda host only forwards stdout to its log: the same lines show there.
 */
export class PipelineMetrics {
  constructor(
    private readonly metrics: Metrics = new Metrics({
      namespace: METRICS_NAMESPACE,
      serviceName: METRICS_SERVICE,
    }),
  ) {}

  /** A job was delivered: one count, the time it spent in each stage, and what Runware charged. */
  jobDelivered(job: Pick<JobRecord, 'stages' | 'costUsd'> | undefined): void {
    this.count(METRIC.jobsDelivered);
    if (!job) return;
    for (const [span, seconds] of Object.entries(stageDurations(job.stages))) {
      this.single(STAGE_DIMENSION, span, METRIC.stageSeconds, MetricUnit.Seconds, seconds);
    }
    if (job.costUsd !== undefined) this.emit(METRIC.costUsd, MetricUnit.NoUnit, job.costUsd);
  }

  /**
   * Runware charged for the task of a job cancelled after it accepted the task (`usd`: what this report adds):
   * counted with the cost of delivered jobs, so cost per day is what Runware charged.
   */
  lateCharge(usd: number): void {
    this.emit(METRIC.costUsd, MetricUnit.NoUnit, usd);
  }

  /**
   * A job failed with the error Step Functions saw (`$.error.Error`): counted by category; a failure of Runware's
   * also counts among the Runware errors under its code. A job ended with a cancellation code counts as cancelled.
   */
  jobFailed(errorName: string, code: string): void {
    if (CANCELLED_CODE.test(code)) {
      this.jobCancelled();
      return;
    }
    const category = failureCategory(errorName);
    this.single(FAILURE_CATEGORY_DIMENSION, category, METRIC.jobsFailed, MetricUnit.Count, 1);
    if (category === 'Runware') this.runwareError(code);
  }

  jobCancelled(): void {
    this.count(METRIC.jobsCancelled);
  }

  /** Runware answered with an error (refused, failed, or at capacity), under its code. */
  runwareError(code: string): void {
    this.single(CODE_DIMENSION, code, METRIC.runwareErrors, MetricUnit.Count, 1);
  }

  /** Rethrows `error`, first counting it among the Runware errors when Runware was at capacity (the job waits). */
  rethrow(error: unknown): never {
    if (error instanceof RunwareBusyError) this.runwareError(error.code);
    throw error;
  }

  webhookRefused(): void {
    this.count(METRIC.webhookRefused);
  }

  slots(gauge: SlotGauge): void {
    this.metrics.addMetric(METRIC.slotsHeld, MetricUnit.Count, gauge.held);
    this.metrics.addMetric(METRIC.jobsWaiting, MetricUnit.Count, gauge.waiting);
    this.metrics.addMetric(METRIC.oldestSlotWaitSeconds, MetricUnit.Seconds, gauge.oldestWaitSeconds);
    this.metrics.publishStoredMetrics();
  }

  budget(gauge: BudgetGauge): void {
    this.metrics.addMetric(METRIC.budgetMonthUsd, MetricUnit.NoUnit, gauge.monthUsd);
    this.metrics.addMetric(METRIC.budgetDayUsd, MetricUnit.NoUnit, gauge.dayUsd);
    this.metrics.publishStoredMetrics();
  }

  /** A job took a Runware slot after waiting this long for it (submit, at once: the sweep's gauge is 5-minutely). */
  slotWait(seconds: number): void {
    this.emit(METRIC.oldestSlotWaitSeconds, MetricUnit.Seconds, seconds);
  }

  private count(name: string): void {
    this.emit(name, MetricUnit.Count, 1);
  }

  private emit(name: string, unit: Unit, value: number): void {
    this.metrics.addMetric(name, unit, value);
    this.metrics.publishStoredMetrics();
  }

  /** One metric with a dimension of its own (beside `service`), written at once. */
  private single(dimension: string, value: string, name: string, unit: Unit, amount: number): void {
    const single = this.metrics.singleMetric();
    single.addDimension(dimension, value);
    single.addMetric(name, unit, amount);
  }
}

/** Seconds between the stage times of each span (see `STAGE_SPANS`) the record has both ends of. */
export function stageDurations(stages: JobRecord['stages']): Partial<Record<StageSpan, number>> {
  const durations: Partial<Record<StageSpan, number>> = {};
  for (const [span, [from, to]] of Object.entries(STAGE_SPANS) as [StageSpan, readonly [string, string]][]) {
    const start = stages[from as keyof typeof stages];
    const end = stages[to as keyof typeof stages];
    if (!start || !end) continue;
    const seconds = (Date.parse(end) - Date.parse(start)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) durations[span] = seconds;
  }
  return durations;
}

/** The one instance a function uses. */
export const metrics = new PipelineMetrics();
