import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';

const KEY = 'dashboard-browser-key';
/** A browser and the stack share two busy cores; limits are generous, no assertion is on speed. */
const SLOW = 300_000;
const ROOT = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test/artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const README_JOBS = [
  { latency_sensitive: true, rows: 100, estimated_runtime_sec: 1 },
  { rows: 50000000, estimated_runtime_sec: 300, priority: 'high' },
  { rows: 5000000, estimated_runtime_sec: 100, priority: 'normal' },
];

describe('dashboard in a real browser (Debian chromium via playwright-core)', () => {
  let r: TestRunner;
  let browser: BrowserContext;
  let page: Page;
  const requests: { url: string; key?: string }[] = [];

  beforeAll(async () => {
    // npm run build bundles the dashboard; a bare `npm test` builds it here once.
    if (!existsSync(join(ROOT, 'dist/ui/index.html'))) {
      await promisify(execFile)(join(ROOT, 'node_modules/.bin/vite'), ['build', '--config', 'src/ui/vite.config.ts'], {
        cwd: ROOT,
      });
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    r = await startTestRunner({ LOCAL_API_KEY: KEY });
    // A fresh profile (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'cjo-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage();
    page.on('request', (req) => requests.push({ url: req.url(), key: req.headers()['x-functions-key'] }));
  });
  afterAll(async () => {
    await browser?.close();
    await r?.stop();
  });

  const post = async (body: unknown) =>
    ((await (await r.post('/api/submit-job', body, { 'x-functions-key': KEY })).json()) as { job_id: string }).job_id;
  const status = (id: string) =>
    r
      .api(`/api/jobs/${id}`, { headers: { 'x-functions-key': KEY } })
      .then((x) => x.json() as Promise<{ status: string }>);

  it(
    'asks for the key once, lists the README jobs and follows one to succeeded',
    async () => {
      await page.goto(`${r.url}/api/ui`);
      await page.locator('input[name=key]').fill(KEY);
      await page.screenshot({ path: join(ARTIFACTS, 'key-prompt.png') });
      await page.getByRole('button', { name: 'Continue' }).click();

      const ids = [];
      for (const body of README_JOBS) ids.push(await post(body));
      for (const id of ids) await page.locator(`tr[data-job="${id}"]`).waitFor({ timeout: 20_000 });
      // Newest first.
      const order = await page
        .locator('tr[data-job]')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-job')));
      expect(order.slice(0, 3)).toEqual([...ids].reverse());
      await page.locator(`tr[data-job="${ids[0]}"] [data-status=succeeded]`).waitFor({ timeout: 90_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'jobs.png') });

      await page.locator(`a[href="#/jobs/${ids[1]}"]`).click();
      await page.locator('.job-head [data-status=succeeded]').waitFor({ timeout: 120_000 });
      await expect.poll(() => page.locator('.explanation').textContent()).toMatch(/spark-jobs/);
      await expect.poll(() => page.locator('.timeline li').count()).toBeGreaterThanOrEqual(4);
      await page.locator('.card pre.result').waitFor();
      await page.screenshot({ path: join(ARTIFACTS, 'job.png'), fullPage: true });

      // The key went in the header of every API call and never into a URL; nothing left this origin.
      const apiCalls = requests.filter((q) => new URL(q.url).pathname.startsWith('/api/jobs'));
      expect(apiCalls.length).toBeGreaterThan(3);
      expect(apiCalls.every((q) => q.key === KEY)).toBe(true);
      expect(requests.filter((q) => q.url.includes(KEY))).toEqual([]);
      expect(requests.filter((q) => !q.url.startsWith(r.url))).toEqual([]);
    },
    SLOW,
  );

  it(
    'cancels a long job from its page after confirmation: cancelling, then cancelled',
    async () => {
      const id = await post({ rows: 1000, estimated_runtime_sec: 20000 });
      await waitFor(
        () => status(id),
        (j) => j.status === 'running',
        30_000,
        'the long job to run',
      );
      await page.goto(`${r.url}/api/ui#/jobs/${id}`);
      await page.locator('.job-head [data-status=running]').waitFor({ timeout: 10_000 });
      let asked = '';
      page.once('dialog', (d) => {
        asked = d.message();
        void d.accept();
      });
      await page.getByRole('button', { name: 'Cancel job' }).click();
      await page.locator('.job-head [data-status=cancelled]').waitFor({ timeout: 90_000 });
      expect(asked).toContain(id);
      const timeline = await page
        .locator('.timeline [data-status]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
      expect(timeline.indexOf('cancelling')).toBeGreaterThan(-1);
      expect(timeline.indexOf('cancelled')).toBeGreaterThan(timeline.indexOf('cancelling'));
      await page.screenshot({ path: join(ARTIFACTS, 'job-cancelled.png'), fullPage: true });
    },
    SLOW,
  );

  it(
    'shows queues with dead letters and providers with their state',
    async () => {
      await page.goto(`${r.url}/api/ui#/queues`);
      await page.locator('tr[data-queue]').first().waitFor();
      expect(await page.locator('tr[data-queue]').count()).toBe(5);
      await page.screenshot({ path: join(ARTIFACTS, 'queues.png') });
      await page.goto(`${r.url}/api/ui#/providers`);
      await page.locator('tr[data-provider="local"]').waitFor();
      expect(await page.locator('tr[data-provider="local"]').textContent()).toContain('configured');
      expect(await page.locator('tr[data-provider="sagemaker"]').textContent()).toContain('not configured');
      await page.screenshot({ path: join(ARTIFACTS, 'providers.png') });
    },
    SLOW,
  );

  it(
    'is readable on a phone-sized screen',
    async () => {
      const phone = await browser.newPage();
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(`${r.url}/api/ui`);
      await phone.locator('input[name=key]').fill(KEY);
      await phone.getByRole('button', { name: 'Continue' }).click();
      await phone.locator('tr[data-job]').first().waitFor();
      const overflow: number = await phone.evaluate('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      await phone.screenshot({ path: join(ARTIFACTS, 'jobs-phone.png'), fullPage: true });
      await phone.close();
    },
    SLOW,
  );

  it(
    'asks again when the key is wrong, and shows no job without one',
    async () => {
      const other = await browser.newPage();
      await other.goto(`${r.url}/api/ui`);
      await other.locator('input[name=key]').fill('wrong-key');
      await other.getByRole('button', { name: 'Continue' }).click();
      await other.locator('input[name=key]').waitFor();
      expect(await other.locator('tr[data-job]').count()).toBe(0);
      await other.close();
    },
    SLOW,
  );
});
