import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { DEFAULT_SETTINGS } from '../lambdas/core/contract/defaults.js';
import { cachedAssembly, SKIP_BUNDLING_VARIABLE, SYNTH_CACHE_VARIABLE } from './assembly-cache.js';
import type { LocalSecret } from './aws-endpoint.js';
import { RunwareSimulator, type RunwareSimulatorOptions } from './runware-simulator.js';
import { installS3rverListing } from './s3-listing.js';
import { S3FaultProxy } from './s3-proxy.js';
import { makeObjectWritesAtomic } from './s3rver-atomic.js';
import { trimS3rverOverheads } from './s3rver-overheads.js';
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalAssembly, type LocalNames } from './template.js';

/**
 * The parts local mode is assembled from, each started on its own: the CDK synth, the emulators (DynamoDB, S3)
 * and Runware. Each registers how to stop it with a {@link Stoppers}.
 */

const ROOT = resolve(import.meta.dirname, '..');
/** s3rver checks request signatures against these credentials; every local client uses them. */
export const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** What was started, stopped in reverse order. */
export class Stoppers {
  private readonly list: (() => Promise<void>)[] = [];

  add(stop: () => Promise<void> | void): void {
    this.list.push(async () => stop());
  }

  /** Runs every stopper, the last added first, ignoring their failures. */
  async stopAll(): Promise<void> {
    for (const stop of this.list.splice(0).reverse()) await stop().catch(() => undefined);
  }
}

/**
 * Runs `cdk synth` exactly as for a deployment, into `outdir`, with extra context (settings). With `skipBundling`
 * the functions are not bundled (their assets name the project); assembly-cache.ts then gives them the bundles of
 * an earlier synth of the same sources.
 */
export async function synth(
  outdir: string,
  context: Record<string, string>,
  { skipBundling = false }: { skipBundling?: boolean } = {},
): Promise<void> {
  const args = ['synth', '--quiet', '--no-notices', '--output', outdir];
  for (const [k, v] of Object.entries(context)) args.push('--context', `${k}=${v}`);
  rmSync(outdir, { recursive: true, force: true });
  await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'cdk'), args, {
    cwd: ROOT,
    env: {
      ...process.env,
      CDK_DISABLE_CLI_TELEMETRY: 'true',
      ...(skipBundling ? { [SKIP_BUNDLING_VARIABLE]: '1' } : {}),
    },
    maxBuffer: 32 * 1024 * 1024,
  });
}

/** Where Runware is for this run: the settings to synthesize with and the API key to serve. */
export interface LocalRunware {
  url: string;
  /** The `allowedVideoHosts` setting. */
  videoHosts: string;
  apiKey: string;
  simulator?: RunwareSimulator;
}

/** The simulator, or the real API when an API key is given. */
export async function startRunware(
  workDir: string,
  apiKey: string | undefined,
  stoppers: Stoppers,
  model: Pick<RunwareSimulatorOptions, 'capacity' | 'renderSpeed' | 'stateFile'> = {},
): Promise<LocalRunware> {
  if (apiKey) {
    const { runwareApiUrl, allowedVideoHosts } = DEFAULT_SETTINGS;
    return { url: runwareApiUrl, videoHosts: allowedVideoHosts.join(','), apiKey };
  }
  const simulator = new RunwareSimulator({ workDir: join(workDir, 'runware'), ...model });
  const started = await simulator.start();
  stoppers.add(() => simulator.stop());
  return { url: started.url, videoHosts: started.videoOrigin, apiKey: 'local-simulator-key', simulator };
}

const clientConfig = { region: LOCAL_REGION, credentials: CREDENTIALS };

/**
 * dynalite with the table exactly as the template declares it (keys and indexes). With `path`, the table is
 * kept on disk there (LevelDB) and found again at the next start; without it, it lives in memory.
 */
export async function startDynamoDB(
  assembly: LocalAssembly,
  stoppers: Stoppers,
  options: { path?: string | undefined; port?: number | undefined } = {},
): Promise<{ url: string; client: DynamoDBClient; server: Server }> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path ? { path: options.path } : {}),
  });
  await new Promise<void>((r) => server.listen(options.port ?? 0, '127.0.0.1', () => r()));
  // close() alone waits for every open connection (a client's keep-alive one included) to end on its own.
  stoppers.add(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ ...clientConfig, endpoint: url });
  stoppers.add(() => client.destroy());
  const existing = await client.send(new ListTablesCommand({}));
  if (!existing.TableNames?.includes(assembly.names.tableName)) {
    await client.send(
      new CreateTableCommand({
        TableName: assembly.names.tableName,
        BillingMode: 'PAY_PER_REQUEST',
        ...(assembly.table as object),
      } as never),
    );
  }
  return { url, client, server };
}

export interface LocalS3 {
  server: S3rver;
  /** The endpoint clients use. */
  url: string;
  /** The endpoint the functions use: a pass-through that tests can make fail. */
  functionsUrl: string;
  proxy: S3FaultProxy;
  client: S3Client;
}

/**
 * s3rver with the two buckets, behind the fault proxy for the functions. Objects are files under `directory`:
 * with `keep` they are found again at the next start; otherwise the folder is emptied first.
 */
export async function startS3(
  directory: string,
  names: LocalNames,
  stoppers: Stoppers,
  options: { keep?: boolean | undefined; port?: number | undefined } = {},
): Promise<LocalS3> {
  if (!options.keep) rmSync(directory, { recursive: true, force: true });
  // Listing past 1,000 keys: s3rver's DES continuation token fails on OpenSSL 3 (see s3-listing.ts).
  installS3rverListing();
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    configureBuckets: [{ name: names.inputBucket }, { name: names.outputBucket }],
  });
  trimS3rverOverheads(server);
  // A GET racing a PUT or a copy of its key gets one whole version, as on S3.
  makeObjectWritesAtomic(server);
  const address = await server.run();
  stoppers.add(() => {
    // s3rver's close() waits for every open connection, such as a download a client abandoned half-way: end them.
    (server as unknown as { httpServer?: Server }).httpServer?.closeAllConnections();
    return server.close();
  });
  const url = `http://127.0.0.1:${address.port}`;
  const proxy = new S3FaultProxy(url);
  const functionsUrl = await proxy.start();
  stoppers.add(() => proxy.stop());
  const client = new S3Client({
    ...clientConfig,
    endpoint: url,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  stoppers.add(() => client.destroy());
  return { server, url, functionsUrl, proxy, client };
}

/** The two secrets the functions read: a fresh webhook signing key, and the Runware API key under its name. */
export function localSecrets(assembly: LocalAssembly, runwareApiKey: string): LocalSecret[] {
  const runwareSecretName =
    assembly.functions.submit.environment.RUNWARE_API_KEY_SECRET ?? DEFAULT_SETTINGS.runwareApiKeySecretName;
  return [
    {
      arn: assembly.names.webhookSecretArn,
      name: 'avatar-pipeline/webhook-signing-secret',
      value: randomBytes(32).toString('base64url'),
    },
    {
      arn: `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${runwareSecretName}-AbCdEf`,
      name: runwareSecretName,
      value: runwareApiKey,
    },
  ];
}

/** What every local function gets beside its own environment: region, credentials and the local endpoints. */
export function functionEnvironment(endpoints: {
  s3: string;
  dynamodb: string;
  aws: string;
}): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SFN: endpoints.aws,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.aws,
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.aws,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    // Local mode only: the SDK's Node 20 support notice, once per function process, says nothing about the job.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/**
 * The app synthesized with `context`: kept from an earlier run with the same sources and settings when there is
 * one (assembly-cache.ts), else synthesized now by the CDK CLI exactly as for a deployment.
 */
export async function synthesizedApp(
  context: Record<string, string>,
  workDir: string,
  progress: (line: string) => void,
): Promise<string> {
  if (process.env[SYNTH_CACHE_VARIABLE] === 'off') {
    progress('Synthesizing the CDK app (bundles every Lambda with esbuild)...');
    const cdkOut = join(workDir, 'cdk.out');
    await synth(cdkOut, context);
    return cdkOut;
  }
  const started = Date.now();
  const cached = await cachedAssembly(context, async (outdir, settings, options) => {
    progress(
      options.skipBundling
        ? 'Synthesizing the CDK app for these settings (its Lambda bundles are those of an earlier synth of the same sources)...'
        : 'Synthesizing the CDK app (bundles every Lambda with esbuild)...',
    );
    await synth(outdir, settings, options);
  });
  progress(
    cached.reused
      ? `Sources and settings unchanged since an earlier synth: reusing its app (${cached.dir}).`
      : `Synthesized in ${((Date.now() - started) / 1000).toFixed(1)} s; kept for the next run with the same sources and settings (${cached.dir}).`,
  );
  return cached.dir;
}
