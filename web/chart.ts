// The chart: /ping latency, the server's loop delay and the bursts over the last 30 s, as SVG,
// redrawn from the figures; also the figures that depend on the probe still out.

import { $, setStat } from './dom.js';
import { figures } from './figures.js';
import { fmtMs, fmtTick } from './format.js';
import { PROBE_EVERY_MS, SCRAPE_EVERY_MS } from './polling.js';

const SVG = 'http://www.w3.org/2000/svg';
const WINDOW_MS = 30_000;
/** The viewBox of #chart and the plot's margins in it. */
const W = 800;
const H = 260;
const LEFT = 52;
const RIGHT = 10;
const TOP = 14;
const BOTTOM = 24;

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

export function draw(now: number): void {
  const from = now - WINDOW_MS;
  const pings = figures.pings.filter((p) => p.t + p.ms >= from);
  const scrapes = figures.scrapes.filter((s) => s.t >= from);
  const probeSentAt = figures.probeSentAt;
  const pending = probeSentAt === null ? 0 : now - probeSentAt;
  const { top, step } = yAxis(Math.max(pending, ...pings.map((p) => p.ms), ...scrapes.map((s) => s.maxMs)));
  const x = (t: number) => LEFT + ((t - from) / WINDOW_MS) * (W - LEFT - RIGHT);
  const y = (ms: number) => H - BOTTOM - (Math.min(ms, top) / top) * (H - TOP - BOTTOM);
  const nodes: SVGElement[] = [];

  for (const b of figures.bursts) {
    const end = b.end ?? now;
    if (end < from) continue;
    const x0 = Math.max(LEFT, x(b.start));
    const span = { x: x0, y: TOP, width: Math.max(2, x(end) - x0), height: H - TOP - BOTTOM };
    nodes.push(el('rect', { ...span, class: b.blocksLoop ? 'span-on' : 'span-off' }));
    nodes.push(el('text', { x: x0 + 4, y: TOP + 12, class: 'span-label' }, b.strategy));
  }
  for (let ms = 0; ms <= top + step / 2; ms += step) {
    nodes.push(el('line', { x1: LEFT, x2: W - RIGHT, y1: y(ms), y2: y(ms), class: 'grid' }));
    nodes.push(el('text', { x: LEFT - 6, y: y(ms) + 4, class: 'axis', 'text-anchor': 'end' }, fmtTick(ms)));
  }
  for (let s = 0; s <= WINDOW_MS / 1000; s += 5) {
    const attrs = { x: x(now - s * 1000), y: H - 6, class: 'axis', 'text-anchor': s === 0 ? 'end' : 'middle' };
    nodes.push(el('text', attrs, s === 0 ? 'now' : `−${s} s`));
  }
  // Loop delay: each scrape's max holds for the interval since the scrape before it.
  let d = '';
  scrapes.forEach((s, i) => {
    const prev = i > 0 ? scrapes[i - 1]!.t : s.t - SCRAPE_EVERY_MS;
    const yMax = y(s.maxMs).toFixed(1);
    d += `${d ? 'L' : 'M'}${Math.max(LEFT, x(prev)).toFixed(1)},${yMax}L${x(s.t).toFixed(1)},${yMax}`;
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
}
