import { parseArgs } from 'node:util';
import { IAM_MODES, type IamMode } from './iam/authorizer.js';

/** What `npm start -- [options]` was asked to do. */
export interface CliOptions {
  image?: string | undefined;
  audio?: string | undefined;
  prompt?: string | undefined;
  format?: string | undefined;
  stem?: string | undefined;
  out: string;
  keep: boolean;
  fresh: boolean;
  portBase?: number | undefined;
  /** A cloud assembly `cdk synth -o` wrote, run without synthesizing. */
  app?: string | undefined;
  /** How calls are judged against the template's policies (see local/iam/). */
  iam: IamMode;
  help: boolean;
}

/** The options, or why they cannot be used (one line, shown above the usage). */
export type CliArgs = { ok: true; options: CliOptions } | { ok: false; error: string };

/**
 * Parses `npm start`'s arguments. Anything `parseArgs` refuses (an unknown option, a missing value, a stray
 * argument) and a bad `--port-base` come back as an error to show with the usage, never as an exception.
 */
export function parseCliArgs(args: readonly string[]): CliArgs {
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse(args));
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  const portBase = values['port-base'] === undefined ? undefined : Number(values['port-base']);
  if (portBase !== undefined && !(Number.isInteger(portBase) && portBase >= 1024 && portBase <= 65_000))
    return { ok: false, error: '--port-base wants a port number between 1024 and 65000.' };
  if (values.app === '') return { ok: false, error: '--app wants the folder cdk synth -o wrote.' };
  const iam = IAM_MODES.find((mode) => mode === values.iam);
  if (!iam) return { ok: false, error: `--iam wants one of ${IAM_MODES.join(', ')}; got "${values.iam}".` };
  return {
    ok: true,
    options: {
      image: values.image,
      audio: values.audio,
      prompt: values.prompt,
      format: values.format,
      stem: values.stem,
      out: values.out,
      keep: values.keep,
      fresh: values.fresh,
      portBase,
      app: values.app,
      iam,
      help: values.help,
    },
  };
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      image: { type: 'string' },
      audio: { type: 'string' },
      prompt: { type: 'string' },
      format: { type: 'string' },
      stem: { type: 'string' },
      out: { type: 'string', default: 'output' },
      keep: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      'port-base': { type: 'string' },
      app: { type: 'string' },
      iam: { type: 'string', default: 'enforce' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
