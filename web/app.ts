// offloop's live page: probes GET /ping, scrapes /metrics, fires bursts of work, draws it all.
// Every figure it shows it also records on window.offloop, for the browser test.

/** One row of GET /strategies. */
interface StrategyInfo {
  name: string;
  where: string;
  blocksLoop: boolean;
  pool: string;
  kernels: string[];
}

/** One /ping probe: sent at `t` (ms, performance.now()), answered `ms` later. */
interface Ping {
  t: number;
  ms: number;
  ok: boolean;
}

/** One /metrics scrape; loop figures cover the time since the previous scrape. */
interface Scrape {
  t: number;
  p99Ms: number;
  maxMs: number;
  elu: number;
  inflight: Record<string, number>;
  queued: Record<string, number>;
}

/** A burst of requests, fired from the controls or a seed button. */
interface Burst {
  id: number;
  label: string;
  strategy: string;
  blocksLoop: boolean;
  requests: number;
  concurrency: number;
  start: number;
  /** null while requests are still out. */
  end: number | null;
  /** How many answers per HTTP status ("error" for a network failure). */
  statuses: Record<string, number>;
}

interface Figures {
  ready: boolean;
  strategies: StrategyInfo[];
  pings: Ping[];
  scrapes: Scrape[];
  bursts: Burst[];
  /** The largest ping latency among probes out at any time during the burst (a probe still out counts its age). */
  maxPingDuring(burst: Burst): number;
}

declare global {
  interface Window {
    offloop: Figures;
  }
}

const PROBE_EVERY_MS = 75;
/**
 * Requests all bursts together may have out at once. A browser opens at most six connections to
 * one server; two stay free for the probe and the scrape, or they would queue in the browser
 * behind the burst and measure that instead of the server.
 */
const BURST_SLOTS = 4;
const SCRAPE_EVERY_MS = 1000;
const WINDOW_MS = 30_000;
const KEEP = 50_000;

/** How each kernel is asked for: its size parameter (label, name, starting value) and request. */
const kernels: Record<string, { label: string; key: string; value: number; request(strategy: string, size: number): [string, RequestInit?] }> = {
  primes: { label: 'Limit', key: 'limit', value: 400_000_000, request: (s, n) => [`/primes/${s}?limit=${n}`] },
  pbkdf2: {
    label: 'Iterations', key: 'iterations', value: 1_000_000,
    request: (s, n) => [`/pbkdf2/${s}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'pw', salt: 'salt', iterations: n, keylen: 32 }) }],
  },
  blur: {
    label: 'Image side (px)', key: 'side', value: 2048,
    request: (s, n) => [`/blur/${s}?width=${n}&height=${n}&radius=8`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: noise(n * n * 4) }],
  },
  sleep: { label: 'Sleep (ms)', key: 'ms', value: 1000, request: (s, n) => [`/sleep/${s}?ms=${n}`] },
};

/**
 * Random RGBA to blur, made once per size. A Blob, because fetch copies a typed-array body on the
 * page's own thread (hundreds of ms for megabytes, stalling the probe) but hands a Blob over as is.
 */
const images = new Map<number, Blob>();
function noise(length: number): Blob {
  const made = images.get(length);
  if (made) return made;
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(length, i + 65536)));
  const blob = new Blob([bytes]);
  images.clear();
  images.set(length, blob);
  return blob;
}

const figures: Figures = {
  ready: false,
  strategies: [],
  pings: [],
  scrapes: [],
  bursts: [],
  maxPingDuring(burst) {
    const end = burst.end ?? performance.now();
    let max = probeSentAt !== null && probeSentAt <= end ? performance.now() - probeSentAt : 0;
    for (const p of this.pings) if (p.t <= end && p.t + p.ms >= burst.start) max = Math.max(max, p.ms);
    return max;
  },
};
window.offloop = figures;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`);
const fmtTick = (ms: number) => (ms >= 1000 ? `${+(ms / 1000).toFixed(2)} s` : `${+ms.toFixed(1)} ms`);
const level = (ms: number) => (ms < 50 ? 'good' : ms < 200 ? 'warn' : 'bad');
const push = <T>(list: T[], item: T) => {
  list.push(item);
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
};

function setStat(id: string, text: string, ms?: number): void {
  const el = $(id);
  el.textContent = text;
  el.className = ms === undefined ? '' : level(ms);
}

// ---- the probe --------------------------------------------------------------------------------

/** When the probe now out was sent; null between probes. */
let probeSentAt: number | null = null;

async function probe(): Promise<void> {
  for (;;) {
    const t = performance.now();
    probeSentAt = t;
    let ok = false;
    try {
      const res = await fetch('/ping', { cache: 'no-store' });
      await res.arrayBuffer();
      ok = res.ok;
    } catch {
      // the server is gone or restarting: recorded as a failed probe
    }
    const ms = performance.now() - t;
    probeSentAt = null;
    push(figures.pings, { t, ms, ok });
    $('connection').textContent = ok ? 'connected' : 'the server does not answer';
    $('connection').dataset.ok = String(ok);
    setStat('stat-ping', fmtMs(ms), ms);
    await sleep(Math.max(0, PROBE_EVERY_MS - ms));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- /metrics ---------------------------------------------------------------------------------

/** Samples of one metric from Prometheus text: label set → value. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    out.push({ labels, value: Number(match[3]) });
  }
  return out;
}

function byStrategy(text: string, name: string): Record<string, number> {
  return Object.fromEntries(samples(text, name).map((s) => [s.labels.strategy ?? '', s.value]));
}

async function scrape(): Promise<void> {
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
      push(figures.scrapes, s);
      setStat('stat-p99', fmtMs(s.p99Ms), s.p99Ms);
      setStat('stat-max', fmtMs(s.maxMs), s.maxMs);
      setStat('stat-elu', `${(s.elu * 100).toFixed(0)} %`);
      renderGates(s);
    } catch {
      // the probe reports the server's absence
    }
    await sleep(Math.max(0, SCRAPE_EVERY_MS - (performance.now() - started)));
  }
}

// ---- strategies and controls ------------------------------------------------------------------

function renderStrategies(): void {
  const body = $('strategies').querySelector('tbody')!;
  body.replaceChildren(
    ...figures.strategies.map((s) => {
      const row = document.createElement('tr');
      row.dataset.strategy = s.name;
      const cells = [s.name, s.where, s.blocksLoop ? 'blocks' : 'free', s.blocksLoop ? '—' : '0', s.blocksLoop ? '—' : '0'];
      row.replaceChildren(
        ...cells.map((text, i) => {
          const cell = document.createElement(i === 0 ? 'th' : 'td');
          if (i === 0) cell.setAttribute('scope', 'row');
          cell.textContent = text;
          if (i === 2) cell.className = s.blocksLoop ? 'bad' : 'good';
          if (i >= 3) cell.className = 'num';
          return cell;
        }),
      );
      return row;
    }),
  );
}

function renderGates(s: Scrape): void {
  for (const row of $('strategies').querySelectorAll<HTMLTableRowElement>('tbody tr')) {
    const name = row.dataset.strategy!;
    if (!(name in s.inflight)) continue;
    row.cells[3]!.textContent = String(s.inflight[name] ?? 0);
    row.cells[4]!.textContent = String(s.queued[name] ?? 0);
    row.classList.toggle('busy', (s.inflight[name] ?? 0) + (s.queued[name] ?? 0) > 0);
  }
}

const kernelSelect = () => $<HTMLSelectElement>('kernel');
const strategySelect = () => $<HTMLSelectElement>('strategy');

function option(value: string, text: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

function onKernelChange(): void {
  const kernel = kernelSelect().value;
  const previous = strategySelect().value;
  const usable = figures.strategies.filter((s) => s.kernels.includes(kernel));
  strategySelect().replaceChildren(...usable.map((s) => option(s.name, `${s.name} · ${s.blocksLoop ? 'on the loop' : 'off the loop'}`)));
  if (usable.some((s) => s.name === previous)) strategySelect().value = previous;
  const spec = kernels[kernel]!;
  $('size-label').textContent = spec.label;
  $<HTMLInputElement>('size').value = String(spec.value);
  onStrategyChange();
}

function onStrategyChange(): void {
  const s = figures.strategies.find((x) => x.name === strategySelect().value);
  $('strategy-where').textContent = s ? `${s.where}.` : '';
}

async function loadStrategies(): Promise<void> {
  for (;;) {
    try {
      const res = await fetch('/strategies', { cache: 'no-store' });
      if (res.ok) {
        figures.strategies = (await res.json()) as StrategyInfo[];
        break;
      }
    } catch {
      // not up yet
    }
    await sleep(1000);
  }
  const names = [...new Set(figures.strategies.flatMap((s) => s.kernels))].filter((k) => k in kernels);
  kernelSelect().replaceChildren(...names.map((k) => option(k, k)));
  onKernelChange();
  renderStrategies();
  $<HTMLFieldSetElement>('burst-fields').disabled = false;
  figures.ready = true;
}

// ---- bursts -----------------------------------------------------------------------------------

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

/** Sends `requests` requests, `concurrency` at a time, and records the burst. */
async function fire(label: string, strategy: string, requests: number, concurrency: number, make: () => [string, RequestInit?]): Promise<void> {
  const info = figures.strategies.find((s) => s.name === strategy);
  const burst: Burst = {
    id: nextId++, label, strategy, blocksLoop: info?.blocksLoop ?? true, requests, concurrency,
    start: performance.now(), end: null, statuses: {},
  };
  figures.bursts.push(burst);
  const item = document.createElement('li');
  $('log').prepend(item);
  const describe = () => {
    const statuses = Object.entries(burst.statuses).map(([status, n]) => `${n}× ${status}`).join(', ');
    const took = fmtMs((burst.end ?? performance.now()) - burst.start);
    item.className = burst.blocksLoop ? 'on-loop' : 'off-loop';
    item.textContent = burst.end === null
      ? `${label}: ${requests} request${requests === 1 ? '' : 's'}, ${concurrency} at a time — running…`
      : `${label}: ${requests} request${requests === 1 ? '' : 's'}, ${concurrency} at a time — ${took}; ping max ${fmtMs(figures.maxPingDuring(burst))}; ${statuses}`;
  };
  describe();
  logLines.push({ burst, describe });
  if (logLines.length > 50) logLines.shift();
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

function int(id: string, min: number, max: number): number {
  const value = Math.round(Number($<HTMLInputElement>(id).value));
  return Math.min(max, Math.max(min, Number.isFinite(value) ? value : min));
}

function onSubmit(event: SubmitEvent): void {
  event.preventDefault();
  const kernel = kernelSelect().value;
  const strategy = strategySelect().value;
  const spec = kernels[kernel];
  if (!spec || !strategy) return;
  const size = Number($<HTMLInputElement>('size').value);
  const label = `${strategy} · ${kernel} ${spec.key}=${size}`;
  void fire(label, strategy, int('count', 1, 100), int('concurrency', 1, BURST_SLOTS), () => spec.request(strategy, size));
}

function onSeed(route: string): void {
  const ms = int('seed-ms', 0, 60_000);
  const strategy = { '/terrible-ping': 'blocking', '/good-ping': 'worker', '/perfect-ping': 'builtin' }[route] ?? 'blocking';
  void fire(`${route}?ms=${ms}`, strategy, 1, 1, () => [`${route}?ms=${ms}`]);
}

// ---- the chart --------------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';
const W = 800, H = 260, LEFT = 52, RIGHT = 10, TOP = 14, BOTTOM = 24;

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The y axis: four or so round steps (1, 2, 2.5 or 5 × 10ⁿ ms) up to at least `ms`, and 20 ms at least. */
function yAxis(ms: number): { top: number; step: number } {
  const target = Math.max(20, ms * 1.05);
  const rough = target / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  return { top: step * Math.ceil(target / step), step };
}

function draw(): void {
  const now = performance.now();
  const from = now - WINDOW_MS;
  const pings = figures.pings.filter((p) => p.t + p.ms >= from);
  const scrapes = figures.scrapes.filter((s) => s.t >= from);
  const pending = probeSentAt === null ? 0 : now - probeSentAt;
  const { top, step } = yAxis(Math.max(pending, ...pings.map((p) => p.ms), ...scrapes.map((s) => s.maxMs)));
  const x = (t: number) => LEFT + ((t - from) / WINDOW_MS) * (W - LEFT - RIGHT);
  const y = (ms: number) => H - BOTTOM - (Math.min(ms, top) / top) * (H - TOP - BOTTOM);
  const nodes: SVGElement[] = [];

  for (const b of figures.bursts) {
    const end = b.end ?? now;
    if (end < from) continue;
    const x0 = Math.max(LEFT, x(b.start));
    nodes.push(el('rect', { x: x0, y: TOP, width: Math.max(2, x(end) - x0), height: H - TOP - BOTTOM, class: b.blocksLoop ? 'span-on' : 'span-off' }));
    nodes.push(el('text', { x: x0 + 4, y: TOP + 12, class: 'span-label' }, b.strategy));
  }
  for (let ms = 0; ms <= top + step / 2; ms += step) {
    nodes.push(el('line', { x1: LEFT, x2: W - RIGHT, y1: y(ms), y2: y(ms), class: 'grid' }));
    nodes.push(el('text', { x: LEFT - 6, y: y(ms) + 4, class: 'axis', 'text-anchor': 'end' }, fmtTick(ms)));
  }
  for (let s = 0; s <= WINDOW_MS / 1000; s += 5) {
    nodes.push(el('text', { x: x(now - s * 1000), y: H - 6, class: 'axis', 'text-anchor': s === 0 ? 'end' : 'middle' }, s === 0 ? 'now' : `−${s} s`));
  }
  // Loop delay: each scrape's max holds for the interval since the scrape before it.
  let d = '';
  scrapes.forEach((s, i) => {
    const prev = i > 0 ? scrapes[i - 1]!.t : s.t - SCRAPE_EVERY_MS;
    d += `${d ? 'L' : 'M'}${Math.max(LEFT, x(prev)).toFixed(1)},${y(s.maxMs).toFixed(1)}L${x(s.t).toFixed(1)},${y(s.maxMs).toFixed(1)}`;
  });
  if (d) nodes.push(el('path', { d, class: 'delay' }));
  // Each probe is drawn when its answer came: a probe the server keeps waiting climbs until then.
  const points = pings.map((p) => `${Math.max(LEFT, x(p.t + p.ms)).toFixed(1)},${y(p.ms).toFixed(1)}`);
  if (points.length) nodes.push(el('polyline', { points: points.join(' '), class: 'ping' }));
  // The probe still out: a dashed line climbing while the server keeps it waiting.
  if (probeSentAt !== null && pending > 2 * PROBE_EVERY_MS) {
    nodes.push(el('line', { x1: x(probeSentAt), y1: y(0), x2: x(now), y2: y(pending), class: 'pending' }));
  }
  nodes.push(el('line', { x1: LEFT, x2: W - RIGHT, y1: H - BOTTOM, y2: H - BOTTOM, class: 'baseline' }));

  const chart = $('chart');
  const desc = chart.querySelector('desc')!;
  const recent = pings.filter((p) => p.t >= now - 10_000);
  const max10 = Math.max(0, pending, ...recent.map((p) => p.ms));
  desc.textContent = `Ping latency over the last 30 seconds; the largest in the last 10 seconds was ${fmtMs(max10)}.`;
  setStat('stat-ping-max', fmtMs(max10), max10);
  if (pending > 2 * PROBE_EVERY_MS) setStat('stat-ping', `${fmtMs(pending)}…`, pending);
  chart.replaceChildren(desc, ...nodes);
  for (const line of logLines) if (line.burst.end !== null && now - line.burst.end < 5000) line.describe();
}

// ---- start ------------------------------------------------------------------------------------

function start(): void {
  kernelSelect().addEventListener('change', onKernelChange);
  strategySelect().addEventListener('change', onStrategyChange);
  $<HTMLFormElement>('burst').addEventListener('submit', onSubmit);
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-seed]')) {
    button.addEventListener('click', () => onSeed(button.dataset.seed!));
  }
  void loadStrategies();
  void probe();
  void scrape();
  setInterval(draw, 100);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();

export {};
