import { createRequire } from 'node:module';
import type { CfnResource, CfnValue, FunctionName, LocalAssembly } from '../template.js';
import { LOCAL_ACCOUNT, localFunctionName } from '../template.js';
import { type Principal, type SourcedStatement, type Statement, unsupportedOperators } from './policy.js';

/**
 * Who is who in local mode, read from the synthesized template: a principal per function (its execution role's
 * policies), the state machine (its role), the services that invoke functions through resource policies
 * (EventBridge rules, the HTTP API), the local administrator (the operator CLI and S3 clients of the user),
 * and the resource policies of buckets, functions and secrets.
 */

/** One statement of the template, for the least-privilege report. */
export interface CatalogEntry {
  id: string;
  /** The role (or resource) whose policy holds it. */
  owner: string;
  statement: Statement;
}

export interface IamModel {
  /** By access key id: each function signs its calls with its own key, which maps to its role. */
  byAccessKey: Map<string, Principal>;
  functions: Record<FunctionName, Principal & { accessKeyId: string; secretAccessKey: string }>;
  stateMachine: Principal;
  admin: Principal & { accessKeyId: string; secretAccessKey: string };
  /** Bucket policies by bucket name. */
  bucketPolicies: Map<string, SourcedStatement[]>;
  /** Lambda resource policies (AWS::Lambda::Permission) by function ARN. */
  functionPolicies: Map<string, SourcedStatement[]>;
  /** Secret resource policies by secret ARN. */
  secretPolicies: Map<string, SourcedStatement[]>;
  /** Every identity-based and resource-based statement, in template order. */
  catalog: CatalogEntry[];
}

/**
 * The local administrator: the documented principal of the operator CLI, the AWS CLI and the tests. It keeps
 * the credentials local mode always had, so `--endpoint-url` examples work unchanged.
 */
export const ADMIN_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const ADMIN_ARN = `arn:aws:iam::${LOCAL_ACCOUNT}:user/local-administrator`;

/** A 20-character access key id per function, as AWS's temporary (`ASIA…`) keys look. */
export function functionAccessKeyId(name: FunctionName): string {
  return `ASIALOCAL${name.toUpperCase()}`.padEnd(20, 'X').slice(0, 20);
}

const asStatements = (document: CfnValue | undefined): Statement[] => {
  const statements = (document as { Statement?: Statement | Statement[] } | undefined)?.Statement;
  return statements === undefined ? [] : Array.isArray(statements) ? statements : [statements];
};

export function buildIamModel(assembly: LocalAssembly): IamModel {
  const { resources, resolve } = assembly;
  const catalog: CatalogEntry[] = [];
  const roleStatements = new Map<string, SourcedStatement[]>();
  const roleName = (logicalId: string) => String(resolve({ Ref: logicalId }));
  const entries = Object.entries(resources);

  const add = (owner: string, policyId: string, document: CfnValue | undefined): SourcedStatement[] =>
    asStatements(resolve(document ?? null)).map((statement, index) => {
      const bad = unsupportedOperators(statement);
      if (bad.length > 0)
        throw new Error(
          `Local mode cannot evaluate the condition operator(s) ${bad.join(', ')} in ${policyId}; it refuses to guess.`,
        );
      const id = `${policyId}#${index}`;
      catalog.push({ id, owner, statement });
      return { statement, id };
    });

  for (const [logicalId, r] of entries) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    const props = r.Properties ?? {};
    if (Array.isArray(props.ManagedPolicyArns) && props.ManagedPolicyArns.length > 0)
      throw new Error(
        `Role ${logicalId} has managed policies, whose statements local mode cannot know: list them as inline policies or run with --iam off.`,
      );
    const statements: SourcedStatement[] = [];
    for (const [i, policy] of ((props.Policies ?? []) as { PolicyDocument: CfnValue }[]).entries())
      statements.push(...add(roleName(logicalId), `${logicalId}.Policies[${i}]`, policy.PolicyDocument));
    roleStatements.set(roleName(logicalId), statements);
  }
  for (const [logicalId, r] of entries) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const props = r.Properties ?? {};
    for (const role of (resolve(props.Roles ?? []) as string[]) ?? []) {
      const owned = add(role, logicalId, props.PolicyDocument);
      roleStatements.set(role, [...(roleStatements.get(role) ?? []), ...owned]);
    }
  }

  const rolePrincipal = (roleRef: CfnValue | undefined, session: string): Principal => {
    const roleArn = String(resolve(roleRef ?? null));
    const name = roleArn.split('/').pop() ?? roleArn;
    return {
      arn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${name}/${session}`,
      kind: 'AWS',
      names: [roleArn, `arn:aws:iam::${LOCAL_ACCOUNT}:root`, LOCAL_ACCOUNT],
      identity: roleStatements.get(name) ?? [],
    };
  };

  const functions = {} as IamModel['functions'];
  const byAccessKey = new Map<string, Principal>();
  for (const fn of Object.values(assembly.functions)) {
    const r = resources[fn.logicalId] as CfnResource;
    const accessKeyId = functionAccessKeyId(fn.name);
    functions[fn.name] = {
      ...rolePrincipal(r.Properties?.Role, localFunctionName(fn.name)),
      accessKeyId,
      secretAccessKey: `local-secret-of-${fn.name}`,
    };
    byAccessKey.set(accessKeyId, functions[fn.name]);
  }
  const machine = entries.find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')?.[1];
  const stateMachine = rolePrincipal(machine?.Properties?.RoleArn, 'local-execution');
  const admin = {
    arn: ADMIN_ARN,
    kind: 'AWS' as const,
    names: [ADMIN_ARN, `arn:aws:iam::${LOCAL_ACCOUNT}:root`, LOCAL_ACCOUNT],
    identity: [],
    admin: true,
    ...ADMIN_CREDENTIALS,
  };
  byAccessKey.set(admin.accessKeyId, admin);

  const bucketPolicies = new Map<string, SourcedStatement[]>();
  const functionPolicies = new Map<string, SourcedStatement[]>();
  const secretPolicies = new Map<string, SourcedStatement[]>();
  for (const [logicalId, r] of entries) {
    const props = r.Properties ?? {};
    if (r.Type === 'AWS::S3::BucketPolicy') {
      const bucket = String(resolve(props.Bucket ?? null));
      bucketPolicies.set(bucket, add(`bucket ${bucket}`, logicalId, props.PolicyDocument));
    } else if (r.Type === 'AWS::SecretsManager::ResourcePolicy') {
      const secret = String(resolve(props.SecretId ?? null));
      secretPolicies.set(secret, add(`secret ${secret}`, logicalId, props.ResourcePolicy));
    } else if (r.Type === 'AWS::Lambda::Permission') {
      // What Lambda's AddPermission writes into the function's policy
      // (https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html).
      const functionArn = String(resolve(props.FunctionName ?? null));
      const principal = String(resolve(props.Principal ?? null));
      const condition: Statement['Condition'] = {};
      if (props.SourceArn !== undefined)
        condition.ArnLike = { 'aws:SourceArn': String(resolve(props.SourceArn)) };
      if (props.SourceAccount !== undefined)
        condition.StringEquals = { 'aws:SourceAccount': String(resolve(props.SourceAccount)) };
      const document = {
        Statement: [
          {
            Effect: 'Allow',
            Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: principal },
            Action: String(resolve(props.Action ?? null)),
            Resource: functionArn,
            ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
          },
        ],
      } as unknown as CfnValue;
      const owned = add(`function ${functionArn.split(':').pop()}`, logicalId, document);
      functionPolicies.set(functionArn, [...(functionPolicies.get(functionArn) ?? []), ...owned]);
    }
  }
  return {
    byAccessKey,
    functions,
    stateMachine,
    admin,
    bucketPolicies,
    functionPolicies,
    secretPolicies,
    catalog,
  };
}

/** A service principal (`events.amazonaws.com`): it has no identity policies, only what resource policies grant. */
export function servicePrincipal(service: string): Principal {
  return { arn: service, kind: 'Service', names: [service], identity: [] };
}

/**
 * Teaches s3rver each function's key, so that it checks their signatures (header and presigned) as S3 does; it
 * knows only its own `S3RVER` key otherwise.
 */
export function registerS3Keys(model: IamModel): void {
  const { DUMMY_ACCOUNT } = createRequire(import.meta.url)('s3rver/lib/models/account.js') as {
    DUMMY_ACCOUNT: { createKeyPair: (id: string, secret: string) => void };
  };
  for (const fn of Object.values(model.functions))
    DUMMY_ACCOUNT.createKeyPair(fn.accessKeyId, fn.secretAccessKey);
}
