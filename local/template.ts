import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reads what `cdk synth` produced (the CloudFormation template and the Lambda bundles) so that local mode runs
 * exactly those: the same state machine definition and the same bundled handlers, with every CloudFormation
 * reference resolved to a local stand-in.
 */

type CfnValue = string | number | boolean | null | CfnValue[] | { [key: string]: CfnValue };

interface CfnResource {
  Type: string;
  Properties?: Record<string, CfnValue>;
  Metadata?: Record<string, CfnValue>;
}

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

import { PIPELINE_FUNCTION_NAMES, type PipelineFunctionName } from '../lib/function-names.js';

export const FUNCTION_NAMES = PIPELINE_FUNCTION_NAMES;
export type FunctionName = PipelineFunctionName;

export interface LocalFunction {
  name: FunctionName;
  logicalId: string;
  /** Folder of the bundle (`index.mjs`). */
  assetDir: string;
  handler: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** `ReservedConcurrentExecutions` when the template sets it: local mode runs at most this many at once. */
  reservedConcurrency?: number;
  /** Environment of the function with every reference resolved. */
  environment: Record<string, string>;
  arn: string;
}

/** Physical names of the stateful resources in local mode. */
export interface LocalNames {
  inputBucket: string;
  outputBucket: string;
  tableName: string;
  stateMachineArn: string;
  webhookSecretArn: string;
  /** Origin of the local webhook endpoint (stands in for the HTTP API's `ApiEndpoint`). */
  webhookOrigin: string;
}

/** The table as the template declares it (keys and indexes), for creating it in the local DynamoDB. */
export interface TableDefinition {
  AttributeDefinitions: { AttributeName: string; AttributeType: string }[];
  KeySchema: { AttributeName: string; KeyType: string }[];
  GlobalSecondaryIndexes?: {
    IndexName: string;
    KeySchema: { AttributeName: string; KeyType: string }[];
    Projection: { ProjectionType: string };
  }[];
}

export interface LocalAssembly {
  table: TableDefinition;
  functions: Record<FunctionName, LocalFunction>;
  /** The state machine definition (ASL) with Lambda ARNs resolved to local ARNs. */
  definition: Record<string, unknown>;
  /** The input bucket's, output bucket's and others' logical ids, for the record. */
  names: LocalNames;
  /** Which function a local Lambda ARN means. */
  functionByArn: Map<string, FunctionName>;
}

export function loadAssembly(cdkOut: string, stackName: string, webhookOrigin: string): LocalAssembly {
  const template = JSON.parse(readFileSync(join(cdkOut, `${stackName}.template.json`), 'utf8')) as {
    Resources: Record<string, CfnResource>;
  };
  const resources = template.Resources;
  const byType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const pathOf = (r: CfnResource) => String(r.Metadata?.['aws:cdk:path'] ?? '');
  const find = (type: string, pathPart: string): string => {
    const hit = byType(type).find(([, r]) => pathOf(r).includes(pathPart));
    if (!hit) throw new Error(`No ${type} whose path contains ${pathPart} in the synthesized template`);
    return hit[0];
  };

  const ids = {
    inputBucket: find('AWS::S3::Bucket', '/InputBucket/'),
    outputBucket: find('AWS::S3::Bucket', '/OutputBucket/'),
    table: find('AWS::DynamoDB::Table', '/Table/'),
    stateMachine: find('AWS::StepFunctions::StateMachine', '/StateMachine/'),
    webhookSecret: find('AWS::SecretsManager::Secret', '/WebhookSigningSecret/'),
    api: find('AWS::ApiGatewayV2::Api', '/WebhookApi/'),
  };
  const names: LocalNames = {
    inputBucket: 'avatar-pipeline-input',
    outputBucket: 'avatar-pipeline-output',
    tableName: 'avatar-pipeline-jobs',
    stateMachineArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:AvatarPipeline`,
    webhookSecretArn: `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:avatar-pipeline/webhook-signing-secret-AbCdEf`,
    webhookOrigin,
  };

  const functionIds = new Map<string, FunctionName>();
  for (const [logicalId, r] of byType('AWS::Lambda::Function')) {
    const name = FUNCTION_NAMES.find((n) =>
      pathOf(r).includes(`/${n[0]?.toUpperCase()}${n.slice(1)}Function/`),
    );
    if (name) functionIds.set(logicalId, name);
  }
  const arnOfFunction = (logicalId: string) =>
    `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:avatar-pipeline-${functionIds.get(logicalId) ?? logicalId}`;

  const physical: Record<string, { ref: string; attrs: Record<string, string> }> = {
    [ids.inputBucket]: { ref: names.inputBucket, attrs: { Arn: `arn:aws:s3:::${names.inputBucket}` } },
    [ids.outputBucket]: { ref: names.outputBucket, attrs: { Arn: `arn:aws:s3:::${names.outputBucket}` } },
    [ids.table]: { ref: names.tableName, attrs: {} },
    [ids.stateMachine]: { ref: names.stateMachineArn, attrs: { Arn: names.stateMachineArn } },
    [ids.webhookSecret]: { ref: names.webhookSecretArn, attrs: {} },
    [ids.api]: { ref: 'local-webhook-api', attrs: { ApiEndpoint: webhookOrigin } },
  };
  for (const logicalId of functionIds.keys()) {
    physical[logicalId] = {
      ref: `avatar-pipeline-${functionIds.get(logicalId)}`,
      attrs: { Arn: arnOfFunction(logicalId) },
    };
  }
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': LOCAL_REGION,
    'AWS::AccountId': LOCAL_ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
  };

  const resolve = (value: CfnValue): CfnValue => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    if ('Ref' in value) {
      const ref = String(value.Ref);
      const hit = pseudo[ref] ?? physical[ref]?.ref;
      if (hit === undefined) throw new Error(`Local mode cannot resolve Ref ${ref}`);
      return hit;
    }
    if ('Fn::GetAtt' in value) {
      const [id, attr] = value['Fn::GetAtt'] as [string, string];
      const hit = physical[id]?.attrs[attr];
      if (hit === undefined) throw new Error(`Local mode cannot resolve Fn::GetAtt ${id}.${attr}`);
      return hit;
    }
    if ('Fn::Join' in value) {
      const [separator, parts] = value['Fn::Join'] as [string, CfnValue[]];
      return parts.map((p) => String(resolve(p))).join(separator);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  };

  const functions = {} as Record<FunctionName, LocalFunction>;
  const functionByArn = new Map<string, FunctionName>();
  for (const [logicalId, name] of functionIds) {
    const r = resources[logicalId] as CfnResource;
    const props = r.Properties ?? {};
    const variables = ((props.Environment as { Variables?: Record<string, CfnValue> } | undefined)
      ?.Variables ?? {}) as Record<string, CfnValue>;
    const environment = Object.fromEntries(
      Object.entries(variables).map(([k, v]) => [k, String(resolve(v))]),
    );
    const arn = arnOfFunction(logicalId);
    functions[name] = {
      name,
      logicalId,
      assetDir: join(cdkOut, String(r.Metadata?.['aws:asset:path'])),
      handler: String(props.Handler ?? 'index.handler'),
      timeoutSeconds: Number(props.Timeout ?? 3),
      memoryMb: Number(props.MemorySize ?? 128),
      ...(props.ReservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrency: Number(props.ReservedConcurrentExecutions) }),
      environment,
      arn,
    };
    functionByArn.set(arn, name);
  }
  for (const name of FUNCTION_NAMES) {
    if (!functions[name]) throw new Error(`The synthesized template has no ${name} function`);
  }

  const machine = resources[ids.stateMachine] as CfnResource;
  const definition = JSON.parse(String(resolve(machine.Properties?.DefinitionString ?? ''))) as Record<
    string,
    unknown
  >;
  const tableProps = (resources[ids.table] as CfnResource).Properties ?? {};
  const table = {
    AttributeDefinitions: tableProps.AttributeDefinitions,
    KeySchema: tableProps.KeySchema,
    ...(tableProps.GlobalSecondaryIndexes
      ? { GlobalSecondaryIndexes: tableProps.GlobalSecondaryIndexes }
      : {}),
  } as unknown as TableDefinition;
  return { functions, definition, names, functionByArn, table };
}
