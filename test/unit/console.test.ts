import { request } from 'node:http';
import { transformSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotCache } from '../../cli/console/api.js';
import {
  type ActionOutcome,
  type ConsoleBackend,
  ConsoleError,
  type JobMedia,
  limitsFromOutputs,
} from '../../cli/console/backend.js';
import { joinModules, renderPage } from '../../cli/console/page.js';
import { checkRequest, tokenMatches } from '../../cli/console/security.js';
import { type RunningConsole, startConsole } from '../../cli/console/server.js';
import { errorReport, jobDetail, selectJobs, timeline } from '../../cli/console/view.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { HOW_TO_RETRY } from '../../lambdas/core/outputs/writer.js';

const ID = (n: number) => n.toString(16).padStart(32, '0');

function job(n: number, fields: Partial<JobRecord> = {}): JobRecord {
  return {
    jobId: ID(n),
    stem: `batch/job-${n}`,
    attempt: 1,
    status: 'DELIVERED',
    stages: {
      RECEIVED: '2026-12-01T10:00:00.000Z',
      VALIDATED: '2026-12-01T10:00:02.000Z',
      SUBMITTED: '2026-12-01T10:00:02.500Z',
      GENERATED: '2026-12-01T10:00:10.000Z',
      DELIVERED: '2026-12-01T10:00:11.000Z',
    },
    inputs: {
      image: { key: `inbox/batch/job-${n}.png`, etag: 'a', size: 1, sequencer: '1' },
      audio: { key: `inbox/batch/job-${n}.wav`, etag: 'b', size: 1, sequencer: '2' },
    },
    executionName: `e${n}`,
    claimedBy: 'x',
    createdAt: `2026-12-01T10:00:${String(n).padStart(2, '0')}.000Z`,
    updatedAt: '2026-12-01T10:00:11.000Z',
    ...fields,
  };
}

const failed = job(3, {
  status: 'FAILED',
  stages: { RECEIVED: '2026-12-01T10:00:00.000Z', FAILED: '2026-12-01T10:00:01.500Z' },
  error: { stage: 'VALIDATED', code: 'IMAGE_TOO_SMALL', message: 'The image is too small.', at: 'x' },
  problems: [
    { code: 'IMAGE_TOO_SMALL', message: 'The image is too small.', file: 'inbox/batch/job-3.png' },
    { code: 'AUDIO_TOO_SHORT', message: 'The audio is too short.', file: 'inbox/batch/job-3.wav' },
  ],
});

/** A backend that records the actions it was asked for. */
class FakeBackend implements ConsoleBackend {
  readonly description = 'fake';
  readonly actions: string[] = [];
  readonly records = [job(1), job(2, { status: 'QUEUED' }), failed];
  async jobs() {
    return { items: this.records, complete: true };
  }
  async job(jobId: string) {
    return this.records.find((j) => j.jobId === jobId);
  }
  async spend() {
    return {
      today: { period: '2026-12-01', spentUsd: 1, reservedUsd: 0.5, limitUsd: 10 },
      month: { period: '2026-12', spentUsd: 3, reservedUsd: 0.5 },
    };
  }
  async slotsInUse() {
    return 1;
  }
  async media(): Promise<JobMedia> {
    return { videos: [], notes: [], expiresInSeconds: 600 };
  }
  async retry(jobId: string): Promise<ActionOutcome> {
    this.actions.push(`retry ${jobId}`);
    const found = await this.job(jobId);
    if (!found) throw new ConsoleError(404, 'No job.');
    return { job: found, message: 'Started attempt 2.' };
  }
  async cancel(jobId: string): Promise<ActionOutcome> {
    this.actions.push(`cancel ${jobId}`);
    throw new ConsoleError(409, 'Cannot cancel: delivered already.');
  }
  async estimate() {
    return {
      audioSeconds: 3,
      model: 'klingai:avatar@2.0-pro',
      numberResults: 1,
      usdPerSecond: 0.087,
      estimatedUsd: 0.261,
      priceTable: 'defaults',
    };
  }
  async mediaOrigins() {
    return ['http://127.0.0.1:9'];
  }
}

const TOKEN = 'test-token_0123456789';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request (node's fetch would not let a test set `Host`). */
function call(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: { host: `127.0.0.1:${port}`, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const auth = { authorization: `Bearer ${TOKEN}` };

describe('the console server', () => {
  let backend: FakeBackend;
  let rw: RunningConsole;
  let ro: RunningConsole;
  let roBackend: FakeBackend;

  beforeAll(async () => {
    backend = new FakeBackend();
    roBackend = new FakeBackend();
    rw = await startConsole({ backend, port: 0, readOnly: false, token: TOKEN });
    ro = await startConsole({ backend: roBackend, port: 0, readOnly: true, token: TOKEN });
  });
  afterAll(async () => {
    await rw?.close();
    await ro?.close();
  });

  it('prints an address on 127.0.0.1 that carries the token, and serves the page to it', async () => {
    expect(rw.url).toBe(`http://127.0.0.1:${rw.port}/?token=${TOKEN}`);
    const page = await call(rw.port, `/?token=${TOKEN}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('<script type="module" nonce=');
    expect(page.body).not.toContain('/*JS*/');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'nonce-[^']+'/);
    expect(csp).toContain('media-src');
    expect(csp).toContain('http://127.0.0.1:9');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['cache-control']).toBe('no-store');
    // The page holds no secret of its own: the token it uses is the one in its address.
    expect(page.body).not.toContain(TOKEN);
  });

  it('answers 401 without a token and 403 with a wrong one, on the page and the API alike', async () => {
    for (const path of ['/', '/api/overview']) {
      expect((await call(rw.port, path)).status).toBe(401);
      expect((await call(rw.port, `${path}?token=wrong`)).status).toBe(403);
      expect((await call(rw.port, path, { headers: { authorization: 'Bearer wrong' } })).status).toBe(403);
    }
    const missing = await call(rw.port, '/api/overview');
    expect(missing.headers['www-authenticate']).toContain('Bearer');
    expect(missing.body).not.toContain('jobs');
  });

  it('refuses a Host other than its own (DNS rebinding) with 421, even with the token', async () => {
    for (const host of [
      'evil.example:80',
      `evil.example:${rw.port}`,
      `127.0.0.1:${rw.port + 1}`,
      `127.0.0.1.evil.example:${rw.port}`,
    ]) {
      const answer = await call(rw.port, `/api/overview?token=${TOKEN}`, { headers: { host, ...auth } });
      expect(answer.status, host).toBe(421);
    }
    const named = await call(rw.port, '/api/overview', {
      headers: { host: `localhost:${rw.port}`, ...auth },
    });
    expect(named.status).toBe(200);
  });

  it('takes actions only by POST with the token in a header, from its own origin', async () => {
    const path = `/api/jobs/${failed.jobId}/retry`;
    const get = await call(rw.port, path, { headers: auth });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect((await call(rw.port, `${path}?token=${TOKEN}`, { method: 'POST' })).status).toBe(401);
    const foreign = await call(rw.port, path, {
      method: 'POST',
      headers: { ...auth, origin: 'http://evil.example' },
    });
    expect(foreign.status).toBe(403);
    expect(backend.actions).toEqual([]);

    const done = await call(rw.port, path, {
      method: 'POST',
      headers: { ...auth, origin: `http://127.0.0.1:${rw.port}` },
    });
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body)).toMatchObject({
      message: 'Started attempt 2.',
      job: { jobId: failed.jobId },
    });
    expect(backend.actions).toEqual([`retry ${failed.jobId}`]);
    expect((await call(rw.port, '/api/overview', { method: 'POST', headers: auth })).status).toBe(405);
  });

  it('answers a refused action with its reason and status, and an unknown job with 404', async () => {
    const cancel = await call(rw.port, `/api/jobs/${ID(1)}/cancel`, { method: 'POST', headers: auth });
    expect(cancel.status).toBe(409);
    expect(JSON.parse(cancel.body).error.message).toBe('Cannot cancel: delivered already.');
    expect((await call(rw.port, `/api/jobs/${ID(99)}`, { headers: auth })).status).toBe(404);
  });

  it('refuses actions when read-only, and still reads and estimates', async () => {
    for (const action of ['retry', 'cancel']) {
      const answer = await call(ro.port, `/api/jobs/${failed.jobId}/${action}`, {
        method: 'POST',
        headers: auth,
      });
      expect(answer.status).toBe(403);
      expect(answer.body).toContain('read-only');
    }
    expect(roBackend.actions).toEqual([]);
    expect((await call(ro.port, '/api/overview', { headers: auth })).status).toBe(200);
    const page = await call(ro.port, `/?token=${TOKEN}`);
    expect(page.body).toContain('data-read-only="true"');
    const estimate = await call(ro.port, '/api/estimate?ext=wav', {
      method: 'POST',
      headers: auth,
      body: Buffer.from('RIFF'),
    });
    expect(estimate.status).toBe(200);
  });

  it('lists the jobs newest first with the counts per state, the spend and the slots', async () => {
    const answer = await call(rw.port, '/api/overview', { headers: auth });
    const overview = JSON.parse(answer.body);
    expect(overview.jobs.map((j: { stem: string }) => j.stem)).toEqual([
      'batch/job-3',
      'batch/job-2',
      'batch/job-1',
    ]);
    expect(overview.counts).toMatchObject({ DELIVERED: 1, QUEUED: 1, FAILED: 1, CANCELLED: 0 });
    expect(overview.slots).toEqual({ inUse: 1, queued: 1 });
    expect(overview.spend.today).toMatchObject({ spentUsd: 1, limitUsd: 10 });
    const only = JSON.parse((await call(rw.port, '/api/overview?state=failed', { headers: auth })).body);
    expect(only.jobs.map((j: { status: string }) => j.status)).toEqual(['FAILED']);
    expect(only.counts.DELIVERED).toBe(1);
    const bad = await call(rw.port, '/api/overview?state=LOST', { headers: auth });
    expect(bad.status).toBe(400);
  });

  it('serves no file by its path: the page files, unknown names and ../ all answer 404', async () => {
    for (const path of [
      '/console.js',
      '/script/console.js',
      '/page/script/api.js',
      '/page/style/base.css',
      '/page/index.html',
      '/page.ts',
      '/../page.ts',
      '/page/../page.ts',
      '/%2e%2e/security.ts',
      '/..%2fpage.ts',
      '/api/../page.ts',
    ]) {
      const answer = await call(rw.port, `${path}?token=${TOKEN}`);
      expect(answer.status, path).toBe(404);
      expect(answer.headers['content-type'], path).toContain('application/json');
    }
  });

  it('refuses an estimate of something that is not an audio file by its name', async () => {
    const answer = await call(rw.port, '/api/estimate?ext=exe', {
      method: 'POST',
      headers: auth,
      body: Buffer.from('x'),
    });
    expect(answer.status).toBe(400);
  });
});

describe('the page', () => {
  const html = renderPage({ nonce: 'N0nce', readOnly: false, target: 'local' });

  it('inlines its script modules as one module script that parses, with no import or export left', () => {
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((s) => s[1])).toEqual([' type="module" nonce="N0nce"']);
    const js = scripts[0]?.[2] ?? '';
    // One scope for all the modules: a name declared twice would be a syntax error here.
    expect(() => transformSync(js, { format: 'esm', loader: 'js' })).not.toThrow();
    expect(js).not.toMatch(/^(import|export)\b/m);
    for (const name of ['format.js', 'dom.js', 'api.js', 'list.js', 'detail.js', 'media.js', 'console.js'])
      expect(js).toContain(`// ---- ${name}\n`);
    expect(html.match(/<style nonce="N0nce">/g)).toHaveLength(1);
    expect(html).toContain('.panes.open .detail');
  });

  it('refuses to inline a module that imports one after it, or anything but a page module', () => {
    const sources: Record<string, string> = {
      'a.js': "import { b } from './b.js';\nexport const a = b;\n",
      'b.js': 'export const b = 1;\n',
      'c.js': "import { readFileSync } from 'node:fs';\n",
    };
    const source = (name: string) => sources[name] ?? '';
    expect(joinModules(['b.js', 'a.js'], source)).toBe(
      '// ---- b.js\nconst b = 1;\n\n// ---- a.js\nconst a = b;\n',
    );
    expect(() => joinModules(['a.js', 'b.js'], source)).toThrow('a.js imports b.js');
    expect(() => joinModules(['c.js'], source)).toThrow(
      'cannot inline "import { readFileSync } from \'node:fs\';"',
    );
  });
});

describe('the gate as a function', () => {
  const options = { token: TOKEN, port: 8080, readOnly: false };
  const facts = (method: string, url: string, headers: Record<string, string> = {}) => ({
    method,
    url,
    headers: { host: '127.0.0.1:8080', ...headers },
  });

  it('lets the page and its reads in with the token, in the query or a header', () => {
    expect(checkRequest(facts('GET', `/?token=${TOKEN}`), options)).toBeUndefined();
    expect(checkRequest(facts('GET', '/api/overview', auth), options)).toBeUndefined();
    expect(checkRequest(facts('HEAD', `/?token=${TOKEN}`), options)).toBeUndefined();
  });

  it('refuses other methods on reads with 405', () => {
    expect(checkRequest(facts('DELETE', '/api/overview', auth), options)?.status).toBe(405);
    expect(checkRequest(facts('POST', `/api/jobs/${ID(1)}/media`, auth), options)?.status).toBe(405);
  });

  it('compares tokens whatever their length', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(tokenMatches('', TOKEN)).toBe(false);
    expect(tokenMatches(undefined, TOKEN)).toBe(false);
  });
});

describe('what the page shows of a job', () => {
  it('gives each stage the time it took since the one before', () => {
    expect(timeline(job(1).stages)).toEqual([
      { stage: 'RECEIVED', at: '2026-12-01T10:00:00.000Z' },
      { stage: 'VALIDATED', at: '2026-12-01T10:00:02.000Z', tookSeconds: 2 },
      { stage: 'SUBMITTED', at: '2026-12-01T10:00:02.500Z', tookSeconds: 0.5 },
      { stage: 'GENERATED', at: '2026-12-01T10:00:10.000Z', tookSeconds: 7.5 },
      { stage: 'DELIVERED', at: '2026-12-01T10:00:11.000Z', tookSeconds: 1 },
    ]);
    expect(jobDetail(job(1)).elapsedSeconds).toBe(11);
  });

  it('reports a failure with the fields and words of <stem>.error.json, every problem listed', () => {
    expect(errorReport(failed)).toEqual({
      stage: 'VALIDATED',
      code: 'IMAGE_TOO_SMALL',
      message: 'The image is too small.',
      howToRetry: HOW_TO_RETRY,
      failedAt: 'x',
      problems: failed.problems,
    });
    const detail = jobDetail(failed);
    expect(detail).toMatchObject({ canRetry: true, canCancel: false, running: false });
    expect(detail.nextStep).toContain('Fix the input');
    expect(errorReport(job(1))).toBeUndefined();
  });

  it('offers cancel only while the job runs and no cancel was asked for', () => {
    expect(jobDetail(job(2, { status: 'QUEUED' })).canCancel).toBe(true);
    expect(
      jobDetail(job(2, { status: 'QUEUED', cancel: { requestedAt: 'x', by: 'a@b', during: 'QUEUED' } }))
        .canCancel,
    ).toBe(false);
    expect(jobDetail(job(2, { status: 'GENERATED' })).canCancel).toBe(false);
  });

  it('filters by state, stem prefix and time, newest first, counting per state before the state filter', () => {
    const jobs = [job(1), job(2, { stem: 'other/x', status: 'FAILED' }), failed];
    const picked = selectJobs(jobs, { prefix: 'batch/', since: new Date('2026-12-01T10:00:02.000Z') });
    expect(picked.rows.map((r) => r.jobId)).toEqual([failed.jobId]);
    expect(picked.counts).toMatchObject({ FAILED: 1, DELIVERED: 0 });
    const failedOnly = selectJobs(jobs, { state: 'FAILED' });
    expect(failedOnly.rows.map((r) => r.stem)).toEqual(['batch/job-3', 'other/x']);
    expect(failedOnly.counts.DELIVERED).toBe(1);
  });

  it('reads the limits a stack publishes, and nothing it does not', () => {
    expect(
      limitsFromOutputs({ DailyBudgetUsd: '5', MonthlyBudgetUsd: '0', MaxConcurrentTasks: '3' }),
    ).toEqual({
      dailyBudgetUsd: 5,
      monthlyBudgetUsd: 0,
      maxConcurrentTasks: 3,
    });
    expect(limitsFromOutputs({ DailyBudgetUsd: 'lots' })).toEqual({});
    expect(limitsFromOutputs(undefined)).toEqual({});
  });
});

describe('the snapshot cache', () => {
  it('reads once per period whoever asks, and again after a clear', async () => {
    let now = 0;
    let reads = 0;
    const cache = new SnapshotCache(
      async () => ++reads,
      2000,
      () => now,
    );
    expect(await cache.get()).toBe(1);
    now = 1999;
    expect(await cache.get()).toBe(1);
    now = 2000;
    expect(await cache.get()).toBe(2);
    cache.clear();
    expect(await cache.get()).toBe(3);
  });
});
