import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_NAME } from '../lib/construct-ids.js';
import type { FunctionName, LocalFunction } from './template.js';

/**
 * Running local mode from a cloud assembly `cdk synth -o <dir>` wrote before (`npm start -- --app <dir>`, as
 * `cdk deploy --app <dir>` deploys one without synthesizing again).
 */

/** `dir` is not a cloud assembly of this app; the message is one line, for the user. */
export class NotAnAssemblyError extends Error {
  override readonly name = 'NotAnAssemblyError';
}

/**
 * Throws {@link NotAnAssemblyError} unless `dir` holds what `cdk synth` writes for this app: a `manifest.json`
 * that names the stack, and the stack's template.
 */
export function assertCloudAssembly(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new NotAnAssemblyError(`--app ${dir}: no such directory (give the folder cdk synth -o wrote).`);
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile))
    throw new NotAnAssemblyError(
      `--app ${dir}: not a cloud assembly (no manifest.json; give the folder cdk synth -o wrote).`,
    );
  let artifacts: Record<string, { type?: unknown; properties?: { templateFile?: unknown } }>;
  try {
    artifacts =
      (JSON.parse(readFileSync(manifestFile, 'utf8')) as { artifacts?: typeof artifacts }).artifacts ?? {};
  } catch {
    throw new NotAnAssemblyError(`--app ${dir}: manifest.json is not valid JSON.`);
  }
  const stack = artifacts[STACK_NAME];
  const templateFile = `${STACK_NAME}.template.json`;
  if (stack?.type !== 'aws:cloudformation:stack' || stack.properties?.templateFile !== templateFile)
    throw new NotAnAssemblyError(`--app ${dir}: the cloud assembly has no stack ${STACK_NAME}.`);
  if (!existsSync(join(dir, templateFile)))
    throw new NotAnAssemblyError(`--app ${dir}: the cloud assembly names ${templateFile} but it is missing.`);
}

/**
 * Points the functions of an assembly synthesized earlier at this run's Runware. The Runware endpoint
 * (`runwareApiUrl`) and where results may be downloaded from (`allowedVideoHosts`) are synth-time settings that
 * reach the functions as `RUNWARE_API_URL` and `ALLOWED_VIDEO_HOSTS`; the assembly holds whatever they were then
 * (the real API, or a simulator of an earlier run on a port that is gone). Local mode replaces the deployment's
 * endpoints anyway (every AWS service through `AWS_ENDPOINT_URL_*`), and this is one more: the simulator keeps
 * listening on a free port instead of one the assembly might name but another process now holds, and an
 * assembly made for the real API runs against the simulator unchanged otherwise. Every other setting stays as
 * synthesized.
 */
export function pointFunctionsAtRunware(
  functions: Record<FunctionName, LocalFunction>,
  runware: { url: string; videoHosts: string },
): void {
  for (const fn of Object.values(functions)) {
    if (fn.environment.RUNWARE_API_URL !== undefined) fn.environment.RUNWARE_API_URL = runware.url;
    if (fn.environment.ALLOWED_VIDEO_HOSTS !== undefined)
      fn.environment.ALLOWED_VIDEO_HOSTS = runware.videoHosts;
  }
}
