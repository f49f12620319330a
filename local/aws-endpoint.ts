import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listenLocal } from './listen.js';
import { SfnApiError } from './sfn-task-tokens.js';
import type { LocalExecution, LocalStepFunctions } from './step-functions.js';

/** A secret of local mode's Secrets Manager. */
export interface LocalSecret {
  arn: string;
  name: string;
  value: string;
}

/**
 * Judges a call before it is served: the refusal message, or nothing to serve it. `service` is the target's
 * prefix (`AWSStepFunctions`, `secretsmanager`, `AWSEvents`).
 */
export type AwsCallGuard = (
  service: string,
  operation: string,
  body: Record<string, unknown>,
  headers: Record<string, string | string[] | undefined>,
) => string | undefined;

/**
 * The AWS APIs that local mode serves itself over their real JSON protocols, so the handlers' and the CLI's
 * SDK clients work unchanged against it (`AWS_ENDPOINT_URL_SFN`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`):
 * Step Functions (StartExecution, DescribeExecution, ListExecutions, StopExecution, SendTaskSuccess/Failure/
 * Heartbeat), Secrets Manager (GetSecretValue) and EventBridge (PutEvents).
 */
export class LocalAwsEndpoint {
  private server: Server | undefined;
  readonly calls: string[] = [];

  private sfn: LocalStepFunctions | undefined;
  private secrets: readonly LocalSecret[] = [];
  private guard: AwsCallGuard | undefined;
  private onEvent: (entry: { Source: string; DetailType: string; Detail: unknown }) => void = () => undefined;

  /**
   * Listens first (its URL is part of the functions' environment, so it must be known before they exist); calls
   * are answered 503 until {@link serve} names what answers them.
   */
  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) =>
        reply(res, 500, { __type: 'InternalFailure', message: String(error) }),
      );
    });
    return listenLocal(this.server, port);
  }

  /** `onEvent` gets the entries the functions put with EventBridge PutEvents (JobCancelled). */
  serve(
    sfn: LocalStepFunctions,
    secrets: readonly LocalSecret[],
    onEvent?: (entry: { Source: string; DetailType: string; Detail: unknown }) => void,
  ): void {
    this.sfn = sfn;
    this.secrets = secrets;
    if (onEvent) this.onEvent = onEvent;
  }

  /** Judges every call from now on (local mode's IAM). */
  setGuard(guard: AwsCallGuard): void {
    this.guard = guard;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    const [service, operation] = target.split('.');
    this.calls.push(target);
    if (!this.sfn) return reply(res, 503, { __type: 'ServiceUnavailable', message: 'Not started yet' });
    const refusal = this.guard?.(service ?? '', operation ?? '', body, req.headers);
    // Step Functions, Secrets Manager and EventBridge all answer a refused call 400 AccessDeniedException
    // (e.g. https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html).
    if (refusal) return reply(res, 400, { __type: 'AccessDeniedException', message: refusal });
    try {
      if (service === 'AWSStepFunctions')
        return reply(res, 200, this.stepFunctions(this.sfn, operation ?? '', body));
      if (service === 'secretsmanager') return reply(res, 200, this.secretsManager(operation ?? '', body));
      if (service === 'AWSEvents') return reply(res, 200, this.eventBridge(operation ?? '', body));
      reply(res, 400, {
        __type: 'UnknownOperationException',
        message: `Local mode does not serve ${target}`,
      });
    } catch (error) {
      if (error instanceof SfnApiError)
        return reply(res, 400, { __type: error.type, message: error.message });
      throw error;
    }
  }

  private stepFunctions(sfn: LocalStepFunctions, operation: string, body: Record<string, unknown>): unknown {
    switch (operation) {
      case 'StartExecution': {
        const execution = sfn.startExecution(
          String(body.stateMachineArn),
          String(body.name),
          String(body.input ?? '{}'),
        );
        return { executionArn: execution.executionArn, startDate: seconds(execution.startDate) };
      }
      case 'DescribeExecution':
        return describe(sfn.describeExecution(String(body.executionArn)));
      case 'ListExecutions':
        return {
          executions: sfn
            .listExecutionsOf(String(body.stateMachineArn), body.statusFilter as never)
            .map((e) => {
              const {
                input: _input,
                output: _output,
                error: _error,
                cause: _cause,
                ...summary
              } = describe(e);
              return summary;
            }),
        };
      case 'StopExecution': {
        const stopped = sfn.stopExecution(
          String(body.executionArn),
          body.error as string | undefined,
          body.cause as string | undefined,
        );
        return { stopDate: seconds(stopped.stopDate ?? new Date()) };
      }
      case 'SendTaskSuccess':
        sfn.sendTaskSuccess(String(body.taskToken), String(body.output));
        return {};
      case 'SendTaskFailure':
        sfn.sendTaskFailure(
          String(body.taskToken),
          body.error as string | undefined,
          body.cause as string | undefined,
        );
        return {};
      case 'SendTaskHeartbeat':
        sfn.sendTaskHeartbeat(String(body.taskToken));
        return {};
      default:
        throw new SfnApiError(
          'UnknownOperationException',
          `Local mode does not serve Step Functions ${operation}`,
        );
    }
  }

  /** EventBridge `PutEvents` on the default bus: the entries are recorded beside the state machine's. */
  private eventBridge(operation: string, body: Record<string, unknown>): unknown {
    if (operation !== 'PutEvents') {
      throw new SfnApiError(
        'UnknownOperationException',
        `Local mode does not serve EventBridge ${operation}`,
      );
    }
    const entries = (body.Entries ?? []) as { Source: string; DetailType: string; Detail: string }[];
    for (const entry of entries) this.onEvent(entry);
    return { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) };
  }

  private secretsManager(operation: string, body: Record<string, unknown>): unknown {
    if (operation !== 'GetSecretValue') {
      throw new SfnApiError(
        'UnknownOperationException',
        `Local mode does not serve Secrets Manager ${operation}`,
      );
    }
    const id = String(body.SecretId);
    const secret = this.secrets.find((s) => s.arn === id || s.name === id);
    if (!secret)
      throw new SfnApiError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return {
      ARN: secret.arn,
      Name: secret.name,
      SecretString: secret.value,
      VersionId: 'local',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: 0,
    };
  }
}

const seconds = (d: Date) => d.getTime() / 1000;

function describe(e: LocalExecution) {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''),
    name: e.name,
    status: e.status,
    startDate: seconds(e.startDate),
    ...(e.stopDate ? { stopDate: seconds(e.stopDate) } : {}),
    input: e.input,
    ...(e.output !== undefined ? { output: e.output } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
    ...(e.cause !== undefined ? { cause: e.cause } : {}),
  };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
