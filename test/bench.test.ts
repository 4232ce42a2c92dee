import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { createWorkers } from '../src/index.js';
import { createStrategies } from '../src/server/strategies.js';
import { postgresBin } from './helpers/postgres.js';

// The benchmark suite end to end: `--quick` into a temporary --out folder. Its figures on a
// shared CI machine mean nothing, so only their presence and finiteness are checked, never values.

const runEntry = fileURLToPath(new URL('../bench/run.js', import.meta.url));

/**
 * The keys summary.json must hold, worked out here from the spec and the server's strategy table
 * (not from bench/summary.ts), so a ratio the bench stops writing, or a strategy it skips, fails.
 */
function expectedKeys(): string[] {
  const strategies = [...createStrategies(createWorkers({ threads: 1 })).values()];
  const native = strategies.filter((s) => !s.blocksLoop && s.pool !== 'workers').map((s) => s.name);
  return [
    ...strategies.map((s) => `ping_p99_ratio.${s.name}`),
    ...['primes', 'pbkdf2', 'blur'].flatMap((kernel) => ['cpp', 'rust'].map((engine) => `speedup.${kernel}.${engine}`)),
    ...['js', 'cpp', 'rust'].map((engine) => `pbkdf2_vs_openssl.${engine}`),
    ...['cpp', 'rust', 'cpp-pool', 'rust-pool', 'postmessage'].map((engine) => `dispatch_ratio.${engine}`),
    ...['cpp', 'rust', 'workers'].map((engine) => `scaling.${engine}`),
    'routing_overhead',
    ...new Set(['cpp', 'rust', ...native].map((name) => `starvation_ratio.${name}`)),
    // The seed over a real database: PostgreSQL's figures only where it is installed.
    ...(postgresBin() ? ['sqlite', 'postgres'] : ['sqlite']).flatMap((db) =>
      ['terrible-ping', 'good-ping', 'perfect-ping'].map((r) => `seed.${db}.${r}`),
    ),
    'query.blocking',
    'query.worker',
    ...(postgresBin() ? ['query.async'] : []),
  ];
}

function lookup(value: unknown, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce<unknown>(
      (node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
      value,
    );
}

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [runEntry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

let out: string;
test.before(async () => {
  out = await mkdtemp(join(tmpdir(), 'offloop-bench-'));
});
test.after.always(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

test('bench --quick runs both parts and writes every summary ratio, finite', async (t) => {
  t.timeout(300_000); // a guard against a hang on a loaded machine, not a speed check
  const { code, output } = await runBench(['--quick', '--out', out]);
  t.is(code, 0, output);

  const summary: unknown = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  const keys = expectedKeys();
  for (const key of keys) {
    const value = lookup(summary, key);
    t.true(typeof value === 'number' && Number.isFinite(value), `${key} = ${String(value)}`);
  }

  // Progress while it runs, the flattened ratios last.
  t.regex(output, /^\[\s*1\/\d+\] \d+:\d\d {2}kernels · /m);
  const tail = output
    .trimEnd()
    .split('\n')
    .slice(-keys.length)
    .map((line) => line.trim().split(' = ')[0]);
  t.deepEqual(tail.sort(), [...keys].sort());

  // Raw figures with the machine, the generated tables, and charts rendered by vega.
  for (const part of ['kernels', 'http']) {
    const raw = JSON.parse(await readFile(join(out, `${part}.json`), 'utf8')) as {
      part: string;
      machine: Record<string, unknown>;
    };
    t.is(raw.part, part);
    for (const field of ['cpuModel', 'cores', 'node', 'libuvPoolSize', 'date'])
      t.not(raw.machine[field], undefined, `${part}.json machine.${field}`);
  }
  const readme = await readFile(join(out, 'README.md'), 'utf8');
  t.regex(readme, /\| ratio \| value \|/);
  const svgs = (await readdir(out)).filter((f) => f.endsWith('.svg')).sort();
  t.deepEqual(svgs, ['dispatch.svg', 'ping-latency.svg', 'scaling.svg', 'speedups.svg', 'starvation.svg']);
  for (const svg of svgs) t.regex(await readFile(join(out, svg), 'utf8'), /^<svg [^>]*class="marks"/, svg);
});
