import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { cpuKernelNames } from '../src/engines/kernels.js';
import type { Parts } from './results.js';
import { ratio } from './stats.js';

/**
 * The charts: vega-lite specs compiled to vega and rendered to SVG by vega itself, headless
 * (renderer 'none' needs no canvas or browser), so they are regenerated from the JSON each run.
 */

const schema = 'https://vega.github.io/schema/vega-lite/v5.json';
const base = {
  $schema: schema,
  background: 'white',
  config: { font: 'sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, view: { stroke: null } },
} as const;

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One chart per question; a chart whose part was not run is left out. */
export function chartSpecs(parts: Parts): Record<string, TopLevelSpec> {
  const specs: Record<string, TopLevelSpec> = {};
  const { kernels, http } = parts;
  if (http && http.heavy.length > 0) {
    const strategies = [...new Set(http.heavy.map((r) => r.strategy))];
    specs['ping-latency'] = {
      ...base,
      title: {
        text: 'Ping latency while a heavy route is under load, by strategy',
        subtitle:
          `p99 bars, p50 ticks; dashed: idle p99 (${http.idlePing.p99.toFixed(3)} ms)` +
          `${http.floor ? `; dotted: the floor's loaded p99 (${http.floor.ping.p99.toFixed(3)} ms)` : ''}. Log scale.`,
      },
      width: 520,
      height: 300,
      data: {
        values: http.heavy.map((r) => ({
          strategy: r.strategy,
          route: `/${r.route}`,
          p99: r.ping.p99,
          p50: r.ping.p50,
        })),
      },
      layer: [
        {
          mark: 'bar',
          encoding: {
            x: { field: 'strategy', type: 'nominal', sort: strategies, axis: { labelAngle: -30 } },
            xOffset: { field: 'route' },
            y: { field: 'p99', type: 'quantitative', scale: { type: 'log' }, stack: null, title: 'ping latency (ms)' },
            color: { field: 'route', type: 'nominal', title: 'heavy route' },
            tooltip: [{ field: 'strategy' }, { field: 'route' }, { field: 'p50' }, { field: 'p99' }],
          },
        },
        {
          mark: { type: 'tick', color: 'black', thickness: 2 },
          encoding: {
            x: { field: 'strategy', type: 'nominal', sort: strategies },
            xOffset: { field: 'route' },
            y: { field: 'p50', type: 'quantitative' },
          },
        },
        { mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { datum: http.idlePing.p99 } } },
        ...(http.floor
          ? [
              {
                mark: { type: 'rule' as const, strokeDash: [1, 3], color: 'black' },
                encoding: { y: { datum: http.floor.ping.p99 } },
              },
            ]
          : []),
      ],
    };
  }
  if (kernels && kernels.kernels.length > 0) {
    const ops = (kernel: string, engine: string) =>
      kernels.kernels.find((r) => r.kernel === kernel && r.engine === engine)?.opsPerSec;
    const values = kernels.kernels
      .filter((r) => r.engine !== 'js')
      .map((r) => ({ kernel: r.kernel, engine: r.engine, speedup: ratio(r.opsPerSec, ops(r.kernel, 'js')) }));
    specs.speedups = {
      ...base,
      title: { text: 'Kernel speed-up over TypeScript (sync forms, same inputs)', subtitle: 'ops/s ÷ js ops/s' },
      width: 360,
      height: 260,
      data: { values },
      layer: [
        {
          mark: 'bar',
          encoding: {
            x: { field: 'kernel', type: 'nominal', sort: [...cpuKernelNames], axis: { labelAngle: 0 } },
            xOffset: { field: 'engine' },
            y: { field: 'speedup', type: 'quantitative', stack: null, title: 'speed-up (×)' },
            color: { field: 'engine', type: 'nominal' },
          },
        },
        {
          mark: { type: 'text', dy: -6, fontSize: 10 },
          encoding: {
            x: { field: 'kernel', type: 'nominal', sort: [...cpuKernelNames] },
            xOffset: { field: 'engine' },
            y: { field: 'speedup', type: 'quantitative' },
            text: { field: 'speedup', type: 'quantitative', format: '.1f' },
          },
        },
        { mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { datum: 1 } } },
      ],
    };
  }
  if (kernels && kernels.scaling.length > 0) {
    const one = (engine: string) => kernels.scaling.find((r) => r.engine === engine && r.inFlight === 1)?.opsPerSec;
    specs.scaling = {
      ...base,
      title: {
        text: 'Async throughput by tasks in flight',
        subtitle: `primes(${kernels.inputs.scalingPrimesLimit}); ratio to 1 in flight; ${kernels.machine.cores} cores`,
      },
      width: 360,
      height: 260,
      data: {
        values: kernels.scaling.map((r) => ({
          engine: r.engine,
          inFlight: r.inFlight,
          ratio: ratio(r.opsPerSec, one(r.engine)),
        })),
      },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'inFlight', type: 'ordinal', title: 'tasks in flight', axis: { labelAngle: 0 } },
        y: { field: 'ratio', type: 'quantitative', title: 'ops/s ÷ ops/s with 1 in flight' },
        color: { field: 'engine', type: 'nominal' },
      },
    };
  }
  if (kernels && kernels.dispatch.length > 0) {
    specs.dispatch = {
      ...base,
      title: { text: 'Dispatch cost: round trip of a task that does nothing', subtitle: 'median, one in flight' },
      width: 360,
      height: 240,
      data: { values: kernels.dispatch.map((r) => ({ name: r.name, us: r.p50Ms * 1000 })) },
      layer: [
        {
          mark: 'bar',
          encoding: {
            x: {
              field: 'name',
              type: 'nominal',
              sort: kernels.dispatch.map((r) => r.name),
              title: null,
              axis: { labelAngle: 0 },
            },
            y: { field: 'us', type: 'quantitative', title: 'round trip (µs)' },
            color: { field: 'name', type: 'nominal', legend: null },
          },
        },
        {
          mark: { type: 'text', dy: -6, fontSize: 10 },
          encoding: {
            x: { field: 'name', type: 'nominal', sort: kernels.dispatch.map((r) => r.name) },
            y: { field: 'us', type: 'quantitative' },
            text: { field: 'us', type: 'quantitative', format: '.1f' },
          },
        },
      ],
    };
  }
  if (http && http.starvation.length > 0) {
    specs.starvation = {
      ...base,
      title: { text: "fs.promises.readFile latency while a strategy's jobs fill its pool", subtitle: 'p99; log scale' },
      width: 300,
      height: 240,
      data: {
        values: http.starvation.flatMap((r) => [
          { strategy: r.strategy, phase: 'idle', p99: r.idle.p99 },
          { strategy: r.strategy, phase: 'pool full', p99: r.loaded.p99 },
        ]),
      },
      mark: 'bar',
      encoding: {
        x: { field: 'strategy', type: 'nominal', axis: { labelAngle: 0 } },
        xOffset: { field: 'phase' },
        y: { field: 'p99', type: 'quantitative', scale: { type: 'log' }, stack: null, title: 'fs read p99 (ms)' },
        color: { field: 'phase', type: 'nominal' },
      },
    };
  }
  return specs;
}

/** Writes `<name>.svg` for every chart; returns the file names. */
export async function writeCharts(dir: string, parts: Parts): Promise<string[]> {
  const written: string[] = [];
  for (const [name, spec] of Object.entries(chartSpecs(parts))) {
    await writeFile(join(dir, `${name}.svg`), await renderSvg(spec));
    written.push(`${name}.svg`);
  }
  return written;
}
