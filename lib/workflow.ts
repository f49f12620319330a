import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { CANCEL_STOP_ERROR } from '../lambdas/core/cancel';
import { JOB_EVENT_SOURCE, JOB_EVENT_VERSION } from '../lambdas/core/contract/job-events';
import { TRANSIENT_ERROR_NAMES } from '../lambdas/core/errors';
import { CONSTRUCT_IDS } from './construct-ids';
import { TRANSIENT_RETRY } from './delivery-window';
import { acknowledge, wildcardResource } from './nag';
import type { PipelineFunction, PipelineFunctionName } from './pipeline-function';
import type { PipelineFunctionsByName } from './pipeline-functions';
import type { Settings } from './settings';
import { slotWait } from './slot-wait';

export interface WorkflowProps {
  /** The functions the steps invoke (see `PipelineFunctions`). */
  readonly functions: PipelineFunctionsByName;
  /** Deploy-time settings (see `lib/settings.ts`). */
  readonly settings: Settings;
}

/**
 * Errors retried with backoff by every Lambda step: Lambda's own transient failures, a function that crashed or
 * ran out of time (every step is idempotent, and submit reuses its task UUID), plus our `TransientError`.
 */
export const RETRIED_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.Unknown',
  'Sandbox.Timedout',
  'Runtime.ExitError',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  ...TRANSIENT_ERROR_NAMES,
];

/** `source` of the JobSucceeded / JobFailed events the pipeline puts on the default bus (docs/events.md). */
export const EVENT_SOURCE = JOB_EVENT_SOURCE;

/**
 * The state machine that drives one job attempt, and what it needs from the functions: ingest may start it,
 * submit and the webhook may answer its task tokens.
 */
export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const { settings } = props;
    const { ingest, validate, submit, webhook, poll, record, deliver, fail } = props.functions;

    const retryTransient = <T extends sfn.TaskStateBase>(task: T): T => {
      // The `ttl` bounds are computed from these numbers (lib/delivery-window.ts): change them there.
      task.addRetry({
        errors: RETRIED_ERRORS,
        interval: Duration.seconds(TRANSIENT_RETRY.intervalSeconds),
        backoffRate: TRANSIENT_RETRY.backoffRate,
        maxAttempts: TRANSIENT_RETRY.maxAttempts,
        jitterStrategy: sfn.JitterType.FULL,
      });
      return task;
    };
    const invoke = (
      id: string,
      lambda: PipelineFunction,
      payload: Record<string, unknown>,
      resultPath: string,
    ) =>
      retryTransient(
        new tasks.LambdaInvoke(this, id, {
          lambdaFunction: lambda,
          payload: sfn.TaskInput.fromObject(payload),
          payloadResponseOnly: true,
          retryOnServiceExceptions: false,
          taskTimeout: sfn.Timeout.duration(lambda.taskTimeout),
          resultPath,
        }),
      );
    const publish = (id: string, detailType: string, detail: Record<string, unknown>) =>
      new tasks.EventBridgePutEvents(this, id, {
        entries: [{ source: EVENT_SOURCE, detailType, detail: sfn.TaskInput.fromObject(detail) }],
        taskTimeout: sfn.Timeout.duration(Duration.seconds(30)),
        resultPath: sfn.JsonPath.DISCARD,
      }).addRetry({
        errors: ['States.ALL'],
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 4,
        jitterStrategy: sfn.JitterType.FULL,
      });
    const job = { 'jobId.$': '$.jobId', 'attempt.$': '$.attempt' };
    const withStem = { ...job, 'stem.$': '$.stem' };
    const catchAll = { errors: ['States.ALL'], resultPath: '$.error' };

    const settle = new sfn.Wait(this, 'Settle', {
      time: sfn.WaitTime.duration(Duration.seconds(settings.settleSeconds)),
    });
    const validateStep = invoke('Validate', validate, withStem, '$.validated');
    // Refused input is a result of validate, not an error (it must not count among the function's alarmed Errors):
    // it goes to the fail step with `$.error` shaped as a Catch would have put it.
    const isRefused = new sfn.Choice(this, 'IsRefused');
    const refused = new sfn.Pass(this, 'Refused', {
      parameters: { 'Error.$': '$.validated.refused.Error', 'Cause.$': '$.validated.refused.Cause' },
      resultPath: '$.error',
    });
    const wait = slotWait(settings.hardDeadlineSeconds);
    // Waiting for a Runware slot without a state transition: the step's token waits on the job's place in the queue
    // until a freed slot wakes it (lib/slot-wait.ts); a timeout only makes it ask again.
    const waitForSlotTask = new tasks.LambdaInvoke(this, 'WaitForSlot', {
      lambdaFunction: submit,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({ ...job, taskToken: sfn.JsonPath.taskToken, waitForSlot: true }),
      retryOnServiceExceptions: false,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(wait.wakeTimeoutSeconds)),
      resultPath: sfn.JsonPath.DISCARD,
    });
    waitForSlotTask.addRetry({
      errors: ['States.Timeout'],
      interval: Duration.seconds(1),
      backoffRate: 1,
      maxAttempts: wait.wakeMaxAttempts,
    });
    const waitForSlotStep = retryTransient(waitForSlotTask);
    const submitTask = new tasks.LambdaInvoke(this, 'Submit', {
      lambdaFunction: submit,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({ ...job, taskToken: sfn.JsonPath.taskToken }),
      retryOnServiceExceptions: false,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(settings.waitTimeoutSeconds)),
      resultPath: '$.generation',
    });
    // Waiting for Runware to take work again: retried until the job's hard deadline, where the submit function ends
    // the wait itself (see lib/slot-wait.ts for the history-size budget). No slot (NoSlotError): back to WaitForSlot.
    submitTask.addRetry({
      errors: ['RunwareBusyError'],
      interval: Duration.seconds(wait.intervalSeconds),
      backoffRate: wait.backoffRate,
      maxDelay: Duration.seconds(wait.maxDelaySeconds),
      maxAttempts: wait.maxAttempts,
      jitterStrategy: sfn.JitterType.FULL,
    });
    const submitStep = retryTransient(submitTask);
    const pollStep = invoke('Poll', poll, job, '$.poll');
    const isGenerated = new sfn.Choice(this, 'IsGenerated');
    const waitBeforePoll = new sfn.Wait(this, 'WaitBeforePoll', {
      time: sfn.WaitTime.secondsPath('$.poll.waitSeconds'),
    });
    const recordStep = invoke('Record', record, job, '$.recorded');
    const deliverStep = invoke('Deliver', deliver, job, '$.delivery');
    // Event details are versioned (docs/events.md, lambdas/core/contract/job-events.ts): a new field keeps the version.
    const version = { version: JOB_EVENT_VERSION };
    const publishSucceeded = publish('PublishSucceeded', 'JobSucceeded', {
      ...version,
      ...withStem,
      'outputs.$': '$.delivery.outputs',
      'recordKey.$': '$.delivery.recordKey',
      'shown.$': '$.delivery.shown',
      'outputCheck.$': '$.delivery.outputCheck',
    });
    const failStep = invoke('Fail', fail, { ...withStem, 'error.$': '$.error' }, '$.failure');
    const publishFailed = publish('PublishFailed', 'JobFailed', {
      ...version,
      ...withStem,
      'code.$': '$.failure.code',
      'message.$': '$.failure.message',
      'stage.$': '$.failure.stage',
      'errorKey.$': '$.failure.errorKey',
    });

    // Steps of one job (execution input: { jobId, attempt, stem }):
    //  1. Settle: wait settleSeconds, so a sidecar uploaded with the pair is there before validation.
    //  2. Validate: sizes, real file types, dimensions, duration, sidecar -> $.validated. Bad input ends here, unbilled:
    //     IsRefused ($.validated.refused) -> Refused (copies it to $.error) -> Fail.
    //  3. WaitForSlot (waitForTaskToken): take a Runware slot, or QUEUED: leave the token in the queue until a freed
    //     slot wakes it (a timeout asks again), until the hard deadline.
    //     Submit (waitForTaskToken): store token + taskUUID, call Runware; the webhook completes the task
    //     -> $.generation. No slot after all (NoSlotError) -> WaitForSlot. Runware busy (RunwareBusyError): slot
    //     given back, retried with backoff until the hard deadline. States.Timeout (no webhook within
    //     waitTimeoutSeconds) -> 4.
    //  4. Poll loop: Poll -> IsGenerated -> Record, or WaitBeforePoll ($.poll.waitSeconds) -> Poll. Poll throws
    //     DeadlineExceededError past the job's hard deadline.
    //  5. Record: store videoUUID, videoURL, cost, seed -> $.recorded.
    //  6. Deliver: stream the video(s) into the output bucket, write <stem>.json -> $.delivery.
    //  7. PublishSucceeded (JobSucceeded) -> Succeeded.
    //  Any other error, after the retries of transient ones -> Fail (record FAILED, write <stem>.error.json)
    //  -> IsCancelled -> PublishFailed (JobFailed) -> Failed. Fail is retried but never caught into itself.
    //  An attempt an operator cancelled (Fail says $.failure.cancelled) -> IsCancelled -> Cancelled, no JobFailed.
    const definition = sfn.Chain.start(settle) // 1
      .next(validateStep) // 2
      .next(
        isRefused
          .when(sfn.Condition.isPresent('$.validated.refused'), refused.next(failStep)) // 2 -> Fail
          .otherwise(
            sfn.Chain.start(waitForSlotStep) // 3
              .next(submitStep)
              .next(recordStep) // 5
              .next(deliverStep) // 6
              .next(publishSucceeded) // 7
              .next(new sfn.Succeed(this, 'Succeeded')),
          ),
      );
    // Catch order matters: NoSlotError and the timeout must be matched before States.ALL.
    submitStep.addCatch(waitForSlotStep, { errors: ['NoSlotError'], resultPath: sfn.JsonPath.DISCARD }); // 3 -> 3
    submitStep.addCatch(pollStep, { errors: ['States.Timeout'], resultPath: '$.waitTimedOut' }); // 3 -> 4
    pollStep.next(
      isGenerated
        .when(sfn.Condition.booleanEquals('$.poll.done', true), recordStep) // 4 -> 5
        .otherwise(waitBeforePoll.next(pollStep)),
    );
    for (const step of [validateStep, waitForSlotStep, submitStep, pollStep, recordStep, deliverStep]) {
      step.addCatch(failStep, catchAll);
    }
    // A step that failed as superseded between an operator's cancel mark and the stop of the execution ends here
    // too: the fail step ended the job CANCELLED (and put JobCancelled), so no JobFailed is published for it.
    const isCancelled = new sfn.Choice(this, 'IsCancelled');
    failStep.next(
      isCancelled
        .when(
          sfn.Condition.and(
            sfn.Condition.isPresent('$.failure.cancelled'),
            sfn.Condition.booleanEquals('$.failure.cancelled', true),
          ),
          new sfn.Fail(this, 'Cancelled', {
            error: CANCEL_STOP_ERROR,
            cause: 'Cancelled by an operator; see <stem>.error.json in the output bucket.',
          }),
        )
        .otherwise(
          publishFailed.next(
            new sfn.Fail(this, 'Failed', {
              error: 'JobFailed',
              cause: 'See <stem>.error.json in the output bucket.',
            }),
          ),
        ),
    );

    const executionLogs = new logs.LogGroup(this, CONSTRUCT_IDS.workflow.executionLogs, {
      retention: settings.logRetentionDays,
    });
    this.stateMachine = new sfn.StateMachine(this, CONSTRUCT_IDS.workflow.stateMachine, {
      comment: 'avatar-pipeline: one execution per job attempt',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      // Backstop behind the job's own hard deadline; a TIMED_OUT execution is closed by a rule (`PipelineRules`).
      timeout: Duration.seconds(settings.hardDeadlineSeconds + 1800),
      tracingEnabled: true,
      logs: { destination: executionLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });

    ingest.addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    this.stateMachine.grantStartExecution(ingest);
    // SendTask* goes through separate policies: adding it to the roles' default policies would make the functions
    // (which the definition references) depend on the state machine - a cycle. Whoever gives a Runware slot back
    // (submit on a 429, record, fail, the sweep) wakes the job waiting for it (SendTaskSuccess on WaitForSlot).
    for (const releaser of [record, fail, props.functions.sweep]) {
      this.allowTaskCallbacks(releaser, ['states:SendTaskSuccess']);
    }
    // Submit and the webhook also complete the Submit step's own token: with the result, or with Runware's
    // failure (submit, when a retried step finds that Runware already reported an error: `notifyIfDone`).
    for (const completer of [submit, webhook]) {
      this.allowTaskCallbacks(completer, ['states:SendTaskSuccess', 'states:SendTaskFailure']);
    }
    this.suppressNagFindings(props.functions);
  }

  private allowTaskCallbacks(lambda: PipelineFunction, actions: string[]): void {
    new iam.Policy(this, `${lambda.node.id}TaskCallbacks`, {
      roles: [lambda.executionRole],
      statements: [new iam.PolicyStatement({ actions, resources: [this.stateMachine.stateMachineArn] })],
    });
  }

  private suppressNagFindings(functions: PipelineFunctionsByName): void {
    const role = this.stateMachine.role;
    acknowledge(
      role,
      'Only X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery ' +
        '(logs:CreateLogDelivery and friends) are granted on "*": these actions have no resource type.',
      'AwsSolutions-IAM5[Resource::*]',
    );
    const invoked: PipelineFunctionName[] = ['validate', 'submit', 'poll', 'record', 'deliver', 'fail'];
    for (const name of invoked) {
      acknowledge(
        role,
        `lambda:InvokeFunction on the versions and aliases (":*") of the ${name} function, granted by the ` +
          'LambdaInvoke task next to the function itself; no other function is reachable.',
        wildcardResource(role, `${functions[name].functionArn}:*`),
      );
    }
  }
}
