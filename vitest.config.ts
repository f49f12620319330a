import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The JSON report feeds the plain pass/fail line that .ci/run prints at the end.
    reporters: ['default', ['json', { outputFile: '.vitest/report.json' }]],
  },
});
