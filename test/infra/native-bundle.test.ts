import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { describe, expect, it } from 'vitest';
import { LAMBDA_NATIVES_DIR, PipelineFunction, PROJECT_ROOT } from '../../lib/pipeline-function';
import { build } from './synth';

/** ELF header: `e_machine` (offset 18, little-endian) of an AArch64 object is 0xB7. */
const ELF_MACHINE_AARCH64 = 0xb7;

const lockedVersion = (lockFile: string, name: string): string | undefined =>
  JSON.parse(fs.readFileSync(lockFile, 'utf8')).packages[`node_modules/${name}`]?.version;

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('validate bundle', () => {
  it('only the validate function ships native modules', () => {
    const { stack } = build();
    const natives = Object.entries(stack.pipeline.functions)
      .filter(([, fn]) => fn.nativeModules)
      .map(([name]) => name);
    expect(natives).toEqual(['validate']);
  });

  it('carries sharp with its linux-arm64 (glibc) binary and libvips, and nothing for other platforms', () => {
    // Bundled for real, as `cdk synth` does (the other infra tests skip bundling), with the validate settings.
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'native-bundle-')) });
    const stack = new Stack(app, 'NativeBundle');
    new PipelineFunction(stack, 'Validate', {
      name: 'validate',
      timeout: Duration.seconds(60),
      nativeModules: true,
    });
    const assembly = app.synth();
    const asset = stack.node.findChild('Validate').node.findChild('Code') as Asset;
    const dir = path.join(assembly.directory, asset.assetPath);
    const modules = path.join(dir, 'node_modules');
    try {
      const version = lockedVersion(path.join(PROJECT_ROOT, 'package-lock.json'), 'sharp');
      const shipped = JSON.parse(fs.readFileSync(path.join(modules, 'sharp/package.json'), 'utf8')).version;
      expect(shipped).toBe(version);

      const binary = path.join(modules, `@img/sharp-linux-arm64/lib/sharp-linux-arm64-${version}.node`);
      expect(fs.readFileSync(binary).readUInt16LE(18)).toBe(ELF_MACHINE_AARCH64);
      const libvips = fs
        .readdirSync(path.join(modules, '@img/sharp-libvips-linux-arm64/lib'))
        .filter((f) => f.startsWith('libvips-cpp.so'));
      expect(libvips).not.toEqual([]);
      // sharp's own run-time dependencies come along.
      for (const dep of ['detect-libc', 'semver', '@img/colour'])
        expect(fs.existsSync(path.join(modules, dep, 'package.json')), dep).toBe(true);

      // Nothing for another platform: no x64, musl, macOS or Windows package or file.
      expect(
        fs.readdirSync(path.join(modules, '@img')).filter((d) => /x64|musl|darwin|win32|wasm/.test(d)),
      ).toEqual([]);
      expect(filesUnder(modules).filter((f) => /x64|x86_64/.test(path.relative(modules, f)))).toEqual([]);
      for (const file of filesUnder(modules).filter((f) => f.endsWith('.node'))) {
        expect(fs.readFileSync(file).readUInt16LE(18), file).toBe(ELF_MACHINE_AARCH64);
      }

      // The bundle imports sharp from node_modules instead of inlining it.
      expect(fs.readFileSync(path.join(dir, 'index.mjs'), 'utf8')).toMatch(
        /import\("sharp"\)|from\s*"sharp"/,
      );
    } finally {
      fs.rmSync(assembly.directory, { recursive: true, force: true });
    }
  }, 120_000);

  it('lambda-natives pins the same sharp and libvips as the root lock file', () => {
    const root = path.join(PROJECT_ROOT, 'package-lock.json');
    const natives = path.join(LAMBDA_NATIVES_DIR, 'package-lock.json');
    for (const name of ['sharp', '@img/sharp-linux-arm64', '@img/sharp-libvips-linux-arm64']) {
      expect(lockedVersion(natives, name), name).toBeDefined();
      expect(lockedVersion(natives, name), name).toBe(lockedVersion(root, name));
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(LAMBDA_NATIVES_DIR, 'package.json'), 'utf8'));
    expect(manifest.dependencies.sharp).toBe(lockedVersion(root, 'sharp'));
  });
});
