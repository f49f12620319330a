import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CONSTRUCT_IDS, CONSTRUCT_PATHS, type LookedUpResource } from '../lib/construct-ids.js';
import {
  functionConstructId,
  PIPELINE_FUNCTION_NAMES,
  type PipelineFunctionName,
} from '../lib/function-names.js';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './events.js';

/**
 * Reads what `cdk synth` produced (the CloudFormation template and the Lambda bundles) so that local mode runs
 * exactly those: the same state machine definition and the same bundled handlers, with every CloudFormation
 * reference resolved to a local stand-in.
 */

export type CfnValue = string | number | boolean | null | CfnValue[] | { [key: string]: CfnValue };

export interface CfnResource {
  Type: string;
  Properties?: Record<string, CfnValue>;
  Metadata?: Record<string, CfnValue>;
}

export { LOCAL_ACCOUNT, LOCAL_REGION };

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
  /** `EphemeralStorage.Size` in MB, when the template sets it (Lambda's default is 512). */
  ephemeralStorageMb?: number;
  /** `ReservedConcurrentExecutions` when the template sets it: local mode runs at most this many at once. */
  reservedConcurrency?: number;
  /** Environment of the function with every reference resolved. */
  environment: Record<string, string>;
  arn: string;
  /** Retries of a failed asynchronous invocation (the function's EventInvokeConfig; Lambda's default is 2). */
  asyncRetryAttempts: number;
  /** Whether an asynchronous invocation that failed its retries goes to a destination (else Lambda drops it). */
  asyncOnFailure: boolean;
}

/** A target of an EventBridge rule, with the delivery policy the template gives it. */
export interface LocalRuleTarget {
  function: FunctionName;
  /** EventBridge's own retries of a failed delivery; local delivery does not fail, so this is for the record. */
  retryAttempts?: number;
  maximumEventAgeSeconds?: number;
  /** Whether undeliverable events go to a dead-letter queue. */
  deadLetterQueue: boolean;
}

/** An EventBridge rule of the template: an event pattern or a schedule, and its targets. */
export interface LocalRule {
  /** Its construct id (`InputObjectCreated`, ...). */
  id: string;
  arn: string;
  eventPattern?: Record<string, unknown>;
  /** `rate(5 minutes)` and the like. */
  scheduleExpression?: string;
  targets: LocalRuleTarget[];
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
  /** The EventBridge rules, with every reference resolved. */
  rules: LocalRule[];
  /** The stack's outputs whose values local mode can resolve (a deployed stack's DescribeStacks answer). */
  outputs: Record<string, string>;
  /** The template's resources as synthesized (for the IAM model: roles, policies, permissions). */
  resources: Record<string, CfnResource>;
  /** Resolves a template value (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`) to its local physical value. */
  resolve: (value: CfnValue) => CfnValue;
}

export function loadAssembly(cdkOut: string, stackName: string, webhookOrigin: string): LocalAssembly {
  const template = JSON.parse(readFileSync(join(cdkOut, `${stackName}.template.json`), 'utf8')) as {
    Resources: Record<string, CfnResource>;
    Outputs?: Record<string, { Value: CfnValue }>;
  };
  const resources = template.Resources;
  const byType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const pathOf = (r: CfnResource) => String(r.Metadata?.['aws:cdk:path'] ?? '');
  const at = (constructPath: string): string | undefined =>
    Object.entries(resources).find(([, r]) => pathOf(r) === `${stackName}/${constructPath}/Resource`)?.[0];
  const find = (resource: LookedUpResource): string => {
    const hit = at(CONSTRUCT_PATHS[resource]);
    if (!hit) throw new Error(`No resource at ${CONSTRUCT_PATHS[resource]} in the synthesized template`);
    return hit;
  };
  const ids = Object.fromEntries(
    (Object.keys(CONSTRUCT_PATHS) as LookedUpResource[]).map((r) => [r, find(r)]),
  ) as Record<LookedUpResource, string>;
  const names: LocalNames = {
    inputBucket: 'avatar-pipeline-input',
    outputBucket: 'avatar-pipeline-output',
    tableName: 'avatar-pipeline-jobs',
    stateMachineArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${LOCAL_STATE_MACHINE_NAME}`,
    webhookSecretArn: `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:avatar-pipeline/webhook-signing-secret-AbCdEf`,
    webhookOrigin,
  };

  const functionIds = new Map<string, FunctionName>();
  for (const name of FUNCTION_NAMES) {
    const logicalId = at(`${CONSTRUCT_IDS.functions.id}/${functionConstructId(name)}`);
    if (!logicalId) throw new Error(`The synthesized template has no ${name} function`);
    functionIds.set(logicalId, name);
  }
  const arnOfFunction = (logicalId: string) =>
    `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${localFunctionName(functionIds.get(logicalId) ?? logicalId)}`;

  const physical: Record<string, { ref: string; attrs: Record<string, string> }> = {
    [ids.inputBucket]: { ref: names.inputBucket, attrs: { Arn: `arn:aws:s3:::${names.inputBucket}` } },
    [ids.outputBucket]: { ref: names.outputBucket, attrs: { Arn: `arn:aws:s3:::${names.outputBucket}` } },
    [ids.table]: {
      ref: names.tableName,
      attrs: { Arn: `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${names.tableName}` },
    },
    [ids.stateMachine]: { ref: names.stateMachineArn, attrs: { Arn: names.stateMachineArn } },
    [ids.webhookSigningSecret]: { ref: names.webhookSecretArn, attrs: { Id: names.webhookSecretArn } },
    [ids.httpApi]: { ref: 'local-webhook-api', attrs: { ApiEndpoint: webhookOrigin } },
    [ids.deadLetterQueue]: { ref: 'local-dead-letter-queue', attrs: { Arn: LOCAL_DLQ_ARN } },
  };
  for (const logicalId of functionIds.keys()) {
    physical[logicalId] = {
      ref: localFunctionName(functionIds.get(logicalId) ?? logicalId),
      attrs: { Arn: arnOfFunction(logicalId) },
    };
  }
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': LOCAL_REGION,
    'AWS::AccountId': LOCAL_ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
  };

  for (const [logicalId, id] of Object.entries(ruleConstructIds(ids))) {
    const arn = ruleArn(id);
    physical[logicalId] = { ref: id, attrs: { Arn: arn } };
  }
  // Resources local mode has no stand-in for still have names and ARNs, as CloudFormation would give them: the
  // IAM policies name them (log groups, roles, the alarm topic).
  for (const [logicalId, r] of Object.entries(resources)) {
    if (physical[logicalId]) continue;
    const fallback = fallbackPhysical(logicalId, r.Type);
    if (fallback) physical[logicalId] = fallback;
  }

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
    if ('Fn::Sub' in value) {
      const sub = value['Fn::Sub'];
      const [text, variables] = (Array.isArray(sub) ? sub : [sub, {}]) as [string, Record<string, CfnValue>];
      return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
        if (name in variables) return String(resolve(variables[name] ?? ''));
        const [id, attr] = name.split('.');
        return String(resolve(attr ? { 'Fn::GetAtt': [id ?? '', attr] } : { Ref: name }));
      });
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  };

  const asyncConfigs = new Map<string, { retries: number; onFailure: boolean }>();
  for (const [, r] of byType('AWS::Lambda::EventInvokeConfig')) {
    const destinations = r.Properties?.DestinationConfig as { OnFailure?: unknown } | undefined;
    asyncConfigs.set(String(resolve(r.Properties?.FunctionName ?? '')), {
      retries: Number(r.Properties?.MaximumRetryAttempts ?? 2),
      onFailure: destinations?.OnFailure !== undefined,
    });
  }
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
      ...((props.EphemeralStorage as { Size?: CfnValue } | undefined)?.Size === undefined
        ? {}
        : { ephemeralStorageMb: Number((props.EphemeralStorage as { Size: CfnValue }).Size) }),
      ...(props.ReservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrency: Number(props.ReservedConcurrentExecutions) }),
      environment,
      arn,
      asyncRetryAttempts: asyncConfigs.get(physical[logicalId]?.ref ?? '')?.retries ?? 2,
      asyncOnFailure: asyncConfigs.get(physical[logicalId]?.ref ?? '')?.onFailure ?? false,
    };
    functionByArn.set(arn, name);
  }
  const rules = readRules(resources, ids, resolve, functionByArn);

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
  const outputs: Record<string, string> = {};
  for (const [key, output] of Object.entries(template.Outputs ?? {})) {
    try {
      outputs[key] = String(resolve(output.Value));
    } catch {
      // An output of something local mode has no stand-in for (the dashboard): not listed.
    }
  }
  return { functions, definition, names, functionByArn, table, rules, outputs, resources, resolve };
}

/** The name and ARN CloudFormation would give a resource local mode does not run but policies name. */
function fallbackPhysical(
  logicalId: string,
  type: string,
): { ref: string; attrs: Record<string, string> } | undefined {
  const name = `${STACK_PREFIX}-${logicalId}`.slice(0, 64);
  const at = `${LOCAL_REGION}:${LOCAL_ACCOUNT}`;
  switch (type) {
    case 'AWS::S3::Bucket': {
      const bucket = name.toLowerCase();
      return { ref: bucket, attrs: { Arn: `arn:aws:s3:::${bucket}` } };
    }
    case 'AWS::SQS::Queue':
      return {
        ref: `https://sqs.${LOCAL_REGION}.amazonaws.com/${LOCAL_ACCOUNT}/${name}`,
        attrs: { Arn: `arn:aws:sqs:${at}:${name}` },
      };
    case 'AWS::IAM::Role':
      return { ref: name, attrs: { Arn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${name}` } };
    case 'AWS::Logs::LogGroup':
      return { ref: name, attrs: { Arn: `arn:aws:logs:${at}:log-group:${name}:*` } };
    case 'AWS::SNS::Topic':
      return { ref: `arn:aws:sns:${at}:${name}`, attrs: { TopicArn: `arn:aws:sns:${at}:${name}` } };
    case 'AWS::KMS::Key':
      return { ref: logicalId, attrs: { Arn: `arn:aws:kms:${at}:key/${logicalId}` } };
    case 'AWS::Events::Rule':
      return { ref: name, attrs: { Arn: `arn:aws:events:${at}:rule/${name}` } };
    default:
      return undefined;
  }
}

/** CloudFormation names what it creates `<stack>-<logical id>-<suffix>`; local mode leaves the suffix out. */
const STACK_PREFIX = 'AvatarPipeline';

/** Physical name of a function in local mode (AWS generates one; local mode picks a readable one). */
export function localFunctionName(name: string): string {
  return `avatar-pipeline-${name}`;
}

export const LOCAL_STATE_MACHINE_NAME = 'AvatarPipeline';

const LOCAL_DLQ_ARN = `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:avatar-pipeline-dead-letters`;

const RuleProperties = z.object({
  EventPattern: z.record(z.string(), z.unknown()).optional(),
  ScheduleExpression: z.string().optional(),
  Targets: z.array(
    z.object({
      Arn: z.string(),
      RetryPolicy: z
        .object({
          MaximumRetryAttempts: z.number().optional(),
          MaximumEventAgeInSeconds: z.number().optional(),
        })
        .optional(),
      DeadLetterConfig: z.object({ Arn: z.string() }).optional(),
    }),
  ),
});

/** The rules' logical ids in the template, with their construct ids (what local mode names them by). */
function ruleConstructIds(ids: Record<LookedUpResource, string>): Record<string, string> {
  return {
    [ids.ingestRule]: CONSTRUCT_IDS.rules.ingestRule,
    [ids.executionEndedRule]: CONSTRUCT_IDS.rules.executionEndedRule,
    [ids.orphanSweepRule]: CONSTRUCT_IDS.rules.orphanSweepRule,
  };
}

const ruleArn = (id: string) => `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${id}`;

/** The pipeline's EventBridge rules as the template declares them, references resolved to local names. */
function readRules(
  resources: Record<string, CfnResource>,
  ids: Record<LookedUpResource, string>,
  resolve: (value: CfnValue) => CfnValue,
  functionByArn: Map<string, FunctionName>,
): LocalRule[] {
  return Object.entries(ruleConstructIds(ids)).map(([logicalId, id]) => {
    const props = RuleProperties.parse(resolve((resources[logicalId] as CfnResource).Properties ?? {}));
    return {
      id,
      arn: ruleArn(id),
      ...(props.EventPattern ? { eventPattern: props.EventPattern } : {}),
      ...(props.ScheduleExpression ? { scheduleExpression: props.ScheduleExpression } : {}),
      targets: props.Targets.map((target) => {
        const fn = functionByArn.get(target.Arn);
        if (!fn) throw new Error(`Rule ${id} targets ${target.Arn}, which local mode does not run`);
        return {
          function: fn,
          ...(target.RetryPolicy?.MaximumRetryAttempts === undefined
            ? {}
            : { retryAttempts: target.RetryPolicy.MaximumRetryAttempts }),
          ...(target.RetryPolicy?.MaximumEventAgeInSeconds === undefined
            ? {}
            : { maximumEventAgeSeconds: target.RetryPolicy.MaximumEventAgeInSeconds }),
          deadLetterQueue: target.DeadLetterConfig !== undefined,
        };
      }),
    };
  });
}
