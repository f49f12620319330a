import { STACK_NAME } from '../../lib/construct-ids.js';
import type { Outcome } from '../commands/common.js';
import { CliError, EXIT } from '../errors.js';
import { priceTable } from '../prices.js';
import { chosenLocal, resolveTarget, stackOutputs, type TargetOptions } from '../target.js';
import { limitsFromOutputs, type PublishedLimits, TargetBackend } from './backend.js';
import { startConsole } from './server.js';

export interface ConsoleCommandOptions {
  port: number;
  readOnly: boolean;
  /** Where the address and the notes go (stdout: its first line that starts with `http` is the address). */
  print: (line: string) => void;
  note: (line: string) => void;
  /** Resolves when the console should stop (Ctrl-C). */
  stopped: Promise<unknown>;
}

export function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new CliError('--port must be a port number (0 for any free one).', EXIT.usage, 'USAGE');
  return port;
}

/** The limits the target publishes (local: its endpoints file; deployed: the stack's outputs). */
async function publishedLimits(options: TargetOptions): Promise<PublishedLimits> {
  const local = chosenLocal(options);
  if (local) return limitsFromOutputs(local.local?.outputs);
  try {
    return limitsFromOutputs((await stackOutputs(options.stack ?? STACK_NAME, options)).outputs);
  } catch {
    return {};
  }
}

/** `avatar-pipeline console`: serves the review page until stopped. */
export async function consoleCommand(target: TargetOptions, o: ConsoleCommandOptions): Promise<Outcome> {
  const resolved = await resolveTarget(target);
  const backend = new TargetBackend(resolved, {
    limits: await publishedLimits(target),
    readPrices: () => priceTable(target),
  });
  const running = await startConsole({ backend, port: o.port, readOnly: o.readOnly }).catch(
    (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
        throw new CliError(
          `Port ${o.port} is in use: pass another --port, or 0 for any free one.`,
          EXIT.usage,
          'USAGE',
        );
      throw error;
    },
  );
  o.print(running.url);
  o.note(
    `Review console for ${resolved.description}${o.readOnly ? ' (read-only)' : ''}: open the address above ` +
      '(it carries the access token; it listens on 127.0.0.1 only). Ctrl-C stops it.',
  );
  await o.stopped;
  await running.close();
  return { json: { stopped: true }, text: 'Console stopped.' };
}
