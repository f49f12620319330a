import type { TaskKind } from './sfn-limits.js';

/**
 * What in a state machine definition local mode's Step Functions stand-in cannot run as AWS would. Each is refused when
 * the stand-in is built, naming the state and the field: `aws-local-stepfunctions` would otherwise ignore it (JSONata,
 * variables) or run something else than AWS (a Task it would send to the real AWS Lambda).
 */
export interface UnsupportedFeature {
  /** The state's name; a state inside a Parallel branch or Map is named by its path (`Outer/Branches[0]/Inner`). */
  state: string;
  field: string;
  why: string;
}

const JSONATA = 'JSONata is not run by local mode (aws-local-stepfunctions evaluates JSONPath only)';
const VARIABLES = 'workflow variables are not run by local mode (aws-local-stepfunctions ignores Assign)';
const DISTRIBUTED = 'a distributed Map is not run by local mode';

/**
 * Fields of the JSONata query language and of variables
 * (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html,
 * https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html).
 */
const STATE_FIELDS: Record<string, string> = {
  Assign: VARIABLES,
  Arguments: JSONATA,
  Output: JSONATA,
  Items: JSONATA,
};

/**
 * Fields of a distributed Map (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html).
 */
const DISTRIBUTED_MAP_FIELDS = [
  'ItemReader',
  'ResultWriter',
  'ItemBatcher',
  'ToleratedFailureCount',
  'ToleratedFailureCountPath',
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
  'Label',
];

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Every feature of `definition` local mode cannot run. `taskKindOf` says how the stand-in serves a Task's `Resource`
 * (undefined: it has no handler for it).
 */
export function unsupportedFeatures(
  definition: unknown,
  taskKindOf: (resource: string) => TaskKind | undefined,
): UnsupportedFeature[] {
  const found: UnsupportedFeature[] = [];
  if (!isObject(definition))
    return [{ state: '(definition)', field: '', why: 'the definition is not an object' }];
  if (definition.QueryLanguage !== undefined && definition.QueryLanguage !== 'JSONPath')
    found.push({ state: '(definition)', field: 'QueryLanguage', why: JSONATA });
  visitStates(definition, '', 0, taskKindOf, found);
  return found;
}

/** Throws one error listing every feature of `definition` local mode cannot run (see {@link unsupportedFeatures}). */
export function assertRunnable(
  definition: unknown,
  taskKindOf: (resource: string) => TaskKind | undefined,
): void {
  const found = unsupportedFeatures(definition, taskKindOf);
  if (found.length === 0) return;
  const lines = found.map((f) => `  - state ${f.state}${f.field ? `, field ${f.field}` : ''}: ${f.why}`);
  throw new Error(
    `Local mode cannot run this state machine as AWS would, so it refuses to start it:\n${lines.join('\n')}`,
  );
}

function visitStates(
  machine: Json,
  prefix: string,
  depth: number,
  taskKindOf: (resource: string) => TaskKind | undefined,
  found: UnsupportedFeature[],
): void {
  const states = isObject(machine.States) ? machine.States : {};
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    const path = `${prefix}${name}`;
    const add = (field: string, why: string) => found.push({ state: path, field, why });
    if (state.QueryLanguage !== undefined && state.QueryLanguage !== 'JSONPath')
      add('QueryLanguage', JSONATA);
    for (const [field, why] of Object.entries(STATE_FIELDS)) if (field in state) add(field, why);
    for (const [i, rule] of (Array.isArray(state.Choices) ? state.Choices : []).entries()) {
      if (isObject(rule) && 'Condition' in rule) add(`Choices[${i}].Condition`, JSONATA);
      if (isObject(rule) && 'Assign' in rule) add(`Choices[${i}].Assign`, VARIABLES);
    }
    for (const [i, catcher] of (Array.isArray(state.Catch) ? state.Catch : []).entries()) {
      if (isObject(catcher) && 'Assign' in catcher) add(`Catch[${i}].Assign`, VARIABLES);
      if (isObject(catcher) && 'Output' in catcher) add(`Catch[${i}].Output`, JSONATA);
    }
    if (state.Type === 'Task') visitTask(state, depth, taskKindOf, add);
    if (state.Type === 'Map') {
      for (const field of DISTRIBUTED_MAP_FIELDS) if (field in state) add(field, DISTRIBUTED);
      const processor = isObject(state.ItemProcessor) ? state.ItemProcessor : undefined;
      const config = processor && isObject(processor.ProcessorConfig) ? processor.ProcessorConfig : undefined;
      if (config?.Mode === 'DISTRIBUTED') add('ItemProcessor.ProcessorConfig.Mode', DISTRIBUTED);
      const inner = processor ?? (isObject(state.Iterator) ? state.Iterator : undefined);
      if (inner)
        visitStates(
          inner,
          `${path}/${processor ? 'ItemProcessor' : 'Iterator'}/`,
          depth + 1,
          taskKindOf,
          found,
        );
    }
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const [i, branch] of state.Branches.entries())
        if (isObject(branch)) visitStates(branch, `${path}/Branches[${i}]/`, depth + 1, taskKindOf, found);
    }
  }
}

function visitTask(
  state: Json,
  depth: number,
  taskKindOf: (resource: string) => TaskKind | undefined,
  add: (field: string, why: string) => void,
): void {
  const resource = String(state.Resource);
  const kind = taskKindOf(resource);
  if (kind === undefined) add('Resource', `local mode has no stand-in for the resource ${resource}`);
  // The stand-in registers its Task handlers by state name at the top level; a Task inside a Parallel branch or a Map
  // would be sent by aws-local-stepfunctions to the real AWS Lambda.
  if (depth > 0) add('Type', 'a Task inside a Parallel branch or a Map is not served by local mode');
  if ('Credentials' in state)
    add(
      'Credentials',
      'cross-account Task credentials are not run by local mode (every task runs as the state machine)',
    );
  if ('TimeoutSecondsPath' in state)
    add('TimeoutSecondsPath', 'local mode times Tasks by TimeoutSeconds only');
  if ('HeartbeatSecondsPath' in state)
    add('HeartbeatSecondsPath', 'local mode times heartbeats by HeartbeatSeconds only');
  if ('HeartbeatSeconds' in state && kind !== 'wait-for-task-token')
    add('HeartbeatSeconds', 'local mode times heartbeats of .waitForTaskToken tasks only');
  // AWS: "States.TaskFailed ... matches any known error name except for States.Timeout"
  // (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). Local mode times a Lambda-ARN
  // task itself (from when the invocation starts), and the library would let States.TaskFailed match that timeout.
  if (kind === 'lambda-arn') {
    for (const field of ['Retry', 'Catch'] as const) {
      const list = Array.isArray(state[field]) ? (state[field] as unknown[]) : [];
      for (const [i, rule] of list.entries()) {
        const errors = isObject(rule) && Array.isArray(rule.ErrorEquals) ? rule.ErrorEquals : [];
        if (errors.includes('States.TaskFailed'))
          add(
            `${field}[${i}].ErrorEquals`,
            'States.TaskFailed on a Lambda-ARN task would also match local mode’s States.Timeout (AWS excludes it): name the errors',
          );
      }
    }
  }
}
