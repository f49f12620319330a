import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoFileStore } from '../lambdas/core/store/files.js';
import { DynamoJobStore } from '../lambdas/core/store/jobs.js';
import { Table } from '../lambdas/core/store/table.js';
import { STACK_NAME } from '../lib/construct-ids.js';
import {
  DEFAULT_ENDPOINTS_FILE,
  type EndpointsFile,
  processAlive,
  readEndpointsFile,
} from './endpoints-file.js';
import { CliError, EXIT } from './errors.js';

/** The pipeline the CLI talks to: local mode or a deployed stack, reached through the same clients. */
export interface Target {
  /** `local (.local/endpoints.json)` or `stack AvatarPipeline (eu-west-1)`. */
  description: string;
  s3: S3Client;
  /** Step Functions: cancel stops executions, retry starts them. */
  sfn: SFNClient;
  jobs: DynamoJobStore;
  /** The inbox as the pipeline saw it (retry checks that the job's inputs are still there). */
  files: DynamoFileStore;
  /** The pipeline's table, for the other stores (the console reads the budget and the slots). */
  table: Table;
  names: { inputBucket: string; outputBucket: string; tableName: string; stateMachineArn: string };
}

export interface TargetOptions {
  local?: boolean;
  endpoints?: string;
  stack?: string;
  profile?: string;
  region?: string;
}

/** Stack outputs the CLI needs (see lib/avatar-pipeline-stack.ts). */
const OUTPUTS = {
  inputBucket: 'InputBucketName',
  outputBucket: 'OutputBucketName',
  tableName: 'TableName',
  stateMachineArn: 'StateMachineArn',
} as const;

/**
 * `--local` (or `--endpoints FILE`) reads the file a running `npm start -- --keep` wrote; `--stack NAME` reads a
 * deployed stack's outputs. With neither, local mode if its file exists, else the deployed `AvatarPipeline`.
 */
export async function resolveTarget(options: TargetOptions): Promise<Target> {
  const chosen = chosenLocal(options);
  if (chosen) return localTarget(chosen.file);
  return deployedTarget(options.stack ?? STACK_NAME, options);
}

const NOT_RUNNING = (file: string) =>
  new CliError(
    `The local stack is not running (no live endpoints in ${file}). Start it with: npm start -- --keep`,
    EXIT.unavailable,
    'LOCAL_NOT_RUNNING',
  );

function readLocal(file: string, required: boolean) {
  let content: ReturnType<typeof readEndpointsFile>;
  try {
    content = readEndpointsFile(file);
  } catch {
    if (!required) return undefined;
    throw new CliError(
      `${file} is not an endpoints file written by npm start.`,
      EXIT.unavailable,
      'BAD_ENDPOINTS',
    );
  }
  if (content && !processAlive(content.pid)) content = undefined;
  if (!content && required) throw NOT_RUNNING(file);
  return content;
}

function localTarget(file: string): Target {
  const local = readLocal(file, true);
  if (!local) throw NOT_RUNNING(file);
  const common = { region: local.region, credentials: local.credentials, maxAttempts: 2 };
  const s3 = new S3Client({
    ...common,
    endpoint: local.endpoints.s3,
    forcePathStyle: true,
    // s3rver stores chunked framing as the body otherwise (see DESIGN.md, local mode facts).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const dynamo = new DynamoDBClient({ ...common, endpoint: local.endpoints.dynamodb });
  const table = new Table(dynamo, local.names.tableName);
  return {
    description: `local (${file})`,
    s3,
    sfn: new SFNClient({ ...common, endpoint: local.endpoints.sfn }),
    jobs: new DynamoJobStore(table),
    files: new DynamoFileStore(table),
    table,
    names: local.names,
  };
}

/** The outputs of a deployed stack, by key, and the region it was found in. */
export async function stackOutputs(
  stackName: string,
  options: Pick<TargetOptions, 'profile' | 'region'>,
): Promise<{ outputs: Record<string, string>; region: string }> {
  const cfn = new CloudFormationClient(clientOptions(options));
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    const outputs = Object.fromEntries(
      (stack?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
    );
    return { outputs, region: await cfn.config.region() };
  } catch (error) {
    throw targetError(error, stackName);
  }
}

const clientOptions = (options: Pick<TargetOptions, 'profile' | 'region'>) => ({
  ...(options.region ? { region: options.region } : {}),
  ...(options.profile ? { profile: options.profile } : {}),
});

/** The live local stack's endpoints file when the options choose local mode (see {@link resolveTarget}). */
export function chosenLocal(
  options: TargetOptions,
): { file: string; local: EndpointsFile | undefined } | undefined {
  const file = options.endpoints ?? DEFAULT_ENDPOINTS_FILE;
  const wantsLocal = options.local || options.endpoints !== undefined;
  if (wantsLocal) return { file, local: readLocal(file, true) };
  if (options.stack) return undefined;
  const local = readLocal(file, false);
  return local ? { file, local } : undefined;
}

async function deployedTarget(stackName: string, options: TargetOptions): Promise<Target> {
  const common = clientOptions(options);
  const { outputs, region } = await stackOutputs(stackName, options);
  const names = Object.fromEntries(
    Object.entries(OUTPUTS).map(([name, key]) => {
      const value = outputs[key];
      if (!value)
        throw new CliError(
          `Stack ${stackName} has no output ${key}: is it the avatar pipeline? Deploy it with npx cdk deploy.`,
          EXIT.unavailable,
          'STACK_NOT_FOUND',
        );
      return [name, value];
    }),
  ) as Target['names'];
  const table = new Table(new DynamoDBClient(common), names.tableName);
  return {
    description: `stack ${stackName} (${region})`,
    s3: new S3Client(common),
    sfn: new SFNClient(common),
    jobs: new DynamoJobStore(table),
    files: new DynamoFileStore(table),
    table,
    names,
  };
}

/** Maps the SDK's failures to reaching a target onto clear messages. */
export function targetError(error: unknown, stackName?: string): Error {
  if (error instanceof CliError) return error;
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'CredentialsProviderError' || /credential/i.test(message))
    return new CliError(
      `No AWS credentials found (${message}). Set AWS_PROFILE or pass --profile, or use --local for local mode.`,
      EXIT.unavailable,
      'NO_CREDENTIALS',
    );
  if (/region/i.test(message) && /missing/i.test(message))
    return new CliError('No AWS region set: pass --region or set AWS_REGION.', EXIT.unavailable, 'NO_REGION');
  if (stackName && /does not exist/.test(message))
    return new CliError(
      `Stack ${stackName} not found in this account and region. Pass --stack NAME and --region, or deploy it.`,
      EXIT.unavailable,
      'STACK_NOT_FOUND',
    );
  const code = (error as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message))
    return new CliError(
      'The local stack is not answering (connection refused). Start it with: npm start -- --keep',
      EXIT.unavailable,
      'LOCAL_NOT_RUNNING',
    );
  return error instanceof Error ? error : new Error(message);
}
