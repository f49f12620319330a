import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The limits Lambda enforces on an invocation and its execution environment, and how it reports each one, for the
 * local function host. Sources:
 * - Lambda quotas: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html ("Invocation payload
 *   (request and response): 6 MB each for request and response (synchronous) ... 1 MB (asynchronous)"; memory
 *   128 MB to 10,240 MB; `/tmp` 512 MB to 10,240 MB).
 * - Invoke API: https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html ("For synchronous invocations, the
 *   maximum payload size is 6 MB. For asynchronous invocations, the maximum payload size is 1 MB."; its error list
 *   names the refusal `RequestTooLargeException`, HTTP 413, "The request payload exceeded the Invoke request body
 *   JSON input quota". On the wire the error code is `RequestEntityTooLargeException`, which is what SDK callers see
 *   as the error's name).
 * - EphemeralStorage: https://docs.aws.amazon.com/lambda/latest/dg/API_EphemeralStorage.html ("The size of the
 *   function's /tmp directory in MB. The default value is 512").
 */

/** How an invocation is made: `RequestResponse` waits for the result; `Event` is queued (what EventBridge does). */
export type InvocationType = 'RequestResponse' | 'Event';

/**
 * Largest request payload, in bytes. The documented "6 MB" and "1 MB" are MiB: Lambda's own refusals name the
 * byte counts ("6294149 byte payload is too large for the RequestResponse invocation type (limit 6291456 bytes)",
 * and "... for the Event invocation type (limit 1048576 bytes)"). The messages are Lambda's as callers report them;
 * the documentation gives only the sizes. 256 KB, often quoted for asynchronous invocations, is now the limit of
 * the deprecated InvokeAsync action only ("The payload limit is 256KB. For larger payloads, for up to 1MB, use
 * Invoke": https://docs.aws.amazon.com/lambda/latest/dg/API_InvokeAsync.html). On the EventBridge path the
 * event's own size limit (EventBridge's, not enforced here) may bind first.
 */
export const REQUEST_LIMIT_BYTES: Record<InvocationType, number> = {
  RequestResponse: 6 * 1024 * 1024,
  Event: 1024 * 1024,
};

/**
 * Largest synchronous response. Lambda's limit is 100 bytes above 6 MiB, as its error says: "Response payload
 * size exceeded maximum allowed payload size (6291556 bytes)." An asynchronous invocation's result is dropped,
 * so it has no response limit.
 */
export const RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024 + 100;

/** `/tmp` when the template sets no `EphemeralStorage` (API_EphemeralStorage: "The default value is 512"). */
export const DEFAULT_EPHEMERAL_STORAGE_MB = 512;

/** The bytes Lambda counts for a payload: the JSON text of the event, as the Invoke API carries it. */
export function payloadBytes(value: unknown): number {
  // `JSON.stringify(undefined)` is undefined; Lambda would send `null`.
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}

/** The message Lambda answers a request payload over its limit with (HTTP 413, `RequestEntityTooLargeException`). */
export function requestTooLargeMessage(bytes: number, type: InvocationType): string {
  return `${bytes} byte payload is too large for the ${type} invocation type (limit ${REQUEST_LIMIT_BYTES[type]} bytes)`;
}

/**
 * The kernel's page size in bytes, found once by comparing this process's resident pages (`/proc/self/statm`)
 * with its resident bytes as Node reports them (Node has no page size API; arm64 kernels may use 16 or 64 KiB).
 */
function pageSize(): number {
  if (cachedPageSize !== undefined) return cachedPageSize;
  cachedPageSize = 4096;
  try {
    const pages = Number(readFileSync('/proc/self/statm', 'latin1').split(' ')[1]);
    const ratio = process.memoryUsage.rss() / pages;
    if (Number.isFinite(ratio) && ratio > 0) cachedPageSize = 2 ** Math.round(Math.log2(ratio));
  } catch {
    // No /proc: no probe can be opened anyway.
  }
  return cachedPageSize;
}
let cachedPageSize: number | undefined;

/** Reads a process's resident memory again and again, cheaply. */
export interface RssProbe {
  /** Resident memory in MiB; undefined once the process is gone. */
  read(): number | undefined;
  close(): void;
}

/**
 * A probe of `/proc/<pid>/statm` (resident pages: the same figure as `VmRSS`, which counts native memory such as
 * libvips' buffers, not only the V8 heap). The file is kept open and re-read from offset 0, one system call per
 * sample (about 20 µs on a loaded 2-core machine, against 100-200 µs for opening and reading `status`). Undefined
 * where the system has no `/proc`.
 */
export function openRssProbe(pid: number): RssProbe | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/statm`, 'r');
  } catch {
    return undefined;
  }
  const buffer = Buffer.alloc(128);
  const bytesPerPage = pageSize();
  return {
    read() {
      if (fd === undefined) return undefined;
      try {
        const n = readSync(fd, buffer, 0, buffer.length, 0);
        const resident = Number(buffer.toString('latin1', 0, n).split(' ')[1]);
        return Number.isFinite(resident) ? (resident * bytesPerPage) / (1024 * 1024) : undefined;
      } catch {
        return undefined;
      }
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/**
 * Bytes a directory tree takes on disk (allocated blocks, as `du` and a filesystem's free space count them;
 * a sparse file counts only what it allocated). Entries that vanish while it is walked are skipped.
 */
export function diskUsageBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const stat = lstatSync(path);
      total += stat.blocks * 512;
      if (stat.isDirectory()) total += diskUsageBytes(path);
    } catch {
      // Deleted meanwhile: it takes no space.
    }
  }
  return total;
}
