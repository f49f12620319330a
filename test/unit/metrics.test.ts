import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { PipelineMetrics, stageDurations } from '../../lambdas/core/aws/metrics';
import {
  failureCategory,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
} from '../../lambdas/core/contract/metric-names';
import { RunwareBusyError, TransientError } from '../../lambdas/core/errors';

interface EmfLine {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

let write: MockInstance<typeof process.stdout.write>;
beforeEach(() => {
  vi.stubEnv('POWERTOOLS_DEV', '');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterEach(() => {
  write.mockRestore();
  vi.unstubAllEnvs();
});

/** Every EMF document written to stdout since the test began. */
function emitted(): EmfLine[] {
  return write.mock.calls
    .map(([chunk]) => String(chunk).trim())
    .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);
}

/** `{ metric name: { value, dimensions } }` of what was emitted. */
function metricsOf(lines: EmfLine[]) {
  return lines.flatMap((line) =>
    line._aws.CloudWatchMetrics.flatMap((set) =>
      set.Metrics.map((m) => ({
        name: m.Name,
        unit: m.Unit,
        value: line[m.Name],
        namespace: set.Namespace,
        dimensions: Object.fromEntries((set.Dimensions[0] ?? []).map((d) => [d, line[d]])),
      })),
    ),
  );
}

describe('the pipeline metrics', () => {
  it('writes each metric at once as an EMF line in the pipeline namespace, with the service dimension', () => {
    new PipelineMetrics().webhookRefused();
    expect(metricsOf(emitted())).toEqual([
      {
        name: 'WebhookRefused',
        unit: 'Count',
        value: 1,
        namespace: METRICS_NAMESPACE,
        dimensions: { service: METRICS_SERVICE },
      },
    ]);
  });

  it('counts a failed job under its category, and a Runware failure under its code too', () => {
    const metrics = new PipelineMetrics();
    metrics.jobFailed('ValidationError', 'IMAGE_TOO_SMALL');
    metrics.jobFailed('RunwareTaskError', 'RUNWARE_CONTENT_REJECTED');
    metrics.jobFailed('States.Timeout', 'STEP_TIMEOUT');
    expect(metricsOf(emitted()).map((m) => [m.name, m.dimensions])).toEqual([
      ['JobsFailed', { service: METRICS_SERVICE, Category: 'InputRefused' }],
      ['JobsFailed', { service: METRICS_SERVICE, Category: 'Runware' }],
      ['RunwareErrors', { service: METRICS_SERVICE, Code: 'RUNWARE_CONTENT_REJECTED' }],
      ['JobsFailed', { service: METRICS_SERVICE, Category: 'Pipeline' }],
    ]);
  });

  it('counts a job that ended cancelled as cancelled, not failed', () => {
    new PipelineMetrics().jobFailed('Execution.ABORTED', 'JOB_CANCELLED');
    expect(metricsOf(emitted()).map((m) => m.name)).toEqual(['JobsCancelled']);
  });

  it('reports a delivered job with its stage durations and cost', () => {
    new PipelineMetrics().jobDelivered({
      costUsd: 0.87,
      stages: {
        RECEIVED: '2026-01-01T00:00:00.000Z',
        VALIDATED: '2026-01-01T00:00:12.000Z',
        QUEUED: '2026-01-01T00:00:13.000Z',
        SUBMITTED: '2026-01-01T00:01:12.000Z',
        GENERATED: '2026-01-01T00:03:12.000Z',
        DELIVERED: '2026-01-01T00:03:15.500Z',
      },
    });
    const byName = metricsOf(emitted()).map((m) => [m.name, m.dimensions.Stage ?? null, m.value]);
    expect(byName).toEqual([
      ['JobsDelivered', null, 1],
      ['StageSeconds', 'Validate', 12],
      ['StageSeconds', 'Submit', 60],
      ['StageSeconds', 'Generate', 120],
      ['StageSeconds', 'Deliver', 3.5],
      ['StageSeconds', 'Total', 195.5],
      ['CostUsd', null, 0.87],
    ]);
  });

  it('rethrows what submit throws, counting Runware at capacity under its code', () => {
    const metrics = new PipelineMetrics();
    const busy = new RunwareBusyError('RUNWARE_BUSY', 'Runware answered 429.');
    expect(() => metrics.rethrow(busy)).toThrow(busy);
    expect(() => metrics.rethrow(new TransientError('NETWORK', 'reset'))).toThrow('reset');
    expect(metricsOf(emitted()).map((m) => [m.name, m.dimensions.Code])).toEqual([
      ['RunwareErrors', 'RUNWARE_BUSY'],
    ]);
  });

  it('writes the slot gauges together', () => {
    new PipelineMetrics().slots({ held: 3, waiting: 2, oldestWaitSeconds: 640 });
    expect(metricsOf(emitted()).map((m) => [m.name, m.value])).toEqual([
      ['SlotsHeld', 3],
      ['JobsWaitingForSlot', 2],
      ['OldestSlotWaitSeconds', 640],
    ]);
  });

  it('writes the budget gauges together, and a late charge as cost', () => {
    const metrics = new PipelineMetrics();
    metrics.budget({ monthUsd: 41.2, dayUsd: 3.5 });
    metrics.lateCharge(0.261);
    expect(metricsOf(emitted()).map((m) => [m.name, m.value, m.dimensions])).toEqual([
      ['BudgetMonthUsd', 41.2, { service: METRICS_SERVICE }],
      ['BudgetDayUsd', 3.5, { service: METRICS_SERVICE }],
      ['CostUsd', 0.261, { service: METRICS_SERVICE }],
    ]);
  });
});

describe('stageDurations', () => {
  it('leaves out the spans whose ends the record lacks', () => {
    expect(stageDurations({ RECEIVED: '2026-01-01T00:00:00Z', VALIDATED: '2026-01-01T00:00:05Z' })).toEqual({
      Validate: 5,
    });
  });
});

describe('failureCategory', () => {
  it.each([
    ['ValidationError', 'InputRefused'],
    ['RunwareRejectedError', 'Runware'],
    ['RunwareTaskError', 'Runware'],
    ['DeliveryError', 'Pipeline'],
    ['WaitDeadlineError', 'Pipeline'],
    ['Lambda.Unknown', 'Pipeline'],
    ['Execution.TIMED_OUT', 'Pipeline'],
    ['Execution.ABORTED', 'Stopped'],
    ['toString', 'Pipeline'],
  ])('puts %s under %s', (name, category) => {
    expect(failureCategory(name)).toBe(category);
  });
});
