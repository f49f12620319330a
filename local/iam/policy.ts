/**
 * The subset of IAM policy evaluation that the synthesized template needs, written from AWS's documented logic:
 *
 * - Policy evaluation logic, same account:
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 *   An explicit `Deny` in any applicable policy wins; otherwise the request is allowed when an identity-based
 *   policy of the principal or a resource-based policy naming the principal allows it; otherwise it is
 *   implicitly denied.
 * - Elements: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html (`Action` /
 *   `NotAction`, `Resource` / `NotResource`, `Principal`, `Condition`). Action names are case-insensitive,
 *   resource ARNs case-sensitive; `*` matches any run of characters and `?` one character, also across `:` and
 *   `/` (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
 * - Condition operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 *   (String*, Arn*, Bool, Null, Numeric*, each with `IfExists`; values of one key are ORed, keys and operators
 *   ANDed; a missing key makes every operator but `Null` and `...IfExists` false).
 *
 * Not evaluated because the template has none: permissions boundaries, session policies, SCPs/RCPs, and
 * multi-valued `ForAllValues:` / `ForAnyValue:` keys (refused loudly if a policy uses them).
 */

export type PolicyValue = string | string[];

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: PolicyValue;
  NotAction?: PolicyValue;
  Resource?: PolicyValue;
  NotResource?: PolicyValue;
  Principal?: '*' | Record<string, PolicyValue>;
  NotPrincipal?: Record<string, PolicyValue>;
  Condition?: Record<string, Record<string, PolicyValue | boolean | number>>;
}

/** A statement together with where it came from, so that a decision can say which one allowed or denied. */
export interface SourcedStatement {
  statement: Statement;
  /** `<policy logical id>#<index>`: stable across synths of the same app. */
  id: string;
}

/** Who makes a call. `arn` is what AWS reports in errors (an assumed-role session for a Lambda function). */
export interface Principal {
  arn: string;
  /** `AWS` principals: the role ARN (and the account root) a resource policy may name. Service principals: the service. */
  kind: 'AWS' | 'Service';
  /** For `AWS` principals: the identifiers a resource policy's `Principal: { AWS: ... }` can name. */
  names: string[];
  /** Identity-based statements (roles' policies); none for a service principal. */
  identity: SourcedStatement[];
  /** Allows every action (the local administrator); explicit denies still apply. */
  admin?: boolean;
}

export interface Request {
  action: string;
  resource: string;
  /** Condition keys of the request (`aws:SecureTransport`, `aws:SourceArn`, `s3:prefix`, ...). */
  context: Record<string, string | undefined>;
}

export type Decision =
  | { allowed: true; by: string[] }
  | {
      allowed: false;
      /** How AWS words the reason in its error message. */
      reason: string;
      /** The denying statement, for an explicit deny. */
      by?: string;
    };

const list = (value: PolicyValue | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** IAM's wildcard match: `*` any run of characters, `?` exactly one; nothing else is special. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let compiled = compiledPatterns.get(key);
  if (!compiled) {
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    compiled = new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
    compiledPatterns.set(key, compiled);
  }
  return compiled.test(value);
}

/** Every call is judged: the template's few dozen patterns are compiled once. */
const compiledPatterns = new Map<string, RegExp>();

function matchesAction(statement: Statement, action: string): boolean {
  if (statement.NotAction !== undefined)
    return !list(statement.NotAction).some((p) => wildcardMatch(p, action, true));
  return list(statement.Action).some((p) => wildcardMatch(p, action, true));
}

function matchesResource(statement: Statement, resource: string): boolean {
  if (statement.NotResource !== undefined)
    return !list(statement.NotResource).some((p) => wildcardMatch(p, resource));
  // A resource-based policy may leave Resource out: it then means the resource it is attached to.
  if (statement.Resource === undefined) return true;
  return list(statement.Resource).some((p) => wildcardMatch(p, resource));
}

function matchesPrincipal(statement: Statement, principal: Principal): boolean {
  if (statement.Principal === undefined) return statement.NotPrincipal === undefined;
  if (statement.Principal === '*') return true;
  const named = list(statement.Principal[principal.kind]);
  if (principal.kind === 'Service') return named.includes(principal.names[0] ?? '');
  return named.some((n) => n === '*' || principal.names.includes(n));
}

const ARN_PARTS = 6;

/** `ArnLike`: each of the six colon-separated parts matched on its own, wildcards within a part. */
function arnLike(pattern: string, value: string): boolean {
  const p = pattern.split(':');
  const v = value.split(':');
  if (p.length < ARN_PARTS || v.length < ARN_PARTS) return false;
  const head = (parts: string[]) => [...parts.slice(0, ARN_PARTS - 1), parts.slice(ARN_PARTS - 1).join(':')];
  const [hp, hv] = [head(p), head(v)];
  return hp.every((part, i) => wildcardMatch(part, hv[i] ?? ''));
}

type Operator = (policy: string, request: string) => boolean;

const OPERATORS: Record<string, Operator> = {
  StringEquals: (p, r) => p === r,
  StringNotEquals: (p, r) => p !== r,
  StringEqualsIgnoreCase: (p, r) => p.toLowerCase() === r.toLowerCase(),
  StringNotEqualsIgnoreCase: (p, r) => p.toLowerCase() !== r.toLowerCase(),
  StringLike: (p, r) => wildcardMatch(p, r),
  StringNotLike: (p, r) => !wildcardMatch(p, r),
  ArnEquals: (p, r) => p === r,
  ArnNotEquals: (p, r) => p !== r,
  ArnLike: arnLike,
  ArnNotLike: (p, r) => !arnLike(p, r),
  Bool: (p, r) => p.toLowerCase() === r.toLowerCase(),
  NumericEquals: (p, r) => Number(p) === Number(r),
  NumericNotEquals: (p, r) => Number(p) !== Number(r),
  NumericLessThan: (p, r) => Number(r) < Number(p),
  NumericLessThanEquals: (p, r) => Number(r) <= Number(p),
  NumericGreaterThan: (p, r) => Number(r) > Number(p),
  NumericGreaterThanEquals: (p, r) => Number(r) >= Number(p),
};

/** Negated operators are true for every policy value when the request's value matches none of them. */
const NEGATED = new Set([
  'StringNotEquals',
  'StringNotEqualsIgnoreCase',
  'StringNotLike',
  'ArnNotEquals',
  'ArnNotLike',
  'NumericNotEquals',
]);

/** Whether the policy uses an operator this evaluator does not implement (refused when the policy is loaded). */
export function unsupportedOperators(statement: Statement): string[] {
  return Object.keys(statement.Condition ?? {}).filter((op) => {
    const base = op.replace(/IfExists$/, '');
    return base !== 'Null' && !(base in OPERATORS);
  });
}

function conditionsHold(statement: Statement, context: Request['context']): boolean {
  for (const [operatorName, keys] of Object.entries(statement.Condition ?? {})) {
    const ifExists = operatorName.endsWith('IfExists');
    const name = operatorName.replace(/IfExists$/, '');
    for (const [key, raw] of Object.entries(keys)) {
      const values = (Array.isArray(raw) ? raw : [raw]).map(String);
      // Condition keys are case-insensitive (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html).
      const found = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      if (name === 'Null') {
        const wantMissing = values.some((v) => v.toLowerCase() === 'true');
        if ((found === undefined) !== wantMissing) return false;
        continue;
      }
      if (found === undefined) {
        if (ifExists) continue;
        return false;
      }
      const operator = OPERATORS[name];
      if (!operator) throw new Error(`IAM condition operator ${operatorName} is not supported by local mode`);
      const holds = NEGATED.has(name)
        ? values.every((v) => operator(v, found))
        : values.some((v) => operator(v, found));
      if (!holds) return false;
    }
  }
  return true;
}

function applies(statement: Statement, request: Request): boolean {
  return (
    matchesAction(statement, request.action) &&
    matchesResource(statement, request.resource) &&
    conditionsHold(statement, request.context)
  );
}

/**
 * Evaluates a request of `principal` against its identity-based policies and the resource's policy, as AWS does
 * within one account. Decisions name the statements that allowed the call (for the least-privilege report).
 */
export function evaluate(
  principal: Principal,
  request: Request,
  resourcePolicy: readonly SourcedStatement[] = [],
): Decision {
  const identity = principal.identity.filter((s) => applies(s.statement, request));
  const resource = resourcePolicy.filter(
    (s) => matchesPrincipal(s.statement, principal) && applies(s.statement, request),
  );
  const identityDeny = identity.find((s) => s.statement.Effect === 'Deny');
  if (identityDeny)
    return {
      allowed: false,
      reason: 'with an explicit deny in an identity-based policy',
      by: identityDeny.id,
    };
  const resourceDeny = resource.find((s) => s.statement.Effect === 'Deny');
  if (resourceDeny)
    return {
      allowed: false,
      reason: 'with an explicit deny in a resource-based policy',
      by: resourceDeny.id,
    };
  const allows = [...identity, ...resource].filter((s) => s.statement.Effect === 'Allow').map((s) => s.id);
  if (allows.length > 0) return { allowed: true, by: allows };
  if (principal.admin) return { allowed: true, by: ['local-administrator'] };
  return {
    allowed: false,
    reason:
      principal.kind === 'Service' || (resourcePolicy.length > 0 && principal.identity.length === 0)
        ? `because no resource-based policy allows the ${request.action} action`
        : `because no identity-based policy allows the ${request.action} action`,
  };
}

/**
 * AWS's words for a refusal: "User: arn:… is not authorized to perform: s3:PutObject on resource: arn:…
 * because no identity-based policy allows the s3:PutObject action"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html). S3 quotes the resource
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html).
 */
export function refusalMessage(
  principal: Principal,
  request: Request,
  reason: string,
  options: { quoteResource?: boolean } = {},
): string {
  const resource = options.quoteResource ? `"${request.resource}"` : request.resource;
  return `User: ${principal.arn} is not authorized to perform: ${request.action} on resource: ${resource} ${reason}`;
}
