import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { LocalExecution } from './step-functions.js';

/**
 * The state file of local Step Functions: the executions, kept so that they are still listed after a restart (an
 * execution it lists as RUNNING was cut off when the stack died).
 */

/** What the state file keeps of an execution (dates as ISO strings; nothing that is only alive in memory). */
type StoredExecution = Omit<LocalExecution, 'done' | 'startDate' | 'stopDate'> & {
  startDate: string;
  stopDate?: string;
};

/** The executions the state file lists (none without one). */
export function loadExecutions(file: string | undefined): LocalExecution[] {
  if (!file || !existsSync(file)) return [];
  const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredExecution[];
  return stored.map(({ startDate, stopDate, ...rest }) => ({
    ...rest,
    startDate: new Date(startDate),
    ...(stopDate ? { stopDate: new Date(stopDate) } : {}),
    done: Promise.resolve(),
  }));
}

/** Writes every execution to the state file (whole, then renamed: a kill never leaves half a file). */
export function saveExecutions(file: string | undefined, executions: Iterable<LocalExecution>): void {
  if (!file) return;
  const stored: StoredExecution[] = [...executions].map(({ done: _done, startDate, stopDate, ...rest }) => ({
    ...rest,
    startDate: startDate.toISOString(),
    ...(stopDate ? { stopDate: stopDate.toISOString() } : {}),
  }));
  writeFileSync(`${file}.tmp`, JSON.stringify(stored));
  renameSync(`${file}.tmp`, file);
}
