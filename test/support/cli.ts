import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

const BIN = resolve('cli/avatar-pipeline.mjs');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the installed `avatar-pipeline` command as a user would, in its own process with `cwd` as its working
 * folder, and never throws on a non-zero exit.
 */
export function runCli(cwd: string, args: string[], timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

export const parseJson = <T>(stdout: string): T => JSON.parse(stdout) as T;
