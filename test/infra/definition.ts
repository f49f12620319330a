import type { Template } from 'aws-cdk-lib/assertions';
import { z } from 'zod';

const Retrier = z.looseObject({
  ErrorEquals: z.array(z.string()),
  IntervalSeconds: z.number().optional(),
  MaxAttempts: z.number().optional(),
  BackoffRate: z.number().optional(),
  MaxDelaySeconds: z.number().optional(),
  JitterStrategy: z.string().optional(),
});
const Catcher = z.looseObject({
  ErrorEquals: z.array(z.string()),
  ResultPath: z.string().nullable().optional(),
  Next: z.string(),
});
const ChoiceRule = z.looseObject({ Variable: z.string().optional(), Next: z.string() });
const State = z.looseObject({
  Type: z.string(),
  Next: z.string().optional(),
  End: z.boolean().optional(),
  Resource: z.string().optional(),
  Parameters: z.record(z.string(), z.unknown()).optional(),
  TimeoutSeconds: z.number().optional(),
  ResultPath: z.string().nullable().optional(),
  Retry: z.array(Retrier).optional(),
  Catch: z.array(Catcher).optional(),
  Choices: z.array(ChoiceRule).optional(),
  Default: z.string().optional(),
  Seconds: z.number().optional(),
  SecondsPath: z.string().optional(),
  Error: z.string().optional(),
  Cause: z.string().optional(),
});
const Definition = z.looseObject({
  StartAt: z.string(),
  States: z.record(z.string(), State),
  TimeoutSeconds: z.number().optional(),
  Comment: z.string().optional(),
});
export type AslState = z.infer<typeof State>;
export type AslDefinition = z.infer<typeof Definition>;

const PARTITION = 'aws';
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const PSEUDO: Record<string, string> = {
  'AWS::Partition': PARTITION,
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

export interface DefinitionOptions {
  /**
   * Value for a `Ref` or `Fn::GetAtt` (attribute undefined for a `Ref`); return undefined for the default
   * placeholder: a Lambda function's `Arn` becomes `arn:aws:lambda:us-east-1:123456789012:function:<LogicalId>`,
   * a `Ref` to it the logical id, pseudo parameters the values above, anything else `<LogicalId>.<Attribute>`.
   */
  resolve?: (logicalId: string, attribute: string | undefined) => string | undefined;
  /**
   * Which state machine, when the template has several.
   * @default - the only one
   */
  logicalId?: string;
}

/** Turns the synthesized `DefinitionString` (a `Fn::Join` of JSON pieces and tokens) into the ASL object. */
export function definitionOf(template: Template, options: DefinitionOptions = {}): AslDefinition {
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: unknown }>;
  const machines = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  const entry = options.logicalId ? machines.find(([id]) => id === options.logicalId) : machines[0];
  if (!entry || (!options.logicalId && machines.length !== 1)) {
    throw new Error(`expected one state machine, found ${machines.map(([id]) => id).join(', ') || 'none'}`);
  }
  const properties = z.object({ DefinitionString: z.unknown() }).parse(entry[1].Properties);
  const typeOf = (logicalId: string) => resources[logicalId]?.Type;

  const placeholder = (logicalId: string, attribute: string | undefined): string => {
    const custom = options.resolve?.(logicalId, attribute);
    if (custom !== undefined) return custom;
    if (attribute === undefined) return PSEUDO[logicalId] ?? logicalId;
    if (attribute === 'Arn' && typeOf(logicalId) === 'AWS::Lambda::Function') {
      return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`;
    }
    return `${logicalId}.${attribute}`;
  };
  const flatten = (node: unknown): string => {
    if (typeof node === 'string') return node;
    const join = z.object({ 'Fn::Join': z.tuple([z.string(), z.array(z.unknown())]) }).safeParse(node);
    if (join.success) return join.data['Fn::Join'][1].map(flatten).join(join.data['Fn::Join'][0]);
    const ref = z.object({ Ref: z.string() }).safeParse(node);
    if (ref.success) return placeholder(ref.data.Ref, undefined);
    const getAtt = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.string()]) }).safeParse(node);
    if (getAtt.success) return placeholder(getAtt.data['Fn::GetAtt'][0], getAtt.data['Fn::GetAtt'][1]);
    throw new Error(`unsupported token in DefinitionString: ${JSON.stringify(node)}`);
  };
  return Definition.parse(JSON.parse(flatten(properties.DefinitionString)));
}

/** The state named `name`, or a failed expectation naming the states that exist. */
export function stateOf(definition: AslDefinition, name: string): AslState {
  const state = definition.States[name];
  if (!state) throw new Error(`no state "${name}"; states: ${Object.keys(definition.States).join(', ')}`);
  return state;
}

/** Lambda task states: direct function ARNs and `arn:aws:states:::lambda:invoke[.pattern]`. */
export function isLambdaTask(state: AslState): boolean {
  return state.Type === 'Task' && /:lambda:|:states:::lambda:invoke/.test(state.Resource ?? '');
}
