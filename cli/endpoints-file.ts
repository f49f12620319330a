import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

/**
 * The small file a running local stack (`npm start -- --keep`) leaves for the `avatar-pipeline` CLI: where its
 * S3, DynamoDB and Step Functions endpoints listen and what its buckets, table and state machine are called.
 * No heavy imports: the CLI reads it without loading the local stack.
 */
export const EndpointsFileSchema = z.object({
  version: z.literal(1),
  /** Process that serves the endpoints: a file whose process is gone is a stack that is not running. */
  pid: z.number().int(),
  region: z.string(),
  credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }),
  endpoints: z.object({ s3: z.url(), dynamodb: z.url(), sfn: z.url() }),
  names: z.object({
    inputBucket: z.string(),
    outputBucket: z.string(),
    tableName: z.string(),
    stateMachineArn: z.string(),
  }),
  /**
   * The stack's CloudFormation outputs as local mode resolves them (those it can), like a deployed stack's:
   * the CLI reads `ModelPricesUsdPerSecond` from here. Absent in files written before it was added.
   */
  outputs: z.record(z.string(), z.string()).optional(),
  writtenAt: z.string(),
});
export type EndpointsFile = z.infer<typeof EndpointsFileSchema>;

/** Where `npm start` writes it, relative to the working directory. */
export const DEFAULT_ENDPOINTS_FILE = join('.local', 'endpoints.json');

/** What a local stack exposes that the file needs (a structural type, so this module stays import-light). */
export interface EndpointsSource {
  endpoints: { s3: string; dynamodb: string; aws: string };
  names: { inputBucket: string; outputBucket: string; tableName: string; stateMachineArn: string };
  /** The stack's outputs (see {@link EndpointsFileSchema}). */
  outputs?: Record<string, string>;
  clientEnvironment(): Record<string, string>;
}

export function endpointsOf(stack: EndpointsSource, pid = process.pid, now = new Date()): EndpointsFile {
  const env = stack.clientEnvironment();
  const { inputBucket, outputBucket, tableName, stateMachineArn } = stack.names;
  return EndpointsFileSchema.parse({
    version: 1,
    pid,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    endpoints: { s3: stack.endpoints.s3, dynamodb: stack.endpoints.dynamodb, sfn: stack.endpoints.aws },
    names: { inputBucket, outputBucket, tableName, stateMachineArn },
    ...(stack.outputs ? { outputs: stack.outputs } : {}),
    writtenAt: now.toISOString(),
  });
}

export function writeEndpointsFile(file: string, content: EndpointsFile): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`);
}

/**
 * Writes the file for a stack that keeps running, and removes it when this process exits, so the CLI never
 * mistakes a stopped stack for a running one (it also checks the pid, for a process that was killed).
 */
export function publishEndpoints(stack: EndpointsSource, file = DEFAULT_ENDPOINTS_FILE): string {
  writeEndpointsFile(file, endpointsOf(stack));
  process.on('exit', () => rmSync(file, { force: true }));
  return file;
}

/** The file's content, or undefined when there is none; throws on a file that is not one. */
export function readEndpointsFile(file: string): EndpointsFile | undefined {
  if (!existsSync(file)) return undefined;
  return EndpointsFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** Whether process `pid` is running (the writer of an endpoints file, the holder of a lock file). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
