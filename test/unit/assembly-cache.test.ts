import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assemblyKey, cachedAssembly } from '../../local/assembly-cache.js';

/** A repository's synth inputs in a temp folder, and a stand-in synth that counts its runs. */
let root: string;
let cacheDir: string;
let synths: string[];

const fakeSynth = async (outdir: string, context: Record<string, string>) => {
  synths.push(JSON.stringify(context));
  await new Promise((r) => setTimeout(r, 20));
  mkdirSync(outdir, { recursive: true });
  writeFileSync(join(outdir, 'manifest.json'), JSON.stringify({ context }));
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'assembly-cache-'));
  for (const dir of ['bin', 'lib', 'lambdas/core', 'lambda-natives'])
    mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'bin', 'app.ts'), 'app');
  writeFileSync(join(root, 'lib', 'stack.ts'), 'stack');
  writeFileSync(join(root, 'lambdas', 'core', 'job.ts'), 'job');
  writeFileSync(join(root, 'package-lock.json'), '{}');
  cacheDir = join(root, 'cache');
  synths = [];
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('assemblyKey', () => {
  it('is the same for the same sources and settings in any order', () => {
    expect(assemblyKey({ a: '1', b: '2' }, root)).toBe(assemblyKey({ b: '2', a: '1' }, root));
  });

  it('changes with a setting, a source file anywhere under the app, the lock file and the environment', () => {
    const before = assemblyKey({ a: '1' }, root);
    expect(assemblyKey({ a: '2' }, root)).not.toBe(before);
    writeFileSync(join(root, 'lambdas', 'core', 'job.ts'), 'job changed');
    const afterSource = assemblyKey({ a: '1' }, root);
    expect(afterSource).not.toBe(before);
    writeFileSync(join(root, 'lambdas', 'core', 'new.ts'), 'new file');
    expect(assemblyKey({ a: '1' }, root)).not.toBe(afterSource);
    const beforeLock = assemblyKey({ a: '1' }, root);
    writeFileSync(join(root, 'package-lock.json'), '{"v":2}');
    expect(assemblyKey({ a: '1' }, root)).not.toBe(beforeLock);
    const beforeEnv = assemblyKey({ a: '1' }, root);
    process.env.CDK_DEFAULT_REGION = 'eu-west-1';
    try {
      expect(assemblyKey({ a: '1' }, root)).not.toBe(beforeEnv);
    } finally {
      delete process.env.CDK_DEFAULT_REGION;
    }
  });

  it('ignores files outside what synth reads', () => {
    const before = assemblyKey({}, root);
    writeFileSync(join(root, 'README.md'), 'docs');
    mkdirSync(join(root, 'test'));
    writeFileSync(join(root, 'test', 'x.test.ts'), 'test');
    expect(assemblyKey({}, root)).toBe(before);
  });
});

describe('cachedAssembly', () => {
  it('synthesizes once, then reuses the assembly for the same sources and settings', async () => {
    const first = await cachedAssembly({ a: '1' }, fakeSynth, { cacheDir, root });
    const second = await cachedAssembly({ a: '1' }, fakeSynth, { cacheDir, root });
    expect(first.reused).toBe(false);
    expect(second).toEqual({ ...first, reused: true });
    expect(existsSync(join(first.dir, 'manifest.json'))).toBe(true);
    expect(synths).toEqual(['{"a":"1"}']);
    writeFileSync(join(root, 'lib', 'stack.ts'), 'stack changed');
    const third = await cachedAssembly({ a: '1' }, fakeSynth, { cacheDir, root });
    expect(third.reused).toBe(false);
    expect(synths).toHaveLength(2);
  });

  it('runs one synth when several processes ask for the same assembly at once', async () => {
    const all = await Promise.all(
      [1, 2, 3].map(() => cachedAssembly({ a: '1' }, fakeSynth, { cacheDir, root })),
    );
    expect(synths).toHaveLength(1);
    expect(new Set(all.map((a) => a.dir)).size).toBe(1);
    expect(all.filter((a) => a.reused)).toHaveLength(2);
  });

  it('keeps nothing of a failed synth, and the next start synthesizes again', async () => {
    const failing = async (outdir: string) => {
      mkdirSync(outdir, { recursive: true });
      writeFileSync(join(outdir, 'half-written'), '');
      throw new Error('cdk synth failed');
    };
    await expect(cachedAssembly({}, failing, { cacheDir, root })).rejects.toThrow('cdk synth failed');
    expect(readdirSync(cacheDir)).toEqual([]);
    expect((await cachedAssembly({}, fakeSynth, { cacheDir, root })).reused).toBe(false);
  });

  it('takes over a lock left by a process that is gone', async () => {
    const key = assemblyKey({}, root);
    mkdirSync(cacheDir, { recursive: true });
    // A pid far above any pid_max: no such process.
    writeFileSync(join(cacheDir, `.${key}.lock`), '2147483646');
    expect((await cachedAssembly({}, fakeSynth, { cacheDir, root })).reused).toBe(false);
  });

  it('keeps the twelve most recently used assemblies', async () => {
    for (let i = 0; i < 14; i++) await cachedAssembly({ i: String(i) }, fakeSynth, { cacheDir, root });
    expect(readdirSync(cacheDir).filter((name) => !name.startsWith('.'))).toHaveLength(12);
    // The first two were used least recently and are gone; the last is kept.
    expect((await cachedAssembly({ i: '13' }, fakeSynth, { cacheDir, root })).reused).toBe(true);
    expect((await cachedAssembly({ i: '0' }, fakeSynth, { cacheDir, root })).reused).toBe(false);
  });
});
