// offloop's live page: probes GET /ping, reads /stats.json, fires bursts of work, draws it all.
// Every figure it shows it also records on window.offloop (figures.ts), for the browser test.
// This module only starts the parts; each concern lives in its own module.

import { refreshLog } from './bursts.js';
import { draw } from './chart.js';
import { enableControls, loadKernels, mountControls } from './controls.js';
import { figures } from './figures.js';
import { probe, scrape } from './polling.js';
import { loadDatabase, mountSeed, showDatabase } from './seed.js';
import { loadStrategies, renderGates, renderStrategies } from './strategies.js';

const REDRAW_EVERY_MS = 100;

async function setUp(): Promise<void> {
  await Promise.all([loadStrategies(), loadKernels()]);
  enableControls();
  renderStrategies();
  figures.ready = true;
}

function start(): void {
  mountControls();
  mountSeed();
  void setUp();
  void loadDatabase().then(showDatabase);
  void probe();
  void scrape(renderGates);
  setInterval(() => {
    const now = performance.now();
    draw(now);
    refreshLog(now);
  }, REDRAW_EVERY_MS);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
