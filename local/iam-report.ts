import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildReport, readUsage, renderReport, unusedGrants } from './iam/report.js';

/**
 * `npm run iam:report [-- --check]`: which statement of the template allowed how many calls of the last test
 * run's local stacks (each stack writes its counts to .vitest/iam-usage when it stops). With --check it fails
 * when a statement allowed nothing and is not listed with its reason, or when a call was refused outside the
 * tests that cut a permission on purpose.
 */
const { values } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    dir: { type: 'string', default: resolve(import.meta.dirname, '..', '.vitest', 'iam-usage') },
  },
});
const report = buildReport(readUsage(values.dir));
if (report.stacks === 0) {
  console.error(`No usage recorded in ${values.dir}: run the end-to-end tests first (npm run test:e2e).`);
  process.exit(values.check ? 1 : 0);
}
console.log(renderReport(report));
const unused = unusedGrants(report);
const problems = [
  ...unused.map(
    (r) => `unused grant: ${r.id} (${r.owner}: ${r.actions.join(', ')} on ${r.resources.join(', ')})`,
  ),
  ...report.unexpectedRefusals.map((r) => `refused: ${r.message}`),
];
if (problems.length > 0) {
  console.log(`\n${problems.length} problem(s):\n${problems.map((p) => `- ${p}`).join('\n')}`);
  if (values.check) process.exit(1);
} else {
  console.log('\nEvery statement allowed a call or is listed with its reason; no call was refused.');
}
