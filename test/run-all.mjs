// `npm test`: the type-check runs beside the tests instead of before them. The tests' first seconds are spent
// waiting on the first `cdk synth` (one core bundling), which leaves a core for tsc. Fails if either fails.
import { spawn } from 'node:child_process';

const run = (command, args) =>
  new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.on('error', () => resolve(1));
  });

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const [typeCheck, tests] = await Promise.all([run(npx, ['tsc', '--noEmit']), run(npx, ['vitest', 'run'])]);
if (typeCheck !== 0) console.error('Type-check (tsc --noEmit) failed: see its errors above.');
process.exit(typeCheck || tests);
