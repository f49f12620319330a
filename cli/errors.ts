/**
 * Exit codes of the CLI, for scripts: 0 success; the others name what went wrong.
 */
export const EXIT = {
  ok: 0,
  /** The job ended FAILED or CANCELLED (submit --wait, retry --wait). */
  jobFailed: 1,
  /** Wrong arguments or unreadable input files. */
  usage: 2,
  /** No job by that stem or id. */
  notFound: 3,
  /** The target cannot be reached: local stack not running, stack not found, no credentials. */
  unavailable: 4,
  /** Waited past --timeout without the job ending. */
  timeout: 5,
  /** The job is not in a state for this command (cancel an ended job, retry a running or delivered one). */
  wrongState: 6,
} as const;

/** An error the CLI reports as one clear line and an exit code (no stack trace). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
