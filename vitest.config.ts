import { defineConfig } from 'vitest/config';
import { LevelSequencer } from './test/support/sequencer';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    // aws-cdk-lib checks each synthesized template against CloudFormation's schemas, in WebAssembly: about 6
    // CPU-seconds a synth, and the suite synthesizes dozens of times (in-process and through local mode's `cdk
    // synth`). test/infra/cfn-validation.test.ts runs that check on the real stack; everything else skips it.
    env: { CDK_VALIDATION: 'false' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Three files at a time on two cores: an end-to-end file mostly waits (on renders, settle waits, timeouts),
    // so a third one fills the cores the other two leave idle. (vitest's default is one fewer than the cores.)
    maxWorkers: 3,
    minWorkers: 1,
    sequence: { sequencer: LevelSequencer },
    // The JSON report feeds the plain pass/fail line that .ci/run prints at the end.
    reporters: ['default', ['json', { outputFile: '.vitest/report.json' }]],
  },
});
