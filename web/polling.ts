// The two loops that watch the server: the /ping probe (how long an answer takes now) and the
// /metrics scrape (the server's own loop delay, utilisation and admission gates).

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

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Samples of one metric from Prometheus text: label set → value. */
function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const pairs = [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]);
    out.push({ labels: Object.fromEntries(pairs), value: Number(match[3]) });
  }
  return out;
}

function byStrategy(text: string, name: string): Record<string, number> {
  return Object.fromEntries(samples(text, name).map((s) => [s.labels.strategy ?? '', s.value]));
}

/** Scrapes /metrics every SCRAPE_EVERY_MS for ever, and hands each scrape to `onScrape`. */
export async function scrape(onScrape: (s: Scrape) => void): Promise<void> {
  for (;;) {
    const started = performance.now();
    try {
      const text = await (await fetch('/metrics', { cache: 'no-store' })).text();
      const delay = samples(text, 'offloop_event_loop_delay_seconds');
      const quantile = (q: string) => (delay.find((s) => s.labels.quantile === q)?.value ?? 0) * 1000;
      const s: Scrape = {
        t: performance.now(),
        p99Ms: quantile('0.99'),
        maxMs: quantile('1'),
        elu: samples(text, 'offloop_event_loop_utilization')[0]?.value ?? 0,
        inflight: byStrategy(text, 'offloop_inflight_requests'),
        queued: byStrategy(text, 'offloop_queued_requests'),
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
