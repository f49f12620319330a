import { defineConfig } from 'vitest/config';
import { LevelSequencer } from './test/support/sequencer';

/** Unit test files that need a process of their own: media-decode reads libvips' warnings off its process. */
const OWN_PROCESS = ['test/unit/media-decode.test.ts'];

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    // aws-cdk-lib checks each synthesized template against CloudFormation's schemas, in WebAssembly: about 6
    // CPU-seconds a synth, and the suite synthesizes dozens of times (in-process and through local mode's `cdk
    // synth`). test/infra/cfn-validation.test.ts runs that check on the real stack; everything else skips it.
    env: { CDK_VALIDATION: 'false' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Three files at a time on two cores: an end-to-end file mostly waits (on renders, settle waits, timeouts),
    // so a third one fills the cores the other two leave idle. (vitest's default is one fewer than the cores.)
    maxWorkers: 3,
    minWorkers: 1,
    sequence: { sequencer: LevelSequencer },
    // The JSON report feeds the plain pass/fail line that .ci/run prints at the end.
    reporters: ['default', ['json', { outputFile: '.vitest/report.json' }]],
    projects: [
      // Unit files run in VM contexts inside worker threads: each file still gets modules of its own, but a context
      // costs far less than a thread or a process (npm run test:unit: 61 s in processes, 54-65 s in threads, 37 s
      // in VM contexts, same machine). Node's own modules are shared, so their errors are of another realm:
      // assert them by name and code, not with instanceof (test/unit/webhook-token.test.ts).
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], exclude: OWN_PROCESS, pool: 'vmThreads' },
      },
      // What starts stacks, servers and synths runs in processes of its own.
      {
        extends: true,
        test: {
          name: 'stack',
          include: ['test/{e2e,integration,infra}/**/*.test.ts', ...OWN_PROCESS],
          pool: 'forks',
        },
      },
    ],
  },
});
