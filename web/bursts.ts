// Firing bursts of requests and logging them: shared by the burst controls and the seed panel.

import { $ } from './dom.js';
import { type Burst, figures } from './figures.js';
import { fmtMs } from './format.js';

/**
 * Requests all bursts together may have out at once. A browser opens at most six connections to
 * one server; two stay free for the probe and the scrape, or they would queue in the browser
 * behind the burst and measure that instead of the server.
 */
export const BURST_SLOTS = 4;

let nextId = 1;

/** The page-wide limit on burst requests out at once (see BURST_SLOTS). */
let slotsFree = BURST_SLOTS;
const slotWaiters: (() => void)[] = [];
async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (slotsFree > 0) slotsFree--;
  else await new Promise<void>((resolve) => slotWaiters.push(resolve));
  try {
    return await work();
  } finally {
    const next = slotWaiters.shift();
    if (next) next();
    else slotsFree++;
  }
}

/** Log lines of recent bursts, re-described while late probe answers still come in. */
const logLines: { burst: Burst; describe(): void }[] = [];
const LOG_LINES_LIVE = 50;
/** How long after a burst ends its line keeps updating: a probe the burst held lands late. */
const LOG_SETTLE_MS = 5000;

/** One request of a burst: its URL and fetch options. */
export type MakeRequest = () => [string, RequestInit?];

/** Sends `requests` requests, `concurrency` at a time, and records the burst. */
export async function fire(
  label: string,
  strategy: string,
  requests: number,
  concurrency: number,
  make: MakeRequest,
): Promise<void> {
  const info = figures.strategies.find((s) => s.name === strategy);
  const burst: Burst = {
    id: nextId++,
    label,
    strategy,
    blocksLoop: info?.blocksLoop ?? true,
    requests,
    concurrency,
    start: performance.now(),
    end: null,
    statuses: {},
  };
  figures.bursts.push(burst);
  const item = document.createElement('li');
  $('log').prepend(item);
  const describe = () => {
    const statuses = Object.entries(burst.statuses)
      .map(([status, n]) => `${n}× ${status}`)
      .join(', ');
    const took = fmtMs((burst.end ?? performance.now()) - burst.start);
    const what = `${label}: ${requests} request${requests === 1 ? '' : 's'}, ${concurrency} at a time`;
    item.className = burst.blocksLoop ? 'on-loop' : 'off-loop';
    item.textContent =
      burst.end === null
        ? `${what} — running…`
        : `${what} — ${took}; ping max ${fmtMs(figures.maxPingDuring(burst))}; ${statuses}`;
  };
  describe();
  logLines.push({ burst, describe });
  if (logLines.length > LOG_LINES_LIVE) logLines.shift();
  let sent = 0;
  const runner = async () => {
    while (sent < requests) {
      sent++;
      const [url, init] = make();
      const status = await withSlot(async () => {
        try {
          const res = await fetch(url, { cache: 'no-store', ...init });
          await res.blob(); // the whole answer, kept out of the page's heap
          return String(res.status);
        } catch {
          return 'error';
        }
      });
      burst.statuses[status] = (burst.statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, runner));
  burst.end = performance.now();
  describe();
}

/** Re-describes the lines of bursts that ended lately, whose ping max may still grow. */
export function refreshLog(now: number): void {
  for (const line of logLines) if (line.burst.end !== null && now - line.burst.end < LOG_SETTLE_MS) line.describe();
}
