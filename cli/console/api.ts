import { createHash } from 'node:crypto';
import { MAX_NUMBER_RESULTS } from '../../lambdas/core/contract/job-settings.js';
import { parseSince } from '../commands/since.js';
import { CliError } from '../errors.js';
import { type ConsoleBackend, ConsoleError, type Spend } from './backend.js';
import { ALL_STATES, type JobRow, jobDetail, selectJobs } from './view.js';

/**
 * The console's JSON API, after the gate (security.ts) let the request in:
 * - `GET /api/overview?state=&prefix=&since=`: the counts, the spend, the slots and the jobs, newest first;
 * - `GET /api/jobs/<jobId>`: one job; `GET /api/jobs/<jobId>/media`: short-lived links to its files;
 * - `POST /api/jobs/<jobId>/retry`, `POST /api/jobs/<jobId>/cancel`: the CLI's retry and cancel;
 * - `POST /api/estimate?ext=&results=&model=` with an audio file as the body: what a job would cost.
 * Pure of HTTP: the server (server.ts) turns requests into {@link ApiRequest} and answers with the result.
 */

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body?: Uint8Array;
}

export interface ApiAnswer {
  status: number;
  json: unknown;
}

/** Rows sent at most: a page of a few hundred rows stays quick to draw; the filters reach the others. */
export const MAX_ROWS = 500;

export interface Overview {
  target: string;
  readOnly: boolean;
  generatedAt: string;
  /** A digest of everything below: the page redraws only when it changes. */
  version: string;
  counts: Record<string, number>;
  total: number;
  jobs: JobRow[];
  /** More jobs matched than were sent. */
  truncated: boolean;
  /** The table scan stopped at its limit: some jobs are not counted. */
  complete: boolean;
  spend: Spend;
  slots: { inUse: number; max?: number; queued: number };
}

/**
 * Reads the table at most once per `maxAgeMs`, whoever asks: several open pages (and their live updates) cost
 * one scan, not one each.
 */
export class SnapshotCache<T> {
  private last: { at: number; value: Promise<T> } | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    const now = this.clock();
    if (!this.last || now - this.last.at >= this.maxAgeMs) {
      const value = this.read();
      this.last = { at: now, value };
      // A failed read is not kept: the next request tries again.
      value.catch(() => {
        if (this.last?.value === value) this.last = undefined;
      });
    }
    return this.last.value;
  }

  /** Forgets the snapshot (after an action, so the page shows its effect at once). */
  clear(): void {
    this.last = undefined;
  }
}

export interface Snapshot {
  jobs: Awaited<ReturnType<ConsoleBackend['jobs']>>;
  spend: Spend;
  slotsInUse: number;
}

export function snapshotOf(
  backend: ConsoleBackend,
  now: () => Date = () => new Date(),
): () => Promise<Snapshot> {
  return async () => {
    const [jobs, spend, slotsInUse] = await Promise.all([
      backend.jobs(),
      backend.spend(now()),
      backend.slotsInUse(),
    ]);
    return { jobs, spend, slotsInUse };
  };
}

export interface ApiContext {
  backend: ConsoleBackend;
  snapshots: SnapshotCache<Snapshot>;
  readOnly: boolean;
  now?: () => Date;
}

const JOB_PATH = /^\/api\/jobs\/([0-9a-f]{32})(?:\/(media|retry|cancel))?$/;
const ok = (json: unknown): ApiAnswer => ({ status: 200, json });
const problem = (status: number, message: string): ApiAnswer => ({ status, json: { error: { message } } });

/** Answers one API request; errors the person can act on keep their words, others are a bare 500. */
export async function handleApi(request: ApiRequest, context: ApiContext): Promise<ApiAnswer> {
  try {
    return await route(request, context);
  } catch (error) {
    if (error instanceof ConsoleError) return problem(error.status, error.message);
    if (error instanceof CliError) return problem(400, error.message);
    // The details go to the console's own terminal, never to the page.
    console.error('avatar-pipeline console:', error);
    return problem(500, 'Internal error: see the terminal that runs the console.');
  }
}

async function route(request: ApiRequest, context: ApiContext): Promise<ApiAnswer> {
  const { path, query } = request;
  if (path === '/api/overview') return ok(await overview(query, context));
  if (path === '/api/estimate') return ok(await estimate(request, context));
  const match = JOB_PATH.exec(path);
  if (!match) return problem(404, `No such page: ${path}`);
  const [, jobId = '', part] = match;
  if (part === 'retry' || part === 'cancel') {
    if (context.readOnly) return problem(403, 'This console is read-only (started with --read-only).');
    const outcome =
      part === 'retry' ? await context.backend.retry(jobId) : await context.backend.cancel(jobId);
    context.snapshots.clear();
    return ok({ message: outcome.message, job: jobDetail(outcome.job, context.now?.()) });
  }
  const job = await context.backend.job(jobId);
  if (!job) throw new ConsoleError(404, `No job ${jobId}.`);
  if (part === 'media') return ok(await context.backend.media(job));
  return ok(jobDetail(job, context.now?.()));
}

async function overview(query: URLSearchParams, context: ApiContext): Promise<Overview> {
  const state = query.get('state')?.toUpperCase() || undefined;
  if (state && !(ALL_STATES as readonly string[]).includes(state))
    throw new ConsoleError(400, `Unknown state ${state}; use one of ${ALL_STATES.join(', ')}.`);
  const since = parseSince(query.get('since') || undefined, context.now?.());
  const prefix = query.get('prefix') || undefined;
  const snapshot = await context.snapshots.get();
  const selected = selectJobs(snapshot.jobs.items, {
    ...(state ? { state } : {}),
    ...(prefix ? { prefix } : {}),
    ...(since ? { since } : {}),
  });
  const queued = snapshot.jobs.items.filter((j) => j.status === 'QUEUED').length;
  const body = {
    target: context.backend.description,
    readOnly: context.readOnly,
    counts: selected.counts,
    total: selected.total,
    jobs: selected.rows.slice(0, MAX_ROWS),
    truncated: selected.rows.length > MAX_ROWS,
    complete: snapshot.jobs.complete,
    spend: snapshot.spend,
    slots: {
      inUse: snapshot.slotsInUse,
      ...(snapshot.spend.maxSlots !== undefined ? { max: snapshot.spend.maxSlots } : {}),
      queued,
    },
  };
  const version = createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 16);
  return { ...body, version, generatedAt: (context.now?.() ?? new Date()).toISOString() };
}

const AUDIO_EXTENSION = /^\.?(mp3|wav|m4a|aac|ogg)$/i;

async function estimate(request: ApiRequest, context: ApiContext): Promise<unknown> {
  const ext = request.query.get('ext') ?? '';
  if (!AUDIO_EXTENSION.test(ext))
    throw new ConsoleError(400, 'Choose an audio file: .mp3, .wav, .m4a, .aac (or .ogg).');
  const results = Number(request.query.get('results') ?? '1');
  if (!Number.isInteger(results) || results < 1 || results > MAX_NUMBER_RESULTS)
    throw new ConsoleError(400, `Results must be a whole number from 1 to ${MAX_NUMBER_RESULTS}.`);
  const body = request.body;
  if (!body || body.length === 0) throw new ConsoleError(400, 'The audio file is empty.');
  return context.backend.estimate(
    body,
    `.${ext.replace(/^\./, '').toLowerCase()}`,
    results,
    request.query.get('model') || undefined,
  );
}
