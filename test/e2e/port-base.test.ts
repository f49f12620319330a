import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, describe, expect, it } from 'vitest';
import { assertPortsFree, PortsTakenError } from '../../local/ports.js';

/**
 * `npm start -- --keep --port-base N`, run as a user runs it (its own process, its own working folder): the
 * services answer on the documented ports (S3 N, DynamoDB N+1, Step Functions N+2, webhook N+3), the printed
 * `export` lines and `--endpoint-url` examples name exactly those, and a second start on the same ports fails
 * at once with a message naming the taken ports.
 */

const SLOW = 300_000;
const CLI = resolve('local/cli.ts');
const TSX = resolve('node_modules/tsx/dist/cli.mjs');

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startCli(cwd: string, args: string[]): Run {
  const child = spawn(process.execPath, [TSX, CLI, ...args], {
    cwd,
    env: { ...process.env, RUNWARE_API_KEY: '' },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Four consecutive free ports, the first of them returned. */
async function freePortBase(): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const base = 30_000 + Math.floor(Math.random() * 20_000);
    try {
      await assertPortsFree(base);
      return base;
    } catch (error) {
      if (!(error instanceof PortsTakenError)) throw error;
    }
  }
  throw new Error('No four free consecutive ports found');
}

const cwds: string[] = [];
const runs: Run[] = [];
afterAll(async () => {
  for (const run of runs) {
    if (run.child.exitCode === null) {
      run.child.kill('SIGINT');
      await run.exited;
    }
  }
  for (const dir of cwds) rmSync(dir, { recursive: true, force: true });
});

describe('npm start -- --keep --port-base N', () => {
  it(
    'serves on the documented ports, prints exports that name them, and refuses a second start on them',
    async () => {
      const base = await freePortBase();
      const url = (offset: number) => `http://127.0.0.1:${base + offset}`;
      const cwd = mkdtempSync(join(tmpdir(), 'avatar-ports-'));
      cwds.push(cwd);
      const first = startCli(cwd, ['--keep', '--port-base', String(base)]);
      runs.push(first);

      // The banner ends with the ports line once the demo job is done and the stack is kept running.
      const deadline = Date.now() + 240_000;
      while (!first.stdout().includes('Ports change at every start')) {
        if (first.child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`The CLI did not keep running:\n${first.stdout()}\n${first.stderr()}`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      const banner = first.stdout();

      // The printed exports and examples name exactly the documented ports.
      const exported = Object.fromEntries(
        [...banner.matchAll(/^\s*export (.+)$/gm)]
          .flatMap((m) => (m[1] ?? '').split(' '))
          .map((pair) => pair.split('=') as [string, string]),
      );
      expect(exported).toEqual({
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_ENDPOINT_URL_S3: url(0),
        AWS_ENDPOINT_URL_DYNAMODB: url(1),
        AWS_ENDPOINT_URL_SFN: url(2),
      });
      expect(banner).toContain(`aws --endpoint-url ${url(0)} s3 cp`);
      expect(banner).toContain(`aws --endpoint-url ${url(1)} dynamodb scan`);
      expect(banner).toContain(`aws --endpoint-url ${url(2)} stepfunctions list-executions`);
      expect(banner).toContain(`webhook: ${url(3)}/runware/{taskUUID}`);
      const inputBucket = /input bucket: (\S+)/.exec(banner)?.[1] ?? '';
      const tableName = /--table-name (\S+)/.exec(banner)?.[1] ?? '';
      const stateMachineArn = /--state-machine-arn (\S+)/.exec(banner)?.[1] ?? '';

      // Each service answers there, with the printed credentials.
      const client = {
        region: exported.AWS_REGION,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      };
      const s3 = new S3Client({ ...client, endpoint: url(0), forcePathStyle: true });
      const buckets = await s3.send(new ListBucketsCommand({}));
      expect(buckets.Buckets?.map((b) => b.Name)).toContain(inputBucket);
      const dynamodb = new DynamoDBClient({ ...client, endpoint: url(1) });
      expect((await dynamodb.send(new ListTablesCommand({}))).TableNames).toContain(tableName);
      const sfn = new SFNClient({ ...client, endpoint: url(2) });
      const executions = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
      expect(executions.executions?.map((e) => e.status)).toEqual(['SUCCEEDED']);
      const webhook = await fetch(`${url(3)}/runware/not-a-task`, { method: 'POST', body: '{}' });
      expect(webhook.status).toBeGreaterThanOrEqual(400); // it answers (and refuses an unsigned call)
      for (const c of [s3, dynamodb, sfn]) c.destroy();

      // The same ports again: a clear error at once, naming each taken port, and nothing started.
      const otherCwd = mkdtempSync(join(tmpdir(), 'avatar-ports-'));
      cwds.push(otherCwd);
      const second = startCli(otherCwd, ['--port-base', String(base)]);
      runs.push(second);
      expect(await second.exited).toBe(1);
      const message = second.stderr();
      expect(message).toContain(`--port-base ${base} needs ports ${base} to ${base + 3}`);
      expect(message).toContain(`${base} (S3), ${base + 1} (DynamoDB)`);
      expect(message).toContain(`${base + 3} (webhook)`);
      expect(message).toContain('choose another --port-base');
      expect(message).not.toMatch(/^\s+at /m); // no stack trace

      // Ctrl-C stops the first one and frees its ports.
      first.child.kill('SIGINT');
      expect(await first.exited).toBe(130);
      await expect(assertPortsFree(base)).resolves.toBeUndefined();
    },
    SLOW,
  );

  it(
    'run again in the same folder with unchanged sources: reuses the synthesized app and starts nothing new',
    async () => {
      const cwd = cwds[0];
      if (!cwd) throw new Error('Runs after the first test, in its folder');
      const again = startCli(cwd, []);
      runs.push(again);
      expect(await again.exited).toBe(0);
      const out = again.stdout();
      expect(out).toContain('Sources and settings unchanged since an earlier synth: reusing its app');
      expect(out).not.toContain('Synthesizing the CDK app');
      expect(out).toMatch(/Nothing new started: these inputs are job [0-9a-f]{32} already/);
      expect(out).not.toMatch(/Execution \S+ started/);
      expect(out).toContain('DELIVERED');
    },
    SLOW,
  );
});
