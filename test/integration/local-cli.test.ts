import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `npm start` run as a user runs it, with options it refuses: each mistake is a usage error, exit 2, before anything
 * starts or is deleted. (The parsing itself is unit-tested in test/unit/local-cli-args.test.ts.)
 */

const ROOT = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'cli-args-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('npm start with a bad option', () => {
  const start = async (...args: string[]) =>
    promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'local', 'cli.ts'), ...args], {
      cwd: scratch,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it('prints the reason and the usage, exit 2, no stack trace', async () => {
    const { code, stderr } = await start('--app');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^Option '--app <value>' argument missing/);
    expect(stderr).toContain('Usage: npm start -- [options]');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('says in one line that a folder is not a cloud assembly, exit 2, and deletes nothing', async () => {
    mkdirSync(join(scratch, '.local', 's3'), { recursive: true });
    const { code, stderr } = await start('--fresh', '--app', scratch);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(
      `--app ${scratch}: not a cloud assembly (no manifest.json; give the folder cdk synth -o wrote).`,
    );
    expect(() => mkdirSync(join(scratch, '.local', 's3'))).toThrow(/EEXIST/);
  });
});
