import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assemblyKey, cachedAssembly, sourcesKey } from '../../local/assembly-cache.js';

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

describe('a synth of other settings from the same sources', () => {
  /**
   * A stand-in for `cdk synth` that writes what the template loader reads: a function whose asset is its bundle
   * (`asset.<hash>`), or, without bundling, the project folder, as the CDK writes it then.
   */
  const calls: { context: Record<string, string>; skipBundling: boolean }[] = [];
  const cdkLike = async (outdir: string, context: Record<string, string>, { skipBundling = false } = {}) => {
    calls.push({ context, skipBundling });
    mkdirSync(outdir, { recursive: true });
    writeFileSync(join(outdir, 'manifest.json'), '{}');
    const asset = (fn: string) => {
      if (skipBundling) return root;
      mkdirSync(join(outdir, `asset.${fn}`), { recursive: true });
      writeFileSync(join(outdir, `asset.${fn}`, 'index.mjs'), `export const handler = '${fn}';`);
      return `asset.${fn}`;
    };
    const template = {
      Resources: {
        Ingest: { Type: 'AWS::Lambda::Function', Metadata: { 'aws:asset:path': asset('ingest') } },
        Table: { Type: 'AWS::DynamoDB::Table', Properties: { settle: context.settleSeconds } },
      },
    };
    writeFileSync(join(outdir, 'Stack.template.json'), JSON.stringify(template));
  };
  beforeEach(() => {
    calls.length = 0;
  });

  it('bundles once and gives each later setting the same bundles, with its own template', async () => {
    const first = await cachedAssembly({ settleSeconds: '1' }, cdkLike, { cacheDir, root });
    const second = await cachedAssembly({ settleSeconds: '5' }, cdkLike, { cacheDir, root });
    expect(calls.map((c) => c.skipBundling)).toEqual([false, true]);
    const template = JSON.parse(readFileSync(join(second.dir, 'Stack.template.json'), 'utf8'));
    // The settings are the second synth's; the function's asset is the first synth's bundle, in the new assembly.
    expect(template.Resources.Table.Properties.settle).toBe('5');
    expect(template.Resources.Ingest.Metadata['aws:asset:path']).toBe('asset.ingest');
    const bundle = join(second.dir, 'asset.ingest', 'index.mjs');
    expect(readFileSync(bundle, 'utf8')).toBe("export const handler = 'ingest';");
    // Linked, not copied, and still there when the first assembly is gone.
    expect(statSync(bundle).ino).toBe(statSync(join(first.dir, 'asset.ingest', 'index.mjs')).ino);
    rmSync(first.dir, { recursive: true });
    expect(readFileSync(bundle, 'utf8')).toBe("export const handler = 'ingest';");
  });

  it('bundles once when several settings of new sources are asked for at once', async () => {
    const all = await Promise.all(
      ['1', '2', '3'].map((settle) => cachedAssembly({ settleSeconds: settle }, cdkLike, { cacheDir, root })),
    );
    expect(new Set(all.map((a) => a.dir)).size).toBe(3);
    expect(calls.filter((c) => !c.skipBundling)).toHaveLength(1);
    for (const { dir } of all) expect(existsSync(join(dir, 'asset.ingest', 'index.mjs'))).toBe(true);
  });

  it('bundles again when the sources changed', async () => {
    await cachedAssembly({ settleSeconds: '1' }, cdkLike, { cacheDir, root });
    const before = sourcesKey(root);
    writeFileSync(join(root, 'lambdas', 'core', 'job.ts'), 'job changed');
    expect(sourcesKey(root)).not.toBe(before);
    await cachedAssembly({ settleSeconds: '5' }, cdkLike, { cacheDir, root });
    expect(calls.map((c) => c.skipBundling)).toEqual([false, false]);
  });

  it('keeps nothing when the earlier synth lacks a bundle the template needs', async () => {
    const first = await cachedAssembly({ settleSeconds: '1' }, cdkLike, { cacheDir, root });
    rmSync(join(first.dir, 'asset.ingest'), { recursive: true });
    await expect(cachedAssembly({ settleSeconds: '5' }, cdkLike, { cacheDir, root })).rejects.toThrow(
      /No bundle of Ingest/,
    );
    expect(readdirSync(cacheDir).filter((name) => !name.startsWith('.'))).toEqual([first.key]);
  });
});
