import { parseArgs } from 'node:util';
import { cancel } from './commands/cancel.js';
import type { Outcome } from './commands/common.js';
import { cost } from './commands/cost.js';
import { estimate } from './commands/estimate.js';
import { jobs } from './commands/jobs.js';
import { retry } from './commands/retry.js';
import { status } from './commands/status.js';
import { submit } from './commands/submit.js';
import { consoleCommand, parsePort } from './console/command.js';
import { CliError, EXIT } from './errors.js';
import { priceTable } from './prices.js';
import { resolveTarget, targetError } from './target.js';

const USAGE = `Usage: avatar-pipeline <command> [options]

Commands:
  submit --image F --audio F [--prompt T --format MP4|WEBM|MOV --quality N --results N --stem S] [--wait]
                          upload the sidecar (if any settings), then the pair; --wait follows the job to its end
  status <stem|jobId>     the job's record in words: stages with times, cost, outputs or error
  jobs [--state S] [--since T]
                          the jobs with their cost, and the total
  cancel <stem|jobId>     stop a running job: it ends CANCELLED, its Runware slot given back, nothing more
                          charged (a task Runware already accepted cannot be recalled: its charge may come)
  retry <stem|jobId> [--wait]
                          a new attempt of a FAILED or CANCELLED job with the same inputs (no upload)
  estimate --audio F [--results N --model pro|standard]
                          what a job with this audio would cost, at the target's price table
                          (the default table, saying why, when no stack can be reached)
  cost [--since T]        the recorded cost of the jobs
  console [--port N] [--read-only]
                          a review page in the browser: the batch, each job's timeline, inputs and videos,
                          retry and cancel; prints the address to open (with its access token) first

Target (the same commands work on both):
  --local                 the local stack of 'npm start -- --keep' (found through .local/endpoints.json)
  --endpoints FILE        another endpoints file written by a local stack
  --stack NAME            a deployed stack, found by its CloudFormation outputs (default AvatarPipeline)
  --profile P --region R  AWS credentials profile and region (default: the usual AWS credential chain)
  With neither --local nor --stack: local if its endpoints file is live, else the deployed stack.

Options:
  --json                  one JSON document on stdout (progress goes to stderr)
  --timeout SECONDS       how long submit --wait and retry --wait wait (default 3600)
  --since T               2026-11-01, an ISO time, or a span back from now: 90m, 24h, 7d

Exit codes: 0 ok, 1 the job failed or was cancelled, 2 usage, 3 unknown job, 4 target unavailable (local stack
not running, stack not found, no credentials), 5 timed out waiting, 6 the job is not in a state for this
(cancel an ended job, retry a running or delivered one, retry after its inputs changed).`;

const OPTIONS = {
  image: { type: 'string' },
  audio: { type: 'string' },
  prompt: { type: 'string' },
  format: { type: 'string' },
  quality: { type: 'string' },
  results: { type: 'string' },
  stem: { type: 'string' },
  model: { type: 'string' },
  state: { type: 'string' },
  since: { type: 'string' },
  wait: { type: 'boolean', default: false },
  timeout: { type: 'string', default: '3600' },
  json: { type: 'boolean', default: false },
  local: { type: 'boolean', default: false },
  endpoints: { type: 'string' },
  stack: { type: 'string' },
  profile: { type: 'string' },
  region: { type: 'string' },
  port: { type: 'string' },
  'read-only': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function required(values: Values, name: 'image' | 'audio', command: string): string {
  const value = values[name];
  if (!value) throw new CliError(`${command} needs --${name} FILE.`, EXIT.usage, 'USAGE');
  return value;
}

function timeoutOf(values: Values): number {
  const timeoutSeconds = Number(values.timeout);
  if (!(timeoutSeconds > 0))
    throw new CliError('--timeout must be a number of seconds.', EXIT.usage, 'USAGE');
  return timeoutSeconds;
}

async function run(command: string | undefined, rest: string[], values: Values): Promise<Outcome> {
  const options = {
    local: values.local,
    ...(values.endpoints ? { endpoints: values.endpoints } : {}),
    ...(values.stack ? { stack: values.stack } : {}),
    ...(values.profile ? { profile: values.profile } : {}),
    ...(values.region ? { region: values.region } : {}),
  };
  const target = () => resolveTarget(options);
  switch (command) {
    case 'submit': {
      const timeoutSeconds = timeoutOf(values);
      return submit(await target(), {
        image: required(values, 'image', 'submit'),
        audio: required(values, 'audio', 'submit'),
        ...(values.prompt !== undefined ? { prompt: values.prompt } : {}),
        ...(values.format !== undefined ? { format: values.format } : {}),
        ...(values.quality !== undefined ? { quality: values.quality } : {}),
        ...(values.results !== undefined ? { results: values.results } : {}),
        ...(values.stem !== undefined ? { stem: values.stem } : {}),
        wait: values.wait,
        timeoutSeconds,
        progress: progressWriter(values.json),
      });
    }
    case 'status': {
      const [ref] = rest;
      if (!ref) throw new CliError('status needs a stem or a job id.', EXIT.usage, 'USAGE');
      return status(await target(), ref);
    }
    case 'cancel': {
      const [ref] = rest;
      if (!ref) throw new CliError('cancel needs a stem or a job id.', EXIT.usage, 'USAGE');
      return cancel(await target(), ref);
    }
    case 'retry': {
      const [ref] = rest;
      if (!ref) throw new CliError('retry needs a stem or a job id.', EXIT.usage, 'USAGE');
      return retry(await target(), ref, {
        wait: values.wait,
        timeoutSeconds: timeoutOf(values),
        progress: progressWriter(values.json),
      });
    }
    case 'jobs':
      return jobs(await target(), {
        ...(values.state ? { state: values.state } : {}),
        ...(values.since ? { since: values.since } : {}),
      });
    case 'cost':
      return cost(await target(), values.since ? { since: values.since } : {});
    case 'estimate':
      return estimate(
        {
          audio: required(values, 'audio', 'estimate'),
          ...(values.results ? { results: values.results } : {}),
          ...(values.model ? { model: values.model } : {}),
        },
        () => priceTable(options),
      );
    case 'console':
      return consoleCommand(options, {
        port: parsePort(values.port),
        readOnly: values['read-only'],
        print: (line) => console.log(line),
        note: (line) => console.error(line),
        stopped: new Promise((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        }),
      });
    default:
      throw new CliError(command ? `Unknown command "${command}".\n\n${USAGE}` : USAGE, EXIT.usage, 'USAGE');
  }
}

/** On a terminal, one line rewritten in place; otherwise a new line per change (logs, pipes, --json). */
function progressWriter(json: boolean): (line: string, final: boolean) => void {
  const stream = json ? process.stderr : process.stdout;
  const live = stream.isTTY === true;
  return (line, final) => {
    if (final) {
      if (live) stream.write('\n');
      return;
    }
    if (live) stream.write(`\r\x1b[2K${line}`);
    else stream.write(`${line}\n`);
  };
}

async function main(argv: string[]): Promise<number> {
  let json = argv.includes('--json');
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
    json = values.json;
    // `npx avatar-pipeline --help` gives --help to npx: `help` as a command works through it.
    if (values.help || positionals[0] === 'help') {
      console.log(USAGE);
      return EXIT.ok;
    }
    const [command, ...rest] = positionals;
    const outcome = await run(command, rest, values);
    console.log(json ? JSON.stringify(outcome.json, null, 2) : outcome.text);
    return outcome.exitCode ?? EXIT.ok;
  } catch (caught) {
    const error =
      caught instanceof TypeError && 'code' in caught && String(caught.code).startsWith('ERR_PARSE_ARGS')
        ? new CliError(
            `${caught.message}\n\nRun avatar-pipeline --help for the options.`,
            EXIT.usage,
            'USAGE',
          )
        : targetError(caught);
    const cli = error instanceof CliError ? error : undefined;
    if (json) console.log(JSON.stringify({ error: { code: cli?.code ?? 'ERROR', message: error.message } }));
    console.error(cli ? `avatar-pipeline: ${error.message}` : (error.stack ?? error.message));
    return cli?.exitCode ?? 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
