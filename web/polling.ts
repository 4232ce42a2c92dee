// The two loops that watch the server: the /ping probe (how long an answer takes now) and the
// /stats.json feed (the server's own loop delay, utilisation and admission gates).

import { $, setStat } from './dom.js';
import { figures, record, type Scrape } from './figures.js';
import { fmtMs } from './format.js';
import { sleep } from './net.js';

export const PROBE_EVERY_MS = 75;
export const SCRAPE_EVERY_MS = 1000;

/** Probes GET /ping for ever, one at a time, PROBE_EVERY_MS apart at most. */
export async function probe(): Promise<void> {
  for (;;) {
    const t = performance.now();
    figures.probeSentAt = t;
    let ok = false;
    try {
      const res = await fetch('/ping', { cache: 'no-store' });
      await res.arrayBuffer();
      ok = res.ok;
    } catch {
      // the server is gone or restarting: recorded as a failed probe
    }
    const ms = performance.now() - t;
    figures.probeSentAt = null;
    record(figures.pings, { t, ms, ok });
    $('connection').textContent = ok ? 'connected' : 'the server does not answer';
    $('connection').dataset.ok = String(ok);
    setStat('stat-ping', fmtMs(ms), ms);
    await sleep(Math.max(0, PROBE_EVERY_MS - ms));
  }
}

/** One whole second of the server's loop, as GET /stats.json reports it. */
interface FeedWindow {
  seq: number;
  delayP99Ms: number;
  delayMaxMs: number;
  utilization: number;
}

/** GET /stats.json: the server's figures for this page; reading them resets nothing the server keeps. */
interface Stats {
  pid: number;
  recent: FeedWindow[];
  inflight: Record<string, number>;
  queued: Record<string, number>;
}

/** The last window read from each server process (one per pid, under --processes N). */
const seen = new Map<number, number>();

/** The loop since the previous read: the windows not seen yet (delay at its worst, utilisation on average). */
function sinceLastRead(stats: Stats): Pick<Scrape, 'p99Ms' | 'maxMs' | 'elu'> {
  const last = seen.get(stats.pid) ?? -1;
  const fresh = stats.recent.filter((w) => w.seq > last);
  const windows = fresh.length > 0 ? fresh : stats.recent.slice(-1);
  seen.set(stats.pid, windows.at(-1)?.seq ?? last);
  const worst = (read: (w: FeedWindow) => number) => Math.max(0, ...windows.map(read));
  const elu = windows.reduce((sum, w) => sum + w.utilization, 0) / Math.max(1, windows.length);
  return { p99Ms: worst((w) => w.delayP99Ms), maxMs: worst((w) => w.delayMaxMs), elu };
}

/** Reads /stats.json every SCRAPE_EVERY_MS for ever, and hands each read to `onScrape`. */
export async function scrape(onScrape: (s: Scrape) => void): Promise<void> {
  for (;;) {
    const started = performance.now();
    try {
      const stats = (await (await fetch('/stats.json', { cache: 'no-store' })).json()) as Stats;
      const s: Scrape = {
        t: performance.now(),
        ...sinceLastRead(stats),
        inflight: stats.inflight,
        queued: stats.queued,
      };
      record(figures.scrapes, s);
      setStat('stat-p99', fmtMs(s.p99Ms), s.p99Ms);
      setStat('stat-max', fmtMs(s.maxMs), s.maxMs);
      setStat('stat-elu', `${(s.elu * 100).toFixed(0)} %`);
      onScrape(s);
    } catch {
      // the probe reports the server's absence
    }
    await sleep(Math.max(0, SCRAPE_EVERY_MS - (performance.now() - started)));
  }
}
