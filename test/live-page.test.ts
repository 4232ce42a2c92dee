import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { type Browser, chromium } from 'playwright-core';
import { type RunningServer, request, startServer } from './helpers/server.js';

// The live page in parts: every module of its script is served, and the seed panel names the
// database GET /health reports ("—" when it reports none). The Chromium run is skipped without
// Chromium, like test/browser.test.ts.
const executablePath = process.env.OFFLOOP_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(executablePath);
const webBuild = fileURLToPath(new URL('../web/', import.meta.url));

let server: RunningServer;
test.before(async () => {
  server = await startServer();
});
test.after.always(async () => {
  await server?.stop();
});

test("every module of the live page's script is served as JavaScript", async (t) => {
  const modules = readdirSync(webBuild).filter((name) => name.endsWith('.js'));
  t.true(modules.includes('app.js') && modules.length > 1, modules.join(', '));
  for (const name of modules) {
    const reply = await request(`${server.url}/${name}`);
    t.is(reply.status, 200, name);
    t.true(String(reply.headers['content-type']).startsWith('text/javascript'), name);
  }
  t.is((await request(`${server.url}/no-such-module.js`)).status, 404);
});

const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];

/** The seed panel's database line once the page has read /health, answered `health` (or the server's own). */
async function databaseShown(browser: Browser, health?: unknown): Promise<string> {
  const page = await browser.newPage();
  try {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const read = page.waitForResponse((res) => new URL(res.url()).pathname === '/health');
    if (health !== undefined) {
      await page.route('**/health', (route) =>
        route.fulfill({ contentType: 'application/json', body: JSON.stringify(health) }),
      );
    }
    await page.goto(`${server.url}/`);
    await read;
    // The page shows "…" until it has read /health.
    await page.waitForFunction("document.getElementById('seed-database').textContent !== '…'");
    if (errors.length > 0) throw new Error(errors.join('; '));
    return (await page.textContent('#seed-database')) ?? '';
  } finally {
    await page.close();
  }
}

if (!hasChromium) {
  test.skip(`the seed panel's database, in Chromium: skipped, ${executablePath} is missing`, () => {});
} else {
  test.serial('the seed panel names the database GET /health reports, and "—" when it reports none', async (t) => {
    t.timeout(60_000);
    const browser = await chromium.launch({ executablePath, headless: true, args: flags });
    try {
      const sqlite = { status: 'ok', database: { kind: 'sqlite', name: 'offloop.db' } };
      t.is(await databaseShown(browser, sqlite), 'SQLite · offloop.db');
      const postgres = { status: 'ok', database: { kind: 'postgres', name: 'postgres://app@127.0.0.1:5432/pongs' } };
      t.is(await databaseShown(browser, postgres), 'PostgreSQL · postgres://app@127.0.0.1:5432/pongs');
      t.is(await databaseShown(browser, { status: 'ok' }), '—');
      t.is(await databaseShown(browser, { status: 'ok', database: { kind: 'sqlite' } }), '—');

      // The server's own answer, whichever it is: the page shows what /health says.
      const { database } = (await request(`${server.url}/health`)).json<{
        database?: { kind: string; name: string };
      }>();
      const kinds: Record<string, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };
      const expected = database ? `${kinds[database.kind] ?? database.kind} · ${database.name}` : '—';
      t.is(await databaseShown(browser), expected);
    } finally {
      await browser.close();
    }
  });
}
