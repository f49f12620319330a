import { afterEach, describe, expect, it } from 'vitest';
import { buildIamModel } from '../../local/iam/model.js';
import type { LocalStack } from '../../local/stack.js';
import { type Cut, withoutGrant } from '../support/iam.js';
import type { Samples } from '../support/local.js';
import { E2E_CONTEXT } from '../support/local.js';
import { useLocalStack } from '../support/local-test.js';

// For each kind of permission the pipeline needs, the grant is cut from the synthesized template and the stack
// judges with the cut policies: the call is refused with AWS's error, and the job ends as it would on AWS.

let stack: LocalStack;
let samples: Samples;
const local = useLocalStack(E2E_CONTEXT, (started) => {
  ({ stack, samples } = started);
  stack.iam.deliberate = true;
  // A refusal is retried by the step as any failure is; what counts here is how the job ends, not when the
  // retries happen (the retry policy is checked in test/infra/stack.test.ts).
  stack.sfn.retryIntervalMs = 200;
});

afterEach(() => {
  stack.iam.replaceModel(buildIamModel(stack.assembly));
});

function cut(what: Cut): void {
  stack.iam.replaceModel(buildIamModel(withoutGrant(stack.assembly, what)));
}

async function dropPair(stem: string): Promise<void> {
  await local.drop(`${stem}.png`, samples.portrait);
  await local.drop(`${stem}.wav`, samples.voice3s);
}

/** The refusals recorded since `from`, as AWS words them. */
const refusalsSince = (from: number) => stack.iam.refusals.slice(from).map((r) => r.message);
const refused = (who: string, action: string, resource: RegExp | string) =>
  new RegExp(
    `^User: arn:aws:sts::000000000000:assumed-role/AvatarPipeline-[A-Za-z0-9]+/${who} is not authorized to perform: ${action} on resource: "?${typeof resource === 'string' ? resource.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : resource.source}"? because no identity-based policy allows the ${action} action$`,
  );

describe('local mode refuses what the template does not grant', () => {
  it('an S3 write: deliver without s3:PutObject fails the job with S3 AccessDenied, inputs kept', async () => {
    cut({ from: 'deliver', action: 's3:PutObject' });
    const before = stack.iam.refusals.length;
    await dropPair('cut/s3-write');
    const job = await local.finishedJob('cut/s3-write');
    expect(job.status).toBe('FAILED');
    expect(job.error?.message).toMatch(/AccessDenied|not authorized to perform: s3:PutObject/);
    expect(refusalsSince(before)).toContainEqual(
      expect.stringMatching(
        refused('avatar-pipeline-deliver', 's3:PutObject', /arn:aws:s3:::avatar-pipeline-output\/.+/),
      ),
    );
    expect(await local.inputExists('cut/s3-write.png')).toBe(true);
    // The fail function still has its own grant: the person finds the reason beside the inputs' outputs.
    expect(await local.outputKeys('cut/s3-write')).toContain('cut/s3-write.error.json');
  });

  it('a DynamoDB table: validate without dynamodb:UpdateItem fails the job, and the fail function records why', async () => {
    cut({ from: 'validate', action: 'dynamodb:UpdateItem' });
    const before = stack.iam.refusals.length;
    await dropPair('cut/table');
    const job = await local.finishedJob('cut/table');
    expect(job.status).toBe('FAILED');
    expect(refusalsSince(before)).toContainEqual(
      expect.stringMatching(
        refused(
          'avatar-pipeline-validate',
          'dynamodb:UpdateItem',
          'arn:aws:dynamodb:us-east-1:000000000000:table/avatar-pipeline-jobs',
        ),
      ),
    );
  });

  it('a presigned read: Runware cannot fetch an input signed by a role without s3:GetObject, and the job fails', async () => {
    cut({ from: 'submit', action: 's3:GetObject' });
    const before = stack.iam.refusals.length;
    await dropPair('cut/presigned');
    const job = await local.finishedJob('cut/presigned');
    expect(job.status).toBe('FAILED');
    // The URL is judged by its signer's role when it is used, as S3 does.
    expect(refusalsSince(before)).toContainEqual(
      expect.stringMatching(
        refused(
          'avatar-pipeline-submit',
          's3:GetObject',
          /arn:aws:s3:::avatar-pipeline-input\/normalized\/.+/,
        ),
      ),
    );
  });

  it("the state machine's invoke: a step it may not invoke fails with Lambda.AWSLambdaException and the job fails", async () => {
    const validateArn = stack.assembly.functions.validate.arn;
    cut({
      from: 'stateMachine',
      action: 'lambda:InvokeFunction',
      resource: (arn) => arn.startsWith(validateArn),
    });
    const before = stack.iam.refusals.length;
    await dropPair('cut/invoke');
    const job = await local.finishedJob('cut/invoke');
    expect(job.status).toBe('FAILED');
    expect(refusalsSince(before)).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^User: arn:aws:sts::000000000000:assumed-role/AvatarPipeline-WorkflowStateMachineRole[A-Z0-9]+/local-execution is not authorized to perform: lambda:InvokeFunction on resource: ${validateArn} because`,
        ),
      ),
    );
    expect(JSON.stringify(job.error)).toContain('Lambda.AWSLambdaException');
  });

  it("ingest's StartExecution: no execution starts, EventBridge gives the event to the dead-letter queue", async () => {
    cut({ from: 'ingest', action: 'states:StartExecution' });
    const before = stack.iam.refusals.length;
    const letters = stack.deadLetters.length;
    await dropPair('cut/start');
    await stack.idle();
    expect(local.executionsOf('cut/start')).toEqual([]);
    expect(refusalsSince(before)).toContainEqual(
      expect.stringMatching(
        refused('avatar-pipeline-ingest', 'states:StartExecution', stack.names.stateMachineArn),
      ),
    );
    expect(stack.deadLetters.length).toBeGreaterThan(letters);
    expect(await local.inputExists('cut/start.wav')).toBe(true);
  });

  it('a task callback: a webhook that may not SendTaskSuccess leaves the job to the poll, which delivers it', async () => {
    cut({ from: 'webhook', action: 'states:SendTaskSuccess' });
    const before = stack.iam.refusals.length;
    await dropPair('cut/callback');
    const job = await local.finishedJob('cut/callback');
    expect(refusalsSince(before)).toContainEqual(
      expect.stringMatching(
        refused('avatar-pipeline-webhook', 'states:SendTaskSuccess', stack.names.stateMachineArn),
      ),
    );
    expect(job.status).toBe('DELIVERED');
  });
});
