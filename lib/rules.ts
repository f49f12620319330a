import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CONSTRUCT_IDS } from './construct-ids';

export interface PipelineRulesProps {
  /** Its `inbox/` events start jobs. */
  readonly inputBucket: IBucket;
  /** Its executions that end without reaching the fail step are closed. */
  readonly stateMachine: IStateMachine;
  readonly ingest: IFunction;
  readonly fail: IFunction;
  readonly sweep: IFunction;
  /** Where EventBridge puts events it could not deliver to ingest or fail. */
  readonly deadLetterQueue: IQueue;
}

/** How often lone inbox files are checked against `orphanAfterSeconds`. */
export const ORPHAN_SWEEP_INTERVAL = Duration.minutes(5);

/**
 * Execution statuses that end a run without passing through the fail step. ABORTED is also how an operator's
 * `avatar-pipeline cancel` ends a run: the fail function then ends the job CANCELLED (see lambdas/core/cancel.ts).
 */
const UNHANDLED_END_STATUSES = ['TIMED_OUT', 'ABORTED'];

/**
 * The EventBridge rules around the workflow: S3 `Object Created` / `Object Deleted` under `inbox/` -> ingest;
 * executions that timed out or were aborted -> fail; a schedule -> the orphan sweep. Local mode reads these rules
 * (patterns, targets, retry policy) from the synthesized template.
 */
export class PipelineRules extends Construct {
  readonly ingestRule: events.Rule;
  readonly executionEndedRule: events.Rule;
  readonly orphanSweepRule: events.Rule;

  constructor(scope: Construct, id: string, props: PipelineRulesProps) {
    super(scope, id);
    const targetOptions = {
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 4,
      maxEventAge: Duration.hours(2),
    } satisfies targets.LambdaFunctionProps;

    this.ingestRule = new events.Rule(this, CONSTRUCT_IDS.rules.ingestRule, {
      description: 'avatar-pipeline: a file landed under inbox/ in the input bucket',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created', 'Object Deleted'],
        detail: {
          bucket: { name: [props.inputBucket.bucketName] },
          object: { key: events.Match.prefix('inbox/') },
        },
      },
      targets: [new targets.LambdaFunction(props.ingest, targetOptions)],
    });

    this.executionEndedRule = new events.Rule(this, CONSTRUCT_IDS.rules.executionEndedRule, {
      description: 'avatar-pipeline: an execution timed out or was aborted; record the job as failed',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: UNHANDLED_END_STATUSES, stateMachineArn: [props.stateMachine.stateMachineArn] },
      },
      targets: [new targets.LambdaFunction(props.fail, targetOptions)],
    });

    this.orphanSweepRule = new events.Rule(this, CONSTRUCT_IDS.rules.orphanSweepRule, {
      description: 'avatar-pipeline: report lone inbox files whose partner never arrived',
      schedule: events.Schedule.rate(ORPHAN_SWEEP_INTERVAL),
      targets: [new targets.LambdaFunction(props.sweep, { retryAttempts: 2 })],
    });
  }
}
