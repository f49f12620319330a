import type { Server } from 'node:http';
import { join } from 'node:path';
import type { LocalAwsEndpoint, LocalSecret } from '../aws-endpoint.js';
import type { LambdaHost } from '../lambda-host.js';
import type { S3FaultProxy } from '../s3-proxy.js';
import type { Stoppers } from '../services.js';
import { type FunctionName, LOCAL_ACCOUNT, LOCAL_REGION, type LocalAssembly } from '../template.js';
import { IAM_USAGE_DIR_VARIABLE, type IamMode, LocalIam } from './authorizer.js';
import { DynamoDbProxy } from './dynamodb-proxy.js';
import { authorizedInvoke, awsGuard, dynamoGuard, s3Guard } from './enforce.js';
import { buildIamModel, registerS3Keys } from './model.js';

/**
 * Puts local mode's IAM in front of every service the functions call: the S3 pass-through, a DynamoDB
 * pass-through, the AWS endpoint. Returns the judge, the DynamoDB endpoint the functions must use, and the
 * functions with their own credentials (as Lambda's runtime sets them), each mapped to its role.
 */
export async function guardServices(options: {
  assembly: LocalAssembly;
  mode: IamMode;
  logDir: string;
  s3Proxy: S3FaultProxy;
  dynamodbUrl: string;
  /** dynalite's server, when it runs in this process (see {@link DynamoDbProxy}). */
  dynamodbServer?: Server;
  awsEndpoint: LocalAwsEndpoint;
  secrets: readonly LocalSecret[];
  stoppers: Stoppers;
}): Promise<{ iam: LocalIam; functionsDynamoUrl: string; functions: LocalAssembly['functions'] }> {
  const { assembly, stoppers, secrets } = options;
  const iam = new LocalIam(buildIamModel(assembly), {
    mode: options.mode,
    logFile: join(options.logDir, 'iam.log'),
  });
  const usageDir = process.env[IAM_USAGE_DIR_VARIABLE];
  if (usageDir) stoppers.add(() => iam.writeUsage(usageDir));
  registerS3Keys(iam.model);
  options.s3Proxy.setGuard(s3Guard(iam));
  const dynamoProxy = new DynamoDbProxy(options.dynamodbUrl, options.dynamodbServer);
  const functionsDynamoUrl = await dynamoProxy.start();
  stoppers.add(() => dynamoProxy.stop());
  dynamoProxy.setGuard(dynamoGuard(iam));
  options.awsEndpoint.setGuard(
    awsGuard(iam, assembly.names, (id) => secrets.find((s) => s.arn === id || s.name === id)?.arn),
  );
  return { iam, functionsDynamoUrl, functions: withCredentials(assembly.functions, iam) };
}

/**
 * The Lambda host as each of its callers may use it: the state machine as its role, the rules as
 * `events.amazonaws.com` from their own ARN, the HTTP API as `apigateway.amazonaws.com` from its route's
 * execute-api ARN (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
 * `invoke` is looked up at each call, so that a test wrapping `stack.lambdas.invoke` sees every invocation.
 */
export function invokersOf(
  iam: LocalIam,
  assembly: LocalAssembly,
  lambdas: Pick<LambdaHost, 'invoke'>,
): Record<'stateMachine' | 'rules' | 'httpApi', Pick<LambdaHost, 'invoke'>> {
  const invoke: LambdaHost['invoke'] = (name, event, options) => lambdas.invoke(name, event, options);
  const ruleOf = new Map(assembly.rules.flatMap((r) => r.targets.map((t) => [t.function, r.arn])));
  const apiId = String(assembly.resolve({ Ref: httpApiLogicalId(assembly) }));
  const routeArn = `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${apiId}/$default/POST/runware/{taskUUID}`;
  return {
    stateMachine: { invoke: authorizedInvoke(iam, assembly, { kind: 'stateMachine' }, invoke) },
    rules: {
      invoke: authorizedInvoke(
        iam,
        assembly,
        { kind: 'service', service: 'events.amazonaws.com', sourceArn: (fn) => ruleOf.get(fn) ?? '' },
        invoke,
      ),
    },
    httpApi: {
      invoke: authorizedInvoke(
        iam,
        assembly,
        { kind: 'service', service: 'apigateway.amazonaws.com', sourceArn: () => routeArn },
        invoke,
      ),
    },
  };
}

function withCredentials(functions: LocalAssembly['functions'], iam: LocalIam): LocalAssembly['functions'] {
  return Object.fromEntries(
    Object.entries(functions).map(([name, fn]) => {
      const { accessKeyId, secretAccessKey } = iam.model.functions[name as FunctionName];
      return [
        name,
        {
          ...fn,
          environment: {
            ...fn.environment,
            AWS_ACCESS_KEY_ID: accessKeyId,
            AWS_SECRET_ACCESS_KEY: secretAccessKey,
          },
        },
      ];
    }),
  ) as unknown as LocalAssembly['functions'];
}

function httpApiLogicalId(assembly: LocalAssembly): string {
  const hit = Object.entries(assembly.resources).find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Api');
  if (!hit) throw new Error('The synthesized template has no HTTP API');
  return hit[0];
}
