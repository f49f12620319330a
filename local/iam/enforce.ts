import type { AwsCallGuard } from '../aws-endpoint.js';
import { LambdaFunctionError } from '../lambda-errors.js';
import type { S3Guard } from '../s3-proxy.js';
import { type FunctionName, LOCAL_ACCOUNT, LOCAL_REGION, type LocalAssembly } from '../template.js';
import { accessKeyOf, type LocalIam } from './authorizer.js';
import type { DynamoGuard } from './dynamodb-proxy.js';
import { servicePrincipal } from './model.js';
import type { Principal } from './policy.js';
import { s3AccessDenied, s3Calls } from './s3.js';

/**
 * The guards local mode puts in front of each service, each judging a call by its signer's principal with
 * {@link LocalIam}, and answering a refusal as that service does.
 */

let requestCounter = 0;
const requestId = () => `LOCAL${(++requestCounter).toString(16).toUpperCase().padStart(11, '0')}`;

/** S3: the signer (header or presigned query) against its role and the bucket's policy. */
export function s3Guard(iam: LocalIam): S3Guard {
  return (method, url, headers) => {
    const principal = iam.principalOf(accessKeyOf(headers, url));
    for (const call of s3Calls(method, url, headers)) {
      const verdict = iam.check({
        principal,
        action: call.action,
        resource: call.resource,
        ...(call.context ? { context: call.context } : {}),
        resourcePolicy: iam.model.bucketPolicies.get(call.bucket) ?? [],
        quoteResource: true,
      });
      if (!verdict.allowed)
        return { refusal: { status: 403, body: s3AccessDenied(verdict.message, requestId()) } };
    }
    const [first] = s3Calls(method, url, headers);
    if (!first || (first.action !== 's3:GetObject' && first.action !== 's3:GetObjectVersion')) return {};
    // "If the object you request doesn't exist, the error that Amazon S3 returns depends on whether you also
    // have the s3:ListBucket permission ... 403 Access Denied" without it
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, Permissions).
    return {
      onNotFound: () => {
        const verdict = iam.check({
          principal,
          action: 's3:ListBucket',
          resource: `arn:aws:s3:::${first.bucket}`,
          resourcePolicy: iam.model.bucketPolicies.get(first.bucket) ?? [],
          quoteResource: true,
        });
        return verdict.allowed
          ? undefined
          : { status: 403, body: s3AccessDenied(verdict.message, requestId()) };
      },
    };
  };
}

/** DynamoDB: the signer against its role; every table or index the call names must be allowed. */
export function dynamoGuard(iam: LocalIam): DynamoGuard {
  return (call, headers) => {
    const principal = iam.principalOf(accessKeyOf(headers));
    for (const resource of call.resources) {
      const verdict = iam.check({ principal, action: call.action, resource });
      if (!verdict.allowed) return verdict.message;
    }
    return undefined;
  };
}

/** Step Functions, Secrets Manager and EventBridge as local mode's AWS endpoint serves them. */
export function awsGuard(
  iam: LocalIam,
  names: LocalAssembly['names'],
  secretArnOf: (id: string) => string | undefined,
): AwsCallGuard {
  return (service, operation, body, headers) => {
    const principal = iam.principalOf(accessKeyOf(headers));
    const calls: { action: string; resource: string; context?: Record<string, string> }[] = [];
    if (service === 'AWSStepFunctions') {
      // SendTask* carry no ARN: AWS scopes them to the state machine whose task issued the token
      // (https://docs.aws.amazon.com/step-functions/latest/dg/callback-task-sample-sqs.html#callback-iam,
      // and aws-cdk-lib's StateMachine.grantTaskResponse). Local mode runs one state machine.
      const resource =
        typeof body.executionArn === 'string'
          ? body.executionArn
          : typeof body.stateMachineArn === 'string'
            ? body.stateMachineArn
            : names.stateMachineArn;
      calls.push({ action: `states:${operation}`, resource });
    } else if (service === 'secretsmanager') {
      const id = String(body.SecretId ?? '');
      calls.push({
        action: `secretsmanager:${operation}`,
        resource: secretArnOf(id) ?? `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${id}`,
      });
    } else if (service === 'AWSEvents') {
      for (const entry of (body.Entries ?? []) as {
        EventBusName?: string;
        Source?: string;
        DetailType?: string;
      }[]) {
        calls.push({
          action: `events:${operation}`,
          resource: eventBusArn(entry.EventBusName),
          context: { 'events:source': entry.Source ?? '', 'events:detail-type': entry.DetailType ?? '' },
        });
      }
    }
    for (const call of calls) {
      const verdict = iam.check({
        principal,
        ...call,
        resourcePolicy:
          service === 'secretsmanager' ? (iam.model.secretPolicies.get(call.resource) ?? []) : [],
      });
      if (!verdict.allowed) return verdict.message;
    }
    return undefined;
  };
}

/** Who invokes a function: the state machine's role, or a service through the function's resource policy. */
export type Invoker =
  | { kind: 'stateMachine' }
  | { kind: 'service'; service: string; sourceArn: (fn: FunctionName) => string };

/**
 * `lambdas.invoke` as `invoker` may call it. A refusal fails the invocation the way the caller sees it on AWS:
 * Lambda answers AccessDeniedException (403), which Step Functions reports as `Lambda.AWSLambdaException` with
 * that code in its cause; EventBridge counts a failed delivery and retries it; API Gateway answers 500.
 */
export function authorizedInvoke<Options>(
  iam: LocalIam,
  assembly: LocalAssembly,
  invoker: Invoker,
  invoke: (name: FunctionName, event: unknown, options?: Options) => Promise<unknown>,
): (name: FunctionName, event: unknown, options?: Options) => Promise<unknown> {
  return (name, event, options) => {
    const functionArn = assembly.functions[name].arn;
    const principal: Principal =
      invoker.kind === 'stateMachine' ? iam.model.stateMachine : servicePrincipal(invoker.service);
    const verdict = iam.check({
      principal,
      action: 'lambda:InvokeFunction',
      resource: functionArn,
      resourcePolicy: iam.model.functionPolicies.get(functionArn) ?? [],
      ...(invoker.kind === 'service'
        ? { context: { 'aws:SourceArn': invoker.sourceArn(name), 'aws:SourceAccount': LOCAL_ACCOUNT } }
        : {}),
    });
    // Lambda's own error; the Step Functions stand-in names it as AWS does (local/sfn-limits.ts).
    if (!verdict.allowed)
      return Promise.reject(new LambdaFunctionError('Lambda.AccessDeniedException', verdict.message));
    return invoke(name, event, options);
  };
}

/**
 * The state machine's `events:putEvents` task, judged as its role. Step Functions names a failed optimized
 * integration's error `<Service>.<Exception>`; the exact name for a refused PutEvents is not documented, so local
 * mode uses `EventBridge.AccessDeniedException` (docs/local-mode.md, "What local mode enforces").
 */
export function authorizePutEvents(
  iam: LocalIam,
  entry: { Source?: string; DetailType?: string; EventBusName?: string },
): void {
  const verdict = iam.check({
    principal: iam.model.stateMachine,
    action: 'events:PutEvents',
    resource: eventBusArn(entry.EventBusName),
    context: { 'events:source': entry.Source ?? '', 'events:detail-type': entry.DetailType ?? '' },
  });
  if (!verdict.allowed)
    throw Object.assign(new Error(verdict.message), { name: 'EventBridge.AccessDeniedException' });
}

/** A PutEvents entry's bus: its name or ARN, the default bus when it names none. */
function eventBusArn(bus = 'default'): string {
  return bus.startsWith('arn:') ? bus : `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:event-bus/${bus}`;
}
