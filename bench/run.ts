#!/usr/bin/env node
/**
 * offloop's benchmark suite, from the command line:
 *
 *   npm run bench                 everything (kernels, then HTTP)
 *   npm run bench:kernels         the kernel suite only
 *   npm run bench:http            the HTTP harness only
 *   … -- --quick                  a smoke run (well under a minute; figures are not comparable)
 *   … -- --out <dir>              where results go (default bench/results)
 *
 * Writes <out>/kernels.json and http.json (raw figures), summary.json (the named ratios),
 * README.md (tables) and the SVG charts, printing progress as it goes and the ratios last. A
 * part that was not run this time keeps its last figures, so the report always covers both.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { packagePath } from '../src/package-root.js';
import { writeCharts } from './charts.js';
import { httpPlan } from './http.js';
import { kernelPlan } from './kernels.js';
import { busyWarning, describeMachine } from './machine.js';
import { profiles } from './profile.js';
import { runSteps, type Step } from './progress.js';
import { renderReadme } from './report.js';
import { type PartName, type Parts, partNames, readPart, writeJson } from './results.js';
import { readSeedDb, renderSeedDb, seedDbPlan, seedDbSummary } from './seed-db.js';
import { fmt } from './stats.js';
import { strategyTable } from './strategies.js';
import { computeSummary, flatten } from './summary.js';

const usage = `Usage: node dist/bench/run.js [kernels|http] [--quick] [--out <dir>]

  kernels      run only the kernel suite (tinybench)
  http         run only the HTTP harness (server, autocannon, ping probe, pool starvation)
  queue        the queue strategy through Redis with 1 and 2 local workers (needs redis-server; not in the default run)
  --quick      a smoke run that finishes in under a minute
  --out <dir>  where to write the results (default: bench/results in this package)`;

const defaultOut = packagePath('bench', 'results');

function parseCli(argv: string[]): { parts: PartName[]; quick: boolean; out: string } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const unknown = positionals.filter((p) => !(partNames as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`unknown part "${unknown[0]}"; the parts are ${partNames.join(', ')}`);
  const parts = positionals.length === 0 ? [...partNames] : partNames.filter((p) => positionals.includes(p));
  return { parts, quick: values.quick, out: resolve(values.out ?? defaultOut) };
}

async function main(): Promise<number> {
  // The queue strategy needs Redis and worker processes: its own part, run on request (bench/queue.ts).
  if (process.argv[2] === 'queue') return (await import('./queue.js')).queueMain(process.argv.slice(3), defaultOut);
  const { parts, quick, out } = parseCli(process.argv.slice(2));
  const profile = profiles[quick ? 'quick' : 'full'];
  await mkdir(out, { recursive: true });
  const table = strategyTable();
  const started = performance.now();

  const plans = {
    kernels: parts.includes('kernels') ? kernelPlan(profile) : undefined,
    http: parts.includes('http') ? httpPlan(profile, table) : undefined,
  };
  // The seed over a real database runs with the HTTP part (db.json).
  const dbPlan = plans.http ? seedDbPlan(profile) : undefined;
  const steps: Step[] = [...(plans.kernels?.steps ?? []), ...(plans.http?.steps ?? []), ...(dbPlan?.steps ?? [])];
  console.log(`offloop bench (${profile.name}): ${parts.join(' + ')}, ${steps.length} steps → ${out}`);
  console.log(`strategies (from the server's table): ${table.map((s) => s.name).join(', ')}`);
  const warning = busyWarning(describeMachine());
  if (warning) console.log(warning);
  if (plans.http)
    console.log(
      'note: the HTTP load generator and ping probe run in this process on the same cores as the server; ' +
        'each load step reports the CPU both used',
    );

  let failures: Awaited<ReturnType<typeof runSteps>>;
  try {
    failures = await runSteps(steps);
  } finally {
    await Promise.all([plans.kernels?.cleanup(), plans.http?.cleanup(), dbPlan?.cleanup()]);
  }

  // Fresh figures for the parts we ran, the last figures for the others.
  const results: Parts = {};
  if (plans.kernels) {
    results.kernels = plans.kernels.result();
    await writeJson(out, 'kernels', results.kernels);
  } else results.kernels = await readPart(out, 'kernels');
  if (plans.http) {
    results.http = plans.http.result();
    await writeJson(out, 'http', results.http);
  } else results.http = await readPart(out, 'http');

  const db = dbPlan ? dbPlan.result() : await readSeedDb(out);
  if (dbPlan) await writeJson(out, 'db', db);
  const summary = { ...computeSummary(results, table), ...seedDbSummary(db) };
  await writeJson(out, 'summary', summary);
  const charts = await writeCharts(out, results);
  await writeFile(join(out, 'README.md'), renderReadme(results, summary) + renderSeedDb(db));
  const elapsed = (performance.now() - started) / 1000;
  console.log(
    `\nwrote ${['kernels.json', 'http.json']
      .filter((_, i) => (i === 0 ? results.kernels : results.http))
      .concat('summary.json', 'README.md', ...charts)
      .join(', ')} in ${out}`,
  );
  console.log(
    `finished in ${Math.floor(elapsed / 60)}:${String(Math.round(elapsed % 60)).padStart(2, '0')} (${fmt(elapsed)} s)` +
      (failures.length ? `; ${failures.length} step(s) FAILED: ${failures.map((f) => f.label).join('; ')}` : ''),
  );
  const stale = partNames.filter((p) => !parts.includes(p) && results[p]);
  console.log(`\nsummary${stale.length ? ` (${stale.join(', ')} from an earlier run)` : ''}:`);
  for (const [key, value] of flatten(summary))
    console.log(`  ${key} = ${Number.isFinite(value) ? value : 'NaN (not measured)'}`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exit(2);
  },
);
