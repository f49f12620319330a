import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { publishEndpoints } from '../cli/endpoints-file.js';
import { DynamoJobStore } from '../lambdas/core/store/jobs.js';
import { Table } from '../lambdas/core/store/table.js';
import { parseCliArgs } from './cli-args.js';
import { assertCloudAssembly, NotAnAssemblyError } from './cloud-assembly.js';
import { makeSamplePortrait, makeSampleVoice, probe } from './ffmpeg.js';
import { PortsTakenError } from './ports.js';
import { LocalStack } from './stack.js';

const USAGE = `Usage: npm start -- [options]

Runs one avatar job end to end on this machine: local S3, DynamoDB, Step Functions, the Lambda bundles from
cdk synth, and the Runware simulator (or the real API with RUNWARE_API_KEY set).

  --image FILE     portrait (.jpg .jpeg .png .webp); default: a generated sample portrait
  --audio FILE     voice track (.mp3 .wav .m4a .aac; .ogg only where acceptOggAudio is set); default: a
                   generated 6 s sample
  --prompt TEXT    prompt for the model (goes into the <stem>.json sidecar)
  --format F       MP4 (default), WEBM or MOV
  --stem NAME      job name (folder/name) in the inbox; default: demo/<image name>
  --out DIR        where the video and its record are copied; default: ./output
  --keep           keep the stack running after the job, to drop more files with any S3 client
  --fresh          start empty: delete the state kept under .local/ (S3 objects, table, executions,
                   the simulator's Runware tasks) first
  --app DIR        run the cloud assembly that \`cdk synth -o DIR\` wrote (template and Lambda bundles) instead
                   of synthesizing, as \`cdk deploy --app DIR\` would deploy it; its settings are the ones it
                   was synthesized with, except that its functions use this run's Runware (the simulator, or
                   the real API with RUNWARE_API_KEY). Combines with --fresh and --keep
  --port-base N    fixed ports: S3 on N, DynamoDB on N+1, Step Functions on N+2, webhook on N+3, so that
                   the endpoints (and the --keep exports) are the same at every start, and a job retried
                   after a restart gets its Runware webhook (else it finishes by polling); a taken port
                   stops the start before anything runs
  --iam MODE       enforce (default): every call is judged against the template's IAM and resource
                   policies and refused as AWS refuses it; warn: refusals are only logged; off: nothing is
                   judged. Refusals go to .local/logs/iam.log
  -h, --help       this text

State: by default the stack keeps its state under .local/ across starts: inputs, outputs, job records and
executions are still there after Ctrl-C and a restart, and the same bytes dropped again start nothing.
An execution that was running when the stack stopped is closed as ABORTED at the next start: its job fails
with EXECUTION_ABORTED, and uploading one of its files again retries it: the retry continues the Runware
task already sent (never a second charge). --fresh starts from nothing.`;

const parsed = parseCliArgs(process.argv.slice(2));
if (!parsed.ok) {
  // A mistyped option is the user's to fix: the reason and the usage, not a stack trace.
  console.error(`${parsed.error}\n\n${USAGE}`);
  process.exit(2);
}
const values = parsed.options;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const { portBase } = values;
const assemblyDir = values.app === undefined ? undefined : resolve(values.app);
if (assemblyDir) {
  // Before --fresh deletes anything: a folder that is not an assembly stops the start at once.
  try {
    assertCloudAssembly(assemblyDir);
  } catch (error) {
    if (!(error instanceof NotAnAssemblyError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
}

// The SDK's documented switch for its Node 20 support notice: local mode only, so that it does not land among
// the progress lines (the README states which Node versions are supported).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s`;
const say = (line: string) => console.log(`[${elapsed()}] ${line}`);
const workDir = resolve('.local');

async function main(): Promise<void> {
  const apiKey = process.env.RUNWARE_API_KEY;
  if (apiKey)
    say('RUNWARE_API_KEY is set: using the real Runware API (results are polled; this costs money).');
  if (values.fresh) {
    LocalStack.removeState(workDir);
    say('--fresh: deleted the kept state (S3 objects, table, executions); starting empty.');
  }
  const stack = await LocalStack.start({
    workDir,
    persist: true,
    ...(portBase ? { portBase } : {}),
    iam: values.iam,
    // A short settle wait keeps the demo quick; with the real API there is no webhook, so poll early. An
    // assembly given with --app runs with the settings it was synthesized with.
    ...(assemblyDir
      ? { assemblyDir }
      : { context: { settleSeconds: '2', ...(apiKey ? { waitTimeoutSeconds: '30' } : {}) } }),
    ...(apiKey ? { runwareApiKey: apiKey } : {}),
    onProgress: say,
  });
  const stop = async () => {
    await stack.stop();
  };
  process.on('SIGINT', () => {
    void stop().then(() => process.exit(130));
  });

  try {
    const samples = join(workDir, 'samples');
    mkdirSync(samples, { recursive: true });
    let image = values.image;
    let audio = values.audio;
    if (!image) {
      image = join(samples, 'portrait.png');
      await makeSamplePortrait(image);
      say(`No --image: generated a sample portrait (${image}).`);
    }
    if (!audio) {
      audio = join(samples, 'voice.wav');
      await makeSampleVoice(audio, 6);
      say(`No --audio: generated a 6 s sample voice track (${audio}).`);
    }
    const stem = values.stem ?? `demo/${basename(image, extname(image))}`;
    const { inputBucket, outputBucket, tableName } = stack.names;

    const before = new Set(stack.sfn.listExecutions().map((e) => e.executionArn));
    const sidecar = {
      ...(values.prompt ? { prompt: values.prompt } : {}),
      ...(values.format ? { outputFormat: values.format.toUpperCase() } : {}),
    };
    if (Object.keys(sidecar).length) {
      await stack.s3.send(
        new PutObjectCommand({
          Bucket: inputBucket,
          Key: `inbox/${stem}.json`,
          Body: JSON.stringify(sidecar),
        }),
      );
      say(`Dropped s3://${inputBucket}/inbox/${stem}.json`);
    }
    const dropped: string[] = [];
    for (const file of [image, audio]) {
      const key = `inbox/${stem}${extname(file).toLowerCase()}`;
      await stack.s3.send(new PutObjectCommand({ Bucket: inputBucket, Key: key, Body: readFileSync(file) }));
      dropped.push(key);
      say(`Dropped s3://${inputBucket}/${key}`);
    }

    // Ingest has handled both uploads once `ingested` resolves: an execution they start is listed by then.
    let ingested = false;
    void stack.ingested(dropped).then(() => {
      ingested = true;
    });
    const job = await followJob(stack, tableName, stem, before, () => ingested);
    await stack.idle();
    const outDir = resolve(values.out);
    const copied = await copyOutputs(stack, outputBucket, stem, outDir);
    console.log('');
    if (job?.status === 'DELIVERED') {
      for (const file of copied.filter((f) => !f.endsWith('.json'))) {
        const facts = await probe(file);
        const streams = facts.streams
          .map((s) => `${s.codecType} ${s.codecName}${s.width ? ` ${s.width}x${s.height}` : ''}`)
          .join(', ');
        say(`Video: ${file} (${facts.durationSeconds.toFixed(2)} s; ${streams})`);
      }
      say(
        `Job record: ${join(outDir, `${stem}.json`)} (cost USD ${String(job.costUsd)}, job ${String(job.jobId)})`,
      );
      say(`In the output bucket: s3://${outputBucket}/${stem}.*`);
    } else {
      say(
        `The job ended ${String(job?.status ?? 'without a record')}. Error: ${join(outDir, `${stem}.error.json`)}`,
      );
      const error = (job?.error ?? {}) as Record<string, unknown>;
      if (error.code) say(`${String(error.code)} at ${String(error.stage)}: ${String(error.message)}`);
      process.exitCode = 1;
    }
    say(`Function logs: ${join(workDir, 'logs')}/<function>.log`);

    if (values.keep) {
      // For the avatar-pipeline CLI (`--local`); removed again when this process exits.
      say(
        `Endpoints for the avatar-pipeline CLI: ${publishEndpoints(stack, join(workDir, 'endpoints.json'))}`,
      );
      printKeepInstructions(stack);
      await new Promise(() => undefined);
    }
  } finally {
    if (!values.keep) await stop();
  }
}

/** Prints each stage of the job as it is recorded in DynamoDB, until it ends. */
async function followJob(
  stack: LocalStack,
  tableName: string,
  stem: string,
  before: Set<string>,
  ingested: () => boolean,
) {
  const jobs = new DynamoJobStore(new Table(stack.dynamo, tableName));
  const seen = new Set<string>();
  // The SDK's documented switch for its Node 20 support notice: local mode only, so that it does not land among
  // the progress lines (the README states which Node versions are supported).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

  const started = Date.now();
  const deadline = started + 30 * 60_000;
  let jobId: string | undefined;
  while (Date.now() < deadline) {
    if (!jobId) {
      const ofStem = stack.sfn
        .listExecutions()
        .filter((e) => (JSON.parse(e.input) as { stem?: string }).stem === stem);
      const execution = ofStem.find((e) => !before.has(e.executionArn));
      // Kept state: the same inputs as an earlier job start nothing; show that job once ingest has handled them.
      const earlier = ingested() ? ofStem[0] : undefined;
      if (execution) {
        jobId = (JSON.parse(execution.input) as { jobId: string }).jobId;
        say(`Execution ${execution.name} started`);
      } else if (earlier) {
        jobId = (JSON.parse(earlier.input) as { jobId: string }).jobId;
        say(`Nothing new started: these inputs are job ${jobId} already (execution ${earlier.name}).`);
      }
    }
    if (jobId) {
      const job = await jobs.get(jobId);
      const stages = job?.stages ?? {};
      for (const [stage, at] of Object.entries(stages).sort((a, b) => a[1].localeCompare(b[1]))) {
        if (seen.has(stage)) continue;
        seen.add(stage);
        say(
          `${stage.padEnd(9)} ${at}${stage === 'SUBMITTED' ? ` (Runware task ${String(job?.taskUUID)})` : ''}`,
        );
      }
      if (job && (job.status === 'DELIVERED' || job.status === 'FAILED' || job.status === 'CANCELLED'))
        return job;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

async function copyOutputs(
  stack: LocalStack,
  bucket: string,
  stem: string,
  outDir: string,
): Promise<string[]> {
  const listed = await stack.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: stem }));
  const files: string[] = [];
  for (const object of listed.Contents ?? []) {
    const key = object.Key ?? '';
    const rest = key.slice(stem.length);
    if (!/^(-\d+)?\.[a-z0-9]+$|^\.error\.json$/.test(rest)) continue;
    const out = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const target = join(outDir, key);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, await (out.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
    files.push(target);
  }
  return files;
}

function printKeepInstructions(stack: LocalStack): void {
  const env = stack.clientEnvironment();
  const { inputBucket, outputBucket, tableName, stateMachineArn } = stack.names;
  const { s3, dynamodb, aws } = stack.endpoints;
  console.log(`
The local stack keeps running (Ctrl-C to stop; its state is kept in .local/ for the next start).
Drop more jobs with any S3 client. The credentials and region:

  export ${Object.entries(env)
    .filter(([k]) => !k.startsWith('AWS_ENDPOINT_URL'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}

Give every AWS CLI call its endpoint with --endpoint-url (the AWS_ENDPOINT_URL_* variables below work only
with AWS CLI v2.13 or later; older versions ignore them and would talk to real AWS):

  aws --endpoint-url ${s3} s3 cp portrait.jpg s3://${inputBucket}/inbox/mine/anna.jpg
  aws --endpoint-url ${s3} s3 cp voice.mp3    s3://${inputBucket}/inbox/mine/anna.mp3
  aws --endpoint-url ${s3} s3 ls --recursive s3://${outputBucket}/
  aws --endpoint-url ${dynamodb} dynamodb scan --table-name ${tableName} --max-items 5
  aws --endpoint-url ${aws} stepfunctions list-executions --state-machine-arn ${stateMachineArn}

  # AWS CLI >= 2.13 and the SDKs only:
  export ${Object.entries(env)
    .filter(([k]) => k.startsWith('AWS_ENDPOINT_URL'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}

S3 endpoint: ${s3}   input bucket: ${inputBucket}   output bucket: ${outputBucket}
DynamoDB endpoint: ${dynamodb} (table ${tableName})
Step Functions endpoint: ${aws}   webhook: ${stack.endpoints.webhook}/runware/{taskUUID}
Runware: ${stack.endpoints.runware}
Ports change at every start unless --port-base N is given.`);
}

main().catch((error: unknown) => {
  // A taken port is the user's to fix: its message says how, a stack trace would only hide it.
  if (error instanceof PortsTakenError) console.error(error.message);
  else if (error instanceof NotAnAssemblyError) {
    console.error(error.message);
    process.exit(2);
  } else console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
