import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { processAlive } from '../cli/endpoints-file.js';

/**
 * Synthesized apps, kept by what they were made from, so that a second `npm start` (and every e2e stack after
 * the first of its settings) skips `cdk synth`, which bundles every Lambda with esbuild (about 20 s here).
 *
 * The key is a SHA-256 of everything the synth reads: the app's own sources (`bin/`, `lib/`, `lambdas/`), the
 * files that pin what it bundles (`package-lock.json`, `lambda-natives/package-lock.json`, `cdk.json`,
 * `tsconfig.json`), the settings given as context and the environment variables the app reads. Where Runware is
 * (`runwareApiUrl`, `allowedVideoHosts`) is left out: local mode points the functions at this run's Runware after
 * loading (as for `--app`), so one assembly serves runs on any port.
 *
 * The Lambda bundles depend on the sources only, never on the settings (the settings reach the functions as
 * environment variables and the state machine definition). So a synth of other settings from the same sources
 * runs without bundling (about 7 s instead of 20 s) and takes the bundles of an earlier synth of those sources:
 * each function's asset, by its logical id, is linked into the new assembly and its template names it.
 */

const ROOT = resolve(import.meta.dirname, '..');
/** What `cdk synth` reads, relative to the repository root. Folders are read whole. */
const SYNTH_INPUTS = [
  'bin',
  'lib',
  'lambdas',
  'cdk.json',
  'tsconfig.json',
  'package-lock.json',
  'lambda-natives/package-lock.json',
];
/** The environment variables `bin/app.ts` reads. */
const SYNTH_ENVIRONMENT = ['CDK_DEFAULT_ACCOUNT', 'CDK_DEFAULT_REGION'];
/** Where the assemblies are kept: beside the installed packages, so `npm ci` starts the cache afresh. */
export const DEFAULT_ASSEMBLY_CACHE = join(ROOT, 'node_modules', '.cache', 'avatar-pipeline', 'assemblies');
/** How many assemblies are kept (the e2e suite uses a handful of settings); the least recently used go first. */
const KEEP = 12;
/** Tells `bin/app.ts` not to bundle (the cache gives the functions the bundles of an earlier synth). */
export const SKIP_BUNDLING_VARIABLE = 'AVATAR_SYNTH_SKIP_BUNDLING';
/** In each kept assembly: the key of the sources it was synthesized from (its bundles serve every setting). */
const SOURCES_FILE = '.sources';
/** Switches the cache off (`AVATAR_SYNTH_CACHE=off`): every start synthesizes. */
export const SYNTH_CACHE_VARIABLE = 'AVATAR_SYNTH_CACHE';

/** The key of the sources under `root` that the bundles are made from. */
export function sourcesKey(root = ROOT): string {
  const hash = createHash('sha256');
  // The bundles' source maps name the sources relative to where the project is: another checkout, other bundles.
  hash.update(`root\0${resolve(root)}\0`);
  for (const input of SYNTH_INPUTS) {
    for (const file of filesUnder(join(root, input))) {
      const data = readFileSync(file);
      hash.update(`${relative(root, file)}\0${data.length}\0`);
      hash.update(data);
    }
  }
  return hash.digest('hex');
}

/** The cache key of a synth with `context` from the sources under `root`. */
export function assemblyKey(context: Record<string, string>, root = ROOT): string {
  return keyOf(sourcesKey(root), context);
}

/** The cache key of a synth with `context` from the sources whose {@link sourcesKey} is `sources`. */
function keyOf(sources: string, context: Record<string, string>): string {
  const hash = createHash('sha256');
  const add = (label: string, data: string | Buffer) => {
    hash.update(`${label}\0${data.length}\0`);
    hash.update(data);
  };
  add('sources', sources);
  const sorted = Object.fromEntries(Object.entries(context).sort(([a], [b]) => a.localeCompare(b)));
  add('context', JSON.stringify(sorted));
  for (const name of SYNTH_ENVIRONMENT) add(`env:${name}`, process.env[name] ?? '');
  return hash.digest('hex');
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.name !== 'node_modules')
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => filesUnder(join(path, entry.name)));
}

export interface CachedAssembly {
  dir: string;
  key: string;
  /** False when this call synthesized it. */
  reused: boolean;
}

/**
 * The assembly synthesized from today's sources with `context`: the kept one, or a new one made by `synth`.
 * Safe when several processes ask at once (each synthesizes into its own folder and the first rename wins).
 */
export async function cachedAssembly(
  context: Record<string, string>,
  synth: (
    outdir: string,
    context: Record<string, string>,
    options: { skipBundling: boolean },
  ) => Promise<void>,
  { cacheDir = DEFAULT_ASSEMBLY_CACHE, root = ROOT }: { cacheDir?: string; root?: string } = {},
): Promise<CachedAssembly> {
  // The sources are read once: for the key, and to find an earlier synth whose bundles serve.
  const sources = sourcesKey(root);
  const key = keyOf(sources, context);
  const dir = join(cacheDir, key);
  if (existsSync(join(dir, 'manifest.json'))) {
    const now = new Date();
    utimesSync(dir, now, now);
    return { dir, key, reused: true };
  }
  mkdirSync(cacheDir, { recursive: true });
  // One synth per key at a time: a second process asking for the same key waits for the first one's result.
  const release = await lock(join(cacheDir, `.${key}.lock`));
  if (existsSync(join(dir, 'manifest.json'))) {
    release();
    return { dir, key, reused: true };
  }
  const building = join(cacheDir, `.${key}.${process.pid}.${randomBytes(4).toString('hex')}`);
  let releaseBundling: (() => void) | undefined;
  try {
    let donor = bundledAssembly(cacheDir, sources);
    if (!donor) {
      // The first synth of these sources bundles; the others wait for it and take its bundles.
      releaseBundling = await lock(join(cacheDir, `.${sources}.bundling.lock`));
      donor = bundledAssembly(cacheDir, sources);
    }
    if (donor) {
      await synth(building, context, { skipBundling: true });
      adoptBundles(building, donor);
    } else await synth(building, context, { skipBundling: false });
    writeFileSync(join(building, SOURCES_FILE), sources);
    try {
      renameSync(building, dir);
    } catch (error) {
      // Another process finished the same assembly first: theirs is the same, keep it.
      if (!existsSync(join(dir, 'manifest.json'))) throw error;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
    releaseBundling?.();
    release();
  }
  prune(cacheDir);
  return { dir, key, reused: false };
}

/** A kept assembly synthesized (with its bundles) from the sources `sources`, if there is one. */
function bundledAssembly(cacheDir: string, sources: string): string | undefined {
  for (const entry of readdirSync(cacheDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = join(cacheDir, entry.name);
    if (readFileSafe(join(dir, SOURCES_FILE)) === sources) return dir;
  }
  return undefined;
}

interface TemplateResource {
  Metadata?: Record<string, unknown>;
}

/**
 * Gives each function of the assembly in `dir`, synthesized without bundling (its asset path is the project
 * folder), the bundle of the same function (by logical id) in `donor`: linked under its own asset name, which the
 * template then names. Throws if the donor lacks one, so nothing half-adopted is kept.
 */
export function adoptBundles(dir: string, donor: string): void {
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.template.json'))) {
    const path = join(dir, name);
    const template = JSON.parse(readFileSync(path, 'utf8')) as {
      Resources?: Record<string, TemplateResource>;
    };
    const donorTemplate = JSON.parse(readFileSync(join(donor, name), 'utf8')) as typeof template;
    for (const [id, resource] of Object.entries(template.Resources ?? {})) {
      const asset = resource.Metadata?.['aws:asset:path'];
      if (typeof asset !== 'string' || !isAbsolute(asset)) continue;
      const bundle = donorTemplate.Resources?.[id]?.Metadata?.['aws:asset:path'];
      if (typeof bundle !== 'string' || isAbsolute(bundle) || !existsSync(join(donor, bundle)))
        throw new Error(`No bundle of ${id} in ${donor}`);
      if (!existsSync(join(dir, bundle))) linkTree(join(donor, bundle), join(dir, bundle));
      (resource.Metadata as Record<string, unknown>)['aws:asset:path'] = bundle;
    }
    writeFileSync(path, JSON.stringify(template, null, 1));
  }
}

/** Hard-links the files of `from` into `to` (a copy across file systems): no bytes copied, none shared by name. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) linkTree(source, target);
    else if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else {
      try {
        linkSync(source, target);
      } catch {
        copyFileSync(source, target);
      }
    }
  }
}

/**
 * Takes the lock file `path` (created exclusively, holding our pid), waiting while a live process holds it; a lock
 * left by a process that is gone is taken over. Returns its release.
 */
async function lock(path: string): Promise<() => void> {
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSafe(path) || Number.NaN);
    // An empty lock is one being written this instant; one still empty after seconds was left by a crash.
    const stale = Number.isInteger(holder) ? !processAlive(holder) : ageMs(path) > 5_000;
    if (stale) rmSync(path, { force: true });
    else await new Promise((r) => setTimeout(r, 250));
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Keeps the {@link KEEP} most recently used assemblies, and drops builds left by a killed process. */
function prune(cacheDir: string): void {
  const entries = readdirSync(cacheDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({ path: join(cacheDir, entry.name), name: entry.name }))
    .map((entry) => ({ ...entry, used: statSync(entry.path).mtimeMs }));
  const hourAgo = Date.now() - 3_600_000;
  for (const entry of entries.filter((e) => e.name.startsWith('.') && e.used < hourAgo))
    rmSync(entry.path, { recursive: true, force: true });
  const kept = entries.filter((e) => !e.name.startsWith('.')).sort((a, b) => b.used - a.used);
  for (const entry of kept.slice(KEEP)) rmSync(entry.path, { recursive: true, force: true });
}
