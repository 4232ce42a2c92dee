import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import test from 'ava';
import { chromium, type Page } from 'playwright-core';
import { type RunningServer, request, startServer } from './helpers/server.js';

// The live page, in a real browser: Debian's headless Chromium driven by playwright-core (which
// never downloads a browser). The page's own figures (window.offloop) must show the ping line
// jump under `blocking` and stay lower under `cpp`.
const executablePath = process.env.OFFLOOP_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(executablePath);
// The picture goes to a scratch file unless asked for (OFFLOOP_SCREENSHOT=bench/results/live-page.png
// refreshes the README's): a test writes nothing tracked by git.
const screenshot = process.env.OFFLOOP_SCREENSHOT
  ? resolve(process.env.OFFLOOP_SCREENSHOT)
  : join(tmpdir(), `offloop-live-page-${process.pid}.png`);

let server: RunningServer;
test.before(async () => {
  server = await startServer(['--max-loop-ms', '3600000', '--max-loop-share', '1']); // blocking bursts on purpose
});
test.after.always(async () => {
  await server?.stop();
});

test('the live page is served: /, /app.js and /style.css with their types, /strategies from the table', async (t) => {
  const types: Record<string, string> = { '/': 'text/html', '/app.js': 'text/javascript', '/style.css': 'text/css' };
  for (const [path, type] of Object.entries(types)) {
    const reply = await request(`${server.url}${path}`);
    t.is(reply.status, 200, path);
    t.true(String(reply.headers['content-type']).startsWith(type), path);
    t.true(reply.body.length > 100, path);
  }
  t.is((await request(`${server.url}/index.html`)).status, 404);
  t.is((await request(`${server.url}/web/app.ts`)).status, 404);
  const strategies = (await request(`${server.url}/strategies`)).json<
    { name: string; blocksLoop: boolean; kernels: string[] }[]
  >();
  const byName = new Map(strategies.map((s) => [s.name, s]));
  t.true(byName.get('blocking')?.blocksLoop);
  for (const name of ['cpp', 'rust', 'worker']) t.false(byName.get(name)?.blocksLoop, name);
  t.true(byName.get('cpp')?.kernels.includes('primes'));
});

interface BurstFigures {
  id: number;
  strategy: string;
  start: number;
  end: number | null;
  statuses: Record<string, number>;
  maxPing: number;
}

/**
 * Fires a primes burst through the page's own controls, waits until all its answers are in, and
 * then `settleMs` more (so the probe the server kept waiting has landed), and reads its figures.
 */
async function burst(
  page: Page,
  strategy: string,
  limit: number,
  requests: number,
  settleMs: number,
): Promise<BurstFigures> {
  const before = await page.evaluate(
    () => (globalThis as unknown as { offloop: { bursts: unknown[] } }).offloop.bursts.length,
  );
  await page.selectOption('#kernel', 'primes');
  await page.selectOption('#strategy', strategy);
  await page.fill('#size', String(limit));
  await page.fill('#count', String(requests));
  await page.fill('#concurrency', String(requests));
  await page.click('#fire');
  const done = (n: number) => {
    const { bursts } = (globalThis as unknown as { offloop: { bursts: { end: number | null }[] } }).offloop;
    return bursts.length > n && bursts[n]!.end !== null;
  };
  await page.waitForFunction(done, before, { timeout: 60_000, polling: 50 });
  await page.waitForTimeout(settleMs);
  return page.evaluate((n) => {
    const o = (globalThis as unknown as { offloop: { bursts: BurstFigures[]; maxPingDuring(b: unknown): number } })
      .offloop;
    const b = o.bursts[n]!;
    return {
      id: b.id,
      strategy: b.strategy,
      start: b.start,
      end: b.end,
      statuses: b.statuses,
      maxPing: o.maxPingDuring(b),
    };
  }, before);
}

const flags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

if (!hasChromium) {
  const title = `live page in Chromium: skipped, ${executablePath} is missing (install it: apt-get install chromium)`;
  test.skip(title, () => {});
  console.log(
    `browser.test: ${executablePath} is missing, so the live-page test is skipped; ` +
      'install it with: apt-get install chromium',
  );
} else {
  test.serial(
    'live page: /ping latency jumps during a blocking burst and stays lower during a cpp burst',
    async (t) => {
      t.timeout(120_000);
      const browser = await chromium.launch({ executablePath, headless: true, args: flags });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(`${server.url}/`);
        await page.waitForFunction(
          () => {
            const o = (globalThis as unknown as { offloop?: { ready: boolean; pings: unknown[]; scrapes: unknown[] } })
              .offloop;
            return o?.ready === true && o.pings.length >= 10 && o.scrapes.length >= 1;
          },
          undefined,
          { timeout: 30_000 },
        );
        // The strategies came from the server's table, not the page.
        const offered = await page.$$eval('#strategy option', (options) =>
          options.map((o) => (o as unknown as { value: string }).value),
        );
        t.true(offered.includes('blocking') && offered.includes('cpp'), offered.join(', '));

        // About a second per request under blocking; cpp runs the same work off the loop. After
        // the blocking burst, a scrape catches the loop delay and the line comes back down: then
        // the picture is taken, both bursts and the spike in view.
        const limit = 800_000_000;
        const cpp = await burst(page, 'cpp', limit, 3, 1500);
        const blocking = await burst(page, 'blocking', limit, 3, 1500);
        await mkdir(dirname(screenshot), { recursive: true });
        await page.screenshot({ path: screenshot, fullPage: true });
        if (!process.env.OFFLOOP_SCREENSHOT) await rm(screenshot, { force: true });
        else t.log(`screenshot: ${screenshot}`);

        t.log(`cpp burst: ${((cpp.end! - cpp.start) / 1000).toFixed(2)} s, ping max ${cpp.maxPing.toFixed(1)} ms`);
        t.log(
          `blocking burst: ${((blocking.end! - blocking.start) / 1000).toFixed(2)} s, ` +
            `ping max ${blocking.maxPing.toFixed(1)} ms`,
        );
        t.deepEqual(cpp.statuses, { 200: 3 });
        t.deepEqual(blocking.statuses, { 200: 3 });
        t.true(blocking.maxPing > cpp.maxPing, `blocking ${blocking.maxPing} ms vs cpp ${cpp.maxPing} ms`);
        t.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    },
  );
}
