import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointsOf, writeEndpointsFile } from '../../cli/endpoints-file.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { makeSamplePortrait, makeSampleVoice } from '../../local/ffmpeg.js';
import type { RunwareSimulator } from '../../local/runware-simulator.js';
import type { LocalStack } from '../../local/stack.js';
import { drop, E2E_CONTEXT, startLocal, storesOf } from '../support/local.js';

/**
 * The review console in a real browser (Debian's Chromium, driven by playwright-core) on a real local batch of ten
 * jobs: one cancelled from the page while it waits for the one Runware slot, one failed on bad inputs, the others
 * delivered. The page lists them, plays a video, shows the failure in the words of `<stem>.error.json`, and a retry
 * from the page starts a new attempt that is delivered. Screenshots of it go to docs/img/console-*.png.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Without the background-networking flags Chromium's own connections are refused on a closed network. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS = resolve('docs/img');

let stack: LocalStack;
let sim: RunwareSimulator;
let dir: string;
let consoleProcess: ChildProcess | undefined;
let address: string;
let browser: Browser;
/** Script errors of the pages opened: none expected. */
const pageErrors: string[] = [];

/** Starts `avatar-pipeline console` as a user would and reads the address from its first `http` line. */
function startConsole(endpoints: string): Promise<string> {
  const child = spawn(
    process.execPath,
    [resolve('cli/avatar-pipeline.mjs'), 'console', '--endpoints', endpoints],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  consoleProcess = child;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((done, fail) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (line.startsWith('http')) done(line);
    });
    child.once('exit', (code) => fail(new Error(`console exited ${code}: ${stderr}`)));
  });
}

beforeAll(async () => {
  ({ stack, dir } = await startLocal({
    ...E2E_CONTEXT,
    // One slot, so that a job waits for it while another renders; room for that wait on a slow machine.
    maxConcurrentTasks: '1',
    waitTimeoutSeconds: '30',
    hardDeadlineSeconds: '180',
  }));
  if (!stack.simulator) throw new Error('This test needs the Runware simulator.');
  sim = stack.simulator;
  await Promise.all([
    makeSamplePortrait(join(dir, 'small.png'), { width: 200, height: 200 }),
    makeSampleVoice(join(dir, 'voice1.wav'), 1),
  ]);
  const endpoints = join(dir, 'endpoints.json');
  writeEndpointsFile(endpoints, endpointsOf(stack));
  [address, browser] = await Promise.all([
    startConsole(endpoints),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
  ]);
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (consoleProcess?.exitCode === null) {
    const exited = new Promise((done) => consoleProcess?.once('exit', done));
    consoleProcess.kill('SIGTERM');
    await exited;
  }
  await stack?.stop();
});

const file = (name: string) => readFileSync(join(dir, name));

async function dropJob(stem: string, image = 'portrait.png', audio = 'voice3.wav'): Promise<void> {
  await drop(stack, `${stem}.png`, file(image));
  await drop(stack, `${stem}.wav`, file(audio));
}

/** The latest job of `stem` once `reached` holds. */
async function jobWhen(
  stem: string,
  reached: (job: JobRecord) => boolean,
  seconds = 120,
): Promise<JobRecord> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const jobs = (await storesOf(stack).jobs.list()).items.filter((j) => j.stem === stem);
    const job = jobs.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
    if (job && reached(job)) return job;
    if (Date.now() > deadline) throw new Error(`${stem}: ${job?.status ?? 'no job'} after ${seconds} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** What the test uses of a media element (the type-check runs without the DOM's types). */
interface MediaLike {
  muted: boolean;
  readyState: number;
  currentTime: number;
  error: { message: string } | null;
  play(): Promise<void>;
  pause(): void;
}

const ended = (job: JobRecord) => ['DELIVERED', 'FAILED', 'CANCELLED'].includes(job.status);

async function openPage(viewport: { width: number; height: number }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(address);
  await page.getByRole('table').waitFor();
  return page;
}

/** Opens a job from the list by its stem (as a keyboard user would: focus the link, press Enter). */
async function openJob(page: Page, stem: string): Promise<void> {
  const link = page.getByRole('link', { name: stem, exact: true });
  await link.focus();
  await page.keyboard.press('Enter');
  await page.locator('#job-heading', { hasText: stem }).waitFor();
}

describe('the review console on a local batch', () => {
  it('lists the batch, cancels and retries from the page, shows a failure and plays the videos', {
    timeout: 600_000,
  }, async () => {
    // A job renders slowly and holds the one slot; the next one waits for it.
    sim.setRenderSpeed(3);
    await dropJob('review/holder');
    await jobWhen('review/holder', (j) => j.status === 'SUBMITTED');
    await dropJob('review/waiting', 'portrait.png', 'voice5.wav');
    await jobWhen('review/waiting', (j) => j.status === 'QUEUED');

    const page = await openPage({ width: 1280, height: 800 });
    await expect.poll(() => page.locator('#jobs tbody tr').count(), { timeout: 15_000 }).toBe(2);
    await openJob(page, 'review/waiting');
    await page.getByRole('button', { name: 'Cancel job…' }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await dialog.getByRole('button', { name: 'Cancel the job' }).click();
    await page.locator('.outcome', { hasText: 'Cancelled review/waiting' }).waitFor({ timeout: 60_000 });
    expect((await jobWhen('review/waiting', ended)).status).toBe('CANCELLED');
    await page.locator('#job-heading .state.CANCELLED').waitFor({ timeout: 15_000 });

    // The rest of the batch: one with bad inputs (too small an image, too short a voice), seven good ones.
    sim.setRenderSpeed(0);
    await dropJob('review/broken', 'small.png', 'voice1.wav');
    const good = ['anna', 'ben', 'carla', 'dan', 'erin', 'femi', 'gus'].map((name) => `review/${name}`);
    for (const [i, stem] of good.entries())
      await dropJob(stem, 'portrait.png', i % 2 ? 'voice5.wav' : 'voice3.wav');
    const all = ['review/holder', 'review/waiting', 'review/broken', ...good];
    for (const stem of all) await jobWhen(stem, ended, 240);
    await stack.idle();
    const broken = await jobWhen('review/broken', ended);
    expect(broken.status).toBe('FAILED');
    expect(broken.problems?.length).toBeGreaterThanOrEqual(2);

    // The list follows the batch live: ten jobs, newest first, counted per state.
    await expect.poll(() => page.locator('#jobs tbody tr').count(), { timeout: 15_000 }).toBe(10);
    await expect
      .poll(() => page.locator('#counts button[data-state="DELIVERED"] b').textContent(), { timeout: 15_000 })
      .toBe('8');
    expect(await page.locator('#counts button[data-state="FAILED"] b').textContent()).toBe('1');
    expect(await page.locator('#counts button[data-state="CANCELLED"] b').textContent()).toBe('1');
    const stems = await page.locator('#jobs tbody td.stem a').allTextContents();
    expect(new Set(stems)).toEqual(new Set(all));
    expect(stems[stems.length - 1]).toBe('review/holder');

    // The failed job: its message and every problem, in the words of its record (and so of <stem>.error.json).
    await openJob(page, 'review/broken');
    const report = page.getByRole('region', { name: 'Error report' });
    await report.waitFor();
    expect(await report.locator('.message').textContent()).toBe(broken.error?.message);
    const problems = await report.locator('.problems li').allTextContents();
    expect(problems).toHaveLength(broken.problems?.length ?? 0);
    for (const [i, p] of (broken.problems ?? []).entries()) expect(problems[i]).toContain(p.message);

    // The filters: by state, then by stem prefix.
    await page.getByLabel('State', { exact: true }).selectOption('FAILED');
    await expect
      .poll(() => page.locator('#jobs tbody td.stem a').allTextContents())
      .toEqual(['review/broken']);
    await page.getByLabel('State', { exact: true }).selectOption('');
    await page.getByLabel('Stem starts with').fill('review/c');
    await expect
      .poll(() => page.locator('#jobs tbody td.stem a').allTextContents())
      .toEqual(['review/carla']);
    await page.getByLabel('Stem starts with').fill('');
    await expect.poll(() => page.locator('#jobs tbody tr').count()).toBe(10);

    // A delivered job: its image, its voice and its video, which plays.
    await openJob(page, 'review/anna');
    const video = page.locator('video').first();
    await video.waitFor();
    await expect
      .poll(() =>
        page
          .locator('.media img')
          .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
      )
      .toBeGreaterThan(0);
    await expect
      .poll(() => page.locator('audio').evaluate((a) => (a as unknown as { readyState: number }).readyState))
      .toBeGreaterThan(0);
    const played = await video.evaluate(async (element) => {
      const v = element as unknown as MediaLike;
      v.muted = true;
      await v.play();
      await new Promise((r) => setTimeout(r, 1500));
      return { readyState: v.readyState, currentTime: v.currentTime, error: v.error?.message ?? null };
    });
    expect(played.error).toBeNull();
    expect(played.readyState).toBeGreaterThanOrEqual(2);
    expect(played.currentTime).toBeGreaterThan(0);
    await video.evaluate((element) => {
      const v = element as unknown as MediaLike;
      v.pause();
      v.currentTime = 1.2;
    });
    // The picture for the docs without the keyboard focus ring on the heading.
    await page.locator('#job-heading').evaluate((el) => (el as unknown as { blur(): void }).blur());
    await page.screenshot({ path: join(SCREENSHOTS, 'console-desktop.png') });

    // An estimate for a voice track chosen in the page: 5 s at the pro price, two results.
    await page.getByLabel('Voice track', { exact: true }).setInputFiles(join(dir, 'voice5.wav'));
    await page.getByLabel('Results', { exact: true }).fill('2');
    await page.getByRole('button', { name: 'Estimate' }).click();
    await expect
      .poll(() => page.locator('#estimate-out').textContent())
      .toMatch(/^5\.00 s of audio × USD 0\.087\/s \(klingai:avatar@2\.0-pro\) × 2 result\(s\) = USD 0\.87/);

    // Retry of the cancelled job, from the page: a new attempt starts and is delivered, and the page follows it.
    await openJob(page, 'review/waiting');
    await page.getByRole('button', { name: 'Retry…' }).click();
    await dialog.getByRole('button', { name: 'Retry' }).click();
    await page.locator('.outcome', { hasText: 'Started attempt 2' }).waitFor({ timeout: 30_000 });
    const retried = await jobWhen('review/waiting', (j) => j.attempt === 2 && ended(j));
    expect(retried.status).toBe('DELIVERED');
    await page.locator('#job-heading .state.DELIVERED').waitFor({ timeout: 15_000 });
    await page.locator('video').first().waitFor();
    await page.close();

    // At phone width: the list, then the failed job.
    const phone = await openPage({ width: 390, height: 844 });
    await expect.poll(() => phone.locator('#jobs tbody tr').count(), { timeout: 15_000 }).toBe(10);
    await phone.screenshot({ path: join(SCREENSHOTS, 'console-phone.png') });
    await openJob(phone, 'review/broken');
    await phone.getByRole('region', { name: 'Error report' }).waitFor();
    await phone.locator('#job-heading').evaluate((el) => (el as unknown as { blur(): void }).blur());
    expect(await phone.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await phone.screenshot({ path: join(SCREENSHOTS, 'console-phone-failed.png') });
    await phone.close();
    expect(pageErrors).toEqual([]);
  });

  it('refuses requests without its token, and with a Host that is not its own', async () => {
    const url = new URL(address);
    const bare = await fetch(`${url.origin}/api/overview`);
    expect(bare.status).toBe(401);
    const wrong = await fetch(`${url.origin}/api/overview?token=not-the-token`);
    expect(wrong.status).toBe(403);
    const post = await fetch(`${url.origin}/api/jobs/${'0'.repeat(32)}/retry`, {
      headers: { authorization: `Bearer ${url.searchParams.get('token')}` },
    });
    expect(post.status).toBe(405);
  });
});
