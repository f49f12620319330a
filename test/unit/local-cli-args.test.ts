import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../local/cli-args.js';
import {
  assertCloudAssembly,
  NotAnAssemblyError,
  pointFunctionsAtRunware,
} from '../../local/cloud-assembly.js';
import type { FunctionName, LocalFunction } from '../../local/template.js';

/** `npm start`'s options (local/cli.ts): parsed by a pure function; every mistake is a usage error, exit 2. */

const scratch = mkdtempSync(join(tmpdir(), 'cli-args-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('parseCliArgs', () => {
  it('reads --app with --fresh and --keep, and the defaults', () => {
    expect(parseCliArgs(['--app', 'cdk.out', '--fresh', '--keep'])).toEqual({
      ok: true,
      options: expect.objectContaining({
        app: 'cdk.out',
        fresh: true,
        keep: true,
        out: 'output',
        help: false,
      }),
    });
    expect(parseCliArgs([])).toEqual({
      ok: true,
      options: expect.objectContaining({ app: undefined, fresh: false, keep: false, portBase: undefined }),
    });
    expect(parseCliArgs(['--port-base', '4500', '--image', 'a.png'])).toMatchObject({
      ok: true,
      options: { portBase: 4500, image: 'a.png' },
    });
  });

  it('judges calls against the template by default, and takes --iam warn or off', () => {
    expect(parseCliArgs([])).toMatchObject({ ok: true, options: { iam: 'enforce' } });
    expect(parseCliArgs(['--iam', 'warn'])).toMatchObject({ ok: true, options: { iam: 'warn' } });
    expect(parseCliArgs(['--iam', 'off'])).toMatchObject({ ok: true, options: { iam: 'off' } });
  });

  it.each([
    ['an unknown option', ['--bogus'], /Unknown option '--bogus'/],
    ['a missing value at the end', ['--fresh', '--app'], /--app.*argument missing/],
    ['a missing value before another option', ['--app', '--fresh'], /--app.*ambiguous/],
    ['an empty --app', ['--app', ''], /--app wants the folder/],
    ['a stray argument', ['cdk.out'], /Unexpected argument 'cdk.out'/],
    ['a port out of range', ['--port-base', '80'], /--port-base wants a port number/],
    ['a value for a flag', ['--keep=yes'], /--keep/],
    ['an unknown IAM mode', ['--iam', 'strict'], /--iam wants one of enforce, warn, off; got "strict"/],
  ])('returns %s as an error, not an exception', (_name, args, message) => {
    const parsed = parseCliArgs(args);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toMatch(message);
  });
});

describe('assertCloudAssembly', () => {
  const assembly = (manifest: unknown, template = true) => {
    const dir = mkdtempSync(join(scratch, 'asm-'));
    if (manifest !== undefined) writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    if (template) writeFileSync(join(dir, 'AvatarPipeline.template.json'), '{}');
    return dir;
  };
  const stackManifest = {
    artifacts: {
      AvatarPipeline: {
        type: 'aws:cloudformation:stack',
        properties: { templateFile: 'AvatarPipeline.template.json' },
      },
    },
  };

  it('accepts what cdk synth writes: a manifest naming the stack, and its template', () => {
    expect(() => assertCloudAssembly(assembly(stackManifest))).not.toThrow();
  });

  it.each([
    ['a missing folder', () => join(scratch, 'nope'), /no such directory/],
    ['a folder without manifest.json', () => assembly(undefined), /not a cloud assembly \(no manifest\.json/],
    ['a manifest without the stack', () => assembly({ artifacts: {} }), /has no stack AvatarPipeline/],
    [
      'a missing template',
      () => assembly(stackManifest, false),
      /AvatarPipeline\.template\.json but it is missing/,
    ],
  ])('refuses %s in one line', (_name, dir, message) => {
    let error: unknown;
    try {
      assertCloudAssembly(dir());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NotAnAssemblyError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('pointFunctionsAtRunware', () => {
  it('replaces only the Runware endpoint and the video hosts, in the functions that have them', () => {
    const fn = (environment: Record<string, string>) => ({ environment }) as LocalFunction;
    const functions = {
      submit: fn({ RUNWARE_API_URL: 'https://api.runware.ai/v1', TABLE_NAME: 't' }),
      deliver: fn({ ALLOWED_VIDEO_HOSTS: '*.runware.ai' }),
      record: fn({ TABLE_NAME: 't' }),
    } as unknown as Record<FunctionName, LocalFunction>;
    pointFunctionsAtRunware(functions, { url: 'http://127.0.0.1:5000/v1', videoHosts: '127.0.0.1:5001' });
    expect(functions.submit.environment).toEqual({
      RUNWARE_API_URL: 'http://127.0.0.1:5000/v1',
      TABLE_NAME: 't',
    });
    expect(functions.deliver.environment).toEqual({ ALLOWED_VIDEO_HOSTS: '127.0.0.1:5001' });
    expect(functions.record.environment).toEqual({ TABLE_NAME: 't' });
  });
});
