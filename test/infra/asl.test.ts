import aslValidator from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AslDefinition, definitionOf } from './definition';
import { synth } from './synth';

/** Every key path in a JSON value, with the value found there. */
function* walk(value: unknown, path = '$'): Generator<[string, unknown]> {
  yield [path, value];
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* walk(item, `${path}[${i}]`);
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) yield* walk(item, `${path}.${key}`);
  }
}

describe('the extracted state machine definition', () => {
  let definition: AslDefinition;
  beforeAll(() => {
    definition = definitionOf(synth().template);
  });

  it('is valid Amazon States Language (paths and ARNs checked)', () => {
    // The validator writes QueryLanguage into the states it is given: hand it a copy.
    const result = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('uses JSONPath only: no QueryLanguage other than JSONPath, no JSONata expression', () => {
    for (const [path, value] of walk(definition)) {
      if (path.endsWith('.QueryLanguage')) expect(value, path).toBe('JSONPath');
      if (typeof value === 'string') expect(value.trimStart().startsWith('{%'), path).toBe(false);
      if (path.endsWith('.Arguments') || path.endsWith('.Output'))
        throw new Error(`JSONata field at ${path}`);
    }
  });

  it('uses no variables (no Assign anywhere)', () => {
    const assigns = [...walk(definition)].filter(([path]) => /\.Assign$/.test(path)).map(([path]) => path);
    expect(assigns).toEqual([]);
  });

  it('sets TimeoutSeconds on every Task (aws-local-stepfunctions defaults to 60 s)', () => {
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Type === 'Task') expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
    }
  });
});
