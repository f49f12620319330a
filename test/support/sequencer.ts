import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The levels, slowest first: what starts processes (a local stack, servers, renders: e2e and integration, taken
 * together so that a long integration file does not start last) goes before the quick files that fill the tail.
 */
const LEVELS = [['e2e', 'integration'], ['infra'], ['unit']];

const levelOf = (spec: TestSpecification) => {
  const index = LEVELS.findIndex((level) => level.some((name) => spec.moduleId.includes(`/test/${name}/`)));
  return index < 0 ? LEVELS.length : index;
};

/**
 * vitest's order (failed first, then the longest by the last run's times, or the largest files when there are
 * none, as in a fresh clone), with the end-to-end and integration files before the infra and unit ones: the few long
 * files start at once and the many short ones fill the workers while the last long ones finish.
 */
export class LevelSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return sorted
      .map((spec, index) => ({ spec, index, level: levelOf(spec) }))
      .sort((a, b) => a.level - b.level || a.index - b.index)
      .map(({ spec }) => spec);
  }
}
