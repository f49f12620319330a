import * as path from 'node:path';
import { Duration, type Size } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture, type IDestination, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { TASK_TIMEOUT_MARGIN_SECONDS } from './delivery-window';
import type { PipelineFunctionName } from './function-names';
import { acknowledge, wildcardResource } from './nag';

export type { PipelineFunctionName } from './function-names';

/** Repository root: `lambdas/` and `package-lock.json` are resolved from here, not from the current directory. */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');

/** Lets ESM bundles load the CommonJS dependencies that call `require` (some AWS SDK and Powertools internals). */
const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * `lambda-natives/`: a sub-project whose own lock file pins the native modules a function needs for Lambda's
 * platform (linux, arm64, glibc), whatever machine runs `npm ci` (its root `postinstall` installs it with
 * `--cpu=arm64 --os=linux --libc=glibc`). Its `node_modules` is copied beside the bundle: no Docker needed.
 */
export const LAMBDA_NATIVES_DIR = path.join(PROJECT_ROOT, 'lambda-natives');

/** Modules left out of the esbuild bundle and shipped from `lambda-natives/node_modules` instead. */
export const NATIVE_MODULES = ['sharp'] as const;

/**
 * The default credential chain's providers for shared config files, SSO, web identity tokens and credential
 * processes, left out of every bundle (with the STS, SSO and SSO-OIDC clients and the login provider only they
 * load, about 90 kB of each bundle): the chain loads them with `import()` only after `fromEnv` found nothing, and
 * Lambda always sets the function role's credentials in the environment (`AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), as local mode's function host does. Were the environment ever
 * without them (an `AWS_PROFILE` would also make `fromEnv` step aside), the call fails at once with
 * `ERR_MODULE_NOT_FOUND` for the missing provider instead of looking for a profile that Lambda never has.
 */
export const UNUSED_CREDENTIAL_PROVIDERS = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
] as const;

/**
 * Shell commands run after esbuild: copy `lambda-natives/node_modules` into the asset (synth fails with a clear
 * message when it was never installed), then drop what is not needed at run time.
 */
export function copyNativeModules(inputDir: string, outputDir: string): string[] {
  const natives = `${inputDir}/lambda-natives/node_modules`;
  return [
    `test -f "${natives}/@img/sharp-linux-arm64/package.json" || { echo "lambda-natives/node_modules has no ` +
      `@img/sharp-linux-arm64: run npm ci (its postinstall installs the arm64 sharp for the validate function)" >&2; exit 1; }`,
    `cp -R "${natives}" "${outputDir}/node_modules"`,
    `rm -rf "${outputDir}/node_modules/.package-lock.json" "${outputDir}/node_modules/sharp/src" ` +
      `"${outputDir}/node_modules/sharp/install" "${outputDir}/node_modules/@img/sharp-libvips-linux-arm64/lib/glib-2.0"`,
  ];
}

export interface PipelineFunctionProps {
  /** Which handler to bundle: `lambdas/<name>/handler.ts`. */
  readonly name: PipelineFunctionName;
  /** Maximum run time. Always explicit: the state machine's task timeouts are derived from it. */
  readonly timeout: Duration;
  /**
   * Memory in MB (CPU scales with it).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Environment variables added to the house defaults.
   * @default - only the house defaults
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Retention of the function's own log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Powertools logger level (`POWERTOOLS_LOG_LEVEL`).
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * How often Lambda retries a failed asynchronous invocation (only functions invoked asynchronously set it).
   * @default - Lambda's default (2), without an explicit invoke config
   */
  readonly retryAttempts?: number;
  /**
   * Where Lambda sends an asynchronous invocation that failed after its retries.
   * @default - none: the event is dropped (after the Errors metric counted it)
   */
  readonly onFailure?: IDestination;
  /**
   * Largest temporary storage the handler may use.
   * @default 512 MiB
   */
  readonly ephemeralStorageSize?: Size;
  /**
   * @default - 'avatar-pipeline <name>'
   */
  readonly description?: string;
  /**
   * Ship the native modules ({@link NATIVE_MODULES}: sharp with its linux-arm64 libvips) beside the bundle.
   * @default false
   */
  readonly nativeModules?: boolean;
}

/**
 * The house Lambda function. Defaults:
 * - arm64, `nodejs22.x`, handler `lambdas/<name>/handler.ts` -> `handler`;
 * - bundled locally by esbuild (no Docker): minified ESM for node22 with source maps (without embedded sources),
 *   a `require` shim banner, `mainFields: ['module', 'main']`, and everything bundled including the AWS SDK (the
 *   pinned versions of package-lock.json, not whatever the runtime ships), except the credential providers Lambda
 *   never reaches ({@link UNUSED_CREDENTIAL_PROVIDERS}) and native modules, which a function asks for with
 *   `nativeModules` and gets from `lambda-natives/` for linux-arm64;
 * - `NODE_OPTIONS=--enable-source-maps`, `POWERTOOLS_SERVICE_NAME=avatar-pipeline`, `POWERTOOLS_LOG_LEVEL=INFO`;
 * - X-Ray tracing active; JSON log format into its own log group with a retention (30 days unless told);
 * - its own role with no managed policy: it may write to its own log group and send traces, nothing else.
 *   Everything further is granted with the `bind*` helpers below, which also set the matching env var.
 * - 512 MB of memory; the timeout is always explicit.
 */
export class PipelineFunction extends NodejsFunction {
  readonly pipelineName: PipelineFunctionName;
  /** Whether the bundle carries {@link NATIVE_MODULES} for linux-arm64 (see `nativeModules`). */
  readonly nativeModules: boolean;
  /** The function's own log group (the base class's `logGroup` getter returns the same log group). */
  readonly ownLogGroup: logs.LogGroup;
  readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    // Created beside the function, in the parent scope: the base class needs them before `this` exists.
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the avatar-pipeline ${props.name} function`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      description: props.description ?? `avatar-pipeline ${props.name}`,
      entry: path.join(PROJECT_ROOT, 'lambdas', props.name, 'handler.ts'),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      ...(props.ephemeralStorageSize ? { ephemeralStorageSize: props.ephemeralStorageSize } : {}),
      ...(props.retryAttempts === undefined ? {} : { retryAttempts: props.retryAttempts }),
      ...(props.onFailure ? { onFailure: props.onFailure } : {}),
      role,
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'avatar-pipeline',
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        // Maps without embedded sources: stack traces still point at lambdas/*.ts lines, the asset stays small.
        sourcesContent: false,
        target: 'node22',
        format: OutputFormat.ESM,
        banner: ESM_REQUIRE_BANNER,
        mainFields: ['module', 'main'],
        externalModules: [...UNUSED_CREDENTIAL_PROVIDERS, ...(props.nativeModules ? NATIVE_MODULES : [])],
        forceDockerBundling: false,
        logLevel: LogLevel.ERROR,
        ...(props.nativeModules
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: copyNativeModules,
              },
            }
          : {}),
      },
    });
    this.pipelineName = props.name;
    this.nativeModules = props.nativeModules ?? false;
    this.ownLogGroup = logGroup;
    this.executionRole = role;

    acknowledge(
      role,
      'Only X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) is granted on "*": these actions have ' +
        'no resource type. Every other statement names its resource.',
      'AwsSolutions-IAM5[Resource::*]',
    );
    acknowledge(
      this,
      'nodejs22.x is the runtime the design fixes (DESIGN.md section 5) and the bundles target (esbuild node22); ' +
        'it is supported by Lambda, and moving to nodejs24.x is a deliberate, tested upgrade rather than drift.',
      'AwsSolutions-L1',
    );
  }

  /** Task timeout for a state machine step that invokes this function: its own timeout plus a margin. */
  get taskTimeout(): Duration {
    return Duration.seconds((this.timeout ?? Duration.seconds(3)).toSeconds() + TASK_TIMEOUT_MARGIN_SECONDS);
  }
}

/** How a function may use the table. */
/**
 * What a function does with the job table: every handler reads, puts and updates single items and queries;
 * only the ones that clear orphan watches delete items. No scans, batch writes or stream reads.
 */
export type TableAccess = 'readWrite' | 'readWriteDelete';

const TABLE_ACTIONS: Record<TableAccess, string[]> = {
  readWrite: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  readWriteDelete: [
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
  ],
};

/** Grants the table and sets `TABLE_NAME` in one call. */
export function bindTable(fn: PipelineFunction, table: ITable, mode: TableAccess): void {
  // `grant` also covers the table's indexes.
  table.grant(fn, ...TABLE_ACTIONS[mode]);
  fn.addEnvironment('TABLE_NAME', table.tableName);
  // The grant covers the table's own indexes (`<table>/index/*`), which cdk-nag reports as a wildcard.
  acknowledge(
    fn.executionRole,
    "Access to the job table's own indexes (the `due` index read by the orphan sweeper): index names are " +
      'part of the table and grant nothing outside it.',
    wildcardResource(fn, `${table.tableArn}/index/*`),
  );
}

/** Object-level S3 actions the pipeline grants; bucket-wide grants (`grantReadWrite`) are never used. */
export type S3ObjectAction = 's3:GetObject' | 's3:PutObject' | 's3:AbortMultipartUpload' | 's3:DeleteObject';

export interface BucketBinding {
  /** Environment variable that receives the bucket name. Omit when the name arrives another way. */
  readonly env?: string;
  /** Object actions granted. */
  readonly actions: readonly S3ObjectAction[];
  /**
   * Object keys the actions apply to.
   * @default '*'
   */
  readonly keyPattern?: string;
  /**
   * Also grant `s3:ListBucket` on the bucket, so that reading a missing key answers 404 `NoSuchKey` instead of
   * 403 `AccessDenied` (S3 hides existence from callers that may not list).
   * @default false
   */
  readonly list?: boolean;
}

/** Grants exactly the given object actions on `keyPattern` and sets the bucket-name env var in one call. */
export function bindBucket(fn: PipelineFunction, bucket: IBucket, binding: BucketBinding): void {
  const objects = bucket.arnForObjects(binding.keyPattern ?? '*');
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...binding.actions], resources: [objects] }));
  acknowledge(
    fn.executionRole,
    `${binding.actions.join(', ')} on the objects "${binding.keyPattern ?? '*'}" of one bucket: object keys are ` +
      'derived from the job stems people choose, so they cannot be listed in advance.',
    wildcardResource(fn, objects),
  );
  if (binding.list) {
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
    );
  }
  if (binding.env) fn.addEnvironment(binding.env, bucket.bucketName);
}

/**
 * Grants `GetSecretValue` on one secret and puts its name or ARN (never its value) in `env`. The handler reads the
 * value at run time through Secrets Manager.
 */
export function bindSecret(fn: PipelineFunction, env: string, secret: ISecret, ref: 'name' | 'arn'): void {
  secret.grantRead(fn);
  fn.addEnvironment(env, ref === 'arn' ? secret.secretArn : secret.secretName);
}
