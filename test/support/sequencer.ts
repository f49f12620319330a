import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The levels, slowest first: what starts a local stack goes before the quick files that fill the tail. */
const LEVELS = ['e2e', 'integration', 'infra', 'unit'];

const levelOf = (spec: TestSpecification) => {
  const index = LEVELS.findIndex((level) => spec.moduleId.includes(`/test/${level}/`));
  return index < 0 ? LEVELS.length : index;
};

/**
 * vitest's order (failed first, then the longest by the last run's times, or the largest files when there are
 * none, as in a fresh clone), with the end-to-end files before the integration, infra and unit ones: the few long
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
