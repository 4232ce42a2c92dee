#!/usr/bin/env node
/**
 * offloop's benchmark suite, from the command line:
 *
 *   npm run bench                 everything (kernels, then HTTP)
 *   npm run bench:kernels         the kernel suite only
 *   npm run bench:http            the HTTP harness only
 *   npm run bench -- tail         what keeps the loop's tail up, configuration by configuration (bench/tail.ts)
 *   npm run bench -- queue        the queue strategy through Redis (bench/queue.ts)
 *   … -- --quick                  a smoke run (about 3 minutes; figures are not comparable), into a scratch folder
 *   … -- --out <dir>              where results go (default: bench/results; for --quick, a temporary folder)
 *   … -- --harness <placement>    where the probe and the load generator run (bench/harness.ts; default priority)
 *
 * Writes <out>/kernels.json and http.json (raw figures), summary.json (the named ratios),
 * README.md (tables) and the SVG charts, printing progress as it goes, the ratios, and last
 * their change since the committed run (bench/compare.ts). A part that was not run this time
 * keeps its last figures, so the report always covers both.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCharts } from './charts.js';
import { outputFolder, parseCli, usage } from './cli.js';
import { compareSummaries, previousSummary, renderChanges, tolerance } from './compare.js';
import { httpPlan } from './http.js';
import { kernelPlan } from './kernels.js';
import { busyWarning, describeMachine } from './machine.js';
import { profiles } from './profile.js';
import { runSteps, type Step } from './progress.js';
import { renderReadme } from './report.js';
import { type Parts, partNames, readPart, writeJson } from './results.js';
import { readSeedDb, renderSeedDb, seedDbPlan, seedDbSummary } from './seed-db.js';
import { fmt } from './stats.js';
import { strategyTable } from './strategies.js';
import { computeSummary, flatten } from './summary.js';

async function main(): Promise<number> {
  // Parts run only on request, wherever the word stands (`-- --quick tail` as well as `-- tail --quick`):
  // the queue strategy needs Redis and worker processes (bench/queue.ts); what keeps the loop's tail
  // up tries configuration after configuration (bench/tail.ts).
  const argv = process.argv.slice(2);
  const rest = (part: string) => argv.filter((a) => a !== part);
  if (argv.includes('queue')) return (await import('./queue.js')).queueMain(rest('queue'));
  if (argv.includes('tail')) return (await import('./tail.js')).tailMain(rest('tail'));
  const cli = parseCli(process.argv.slice(2));
  const { parts, quick, placement } = cli;
  const out = await outputFolder(cli);
  const profile = profiles[quick ? 'quick' : 'full'];
  await mkdir(out, { recursive: true });
  const previous = await previousSummary();
  const table = strategyTable();
  const started = performance.now();

  const plans = {
    kernels: parts.includes('kernels') ? kernelPlan(profile) : undefined,
    http: parts.includes('http') ? httpPlan(profile, table, placement) : undefined,
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
      `note: the HTTP load generator and ping probe share the cores with the server (--harness ${placement.name}: ` +
        `${placement.text}); each load step reports the CPU both used`,
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
  for (const [key, value] of flatten(summary)) {
    const spread = summary.spread?.[key];
    const range = spread ? ` (${spread[0]}–${spread[1]})` : '';
    console.log(`  ${key} = ${Number.isFinite(value) ? value : 'NaN (not measured)'}${range}`);
  }
  if (previous) {
    const caveat = quick ? '; a quick run is not comparable with a full one' : '';
    console.log(
      `\nchange since ${previous.source} (! = beyond the spread: ranges apart, or more than ` +
        `${tolerance * 100}% for a figure measured once${caveat}):`,
    );
    for (const line of renderChanges(compareSummaries(previous.summary, summary))) console.log(`  ${line}`);
  }
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exit(2);
  },
);
