import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { tasksetAvailable } from '../bench/harness.js';
import { serverFlags } from '../bench/server.js';
import { round } from '../bench/stats.js';
import { primaryRoute, strategyTable } from '../bench/strategies.js';
import { createWorkers } from '../src/index.js';
import { packagePath } from '../src/package-root.js';
import { createStrategies } from '../src/server/strategies.js';
import { postgresBin } from './helpers/postgres.js';
import { linuxPolicy, threads } from './helpers/threads.js';

// The benchmark suite end to end: `--quick`, which writes into a scratch folder of its own and
// leaves bench/results alone. Its figures on a shared CI machine mean nothing, so only their
// presence and finiteness are checked, never values.

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
    ...strategies.map((s) => `ping_p999_ratio.${s.name}`),
    'ping_floor.p99',
    'ping_floor.p999',
    ...['primes', 'pbkdf2', 'blur'].flatMap((kernel) => ['cpp', 'rust'].map((engine) => `speedup.${kernel}.${engine}`)),
    ...['js', 'cpp', 'rust'].map((engine) => `pbkdf2_vs_openssl.${engine}`),
    ...['cpp', 'rust', 'cpp-pool', 'rust-pool', 'postmessage'].map((engine) => `dispatch_ratio.${engine}`),
    // The one-core round trips need taskset (util-linux).
    ...(tasksetAvailable()
      ? ['cpp', 'rust', 'cpp-pool', 'rust-pool', 'postmessage'].map((engine) => `dispatch_ratio_one_core.${engine}`)
      : []),
    ...['cpp', 'rust', 'workers'].map((engine) => `scaling.${engine}`),
    'routing_overhead',
    'routing.primes',
    // offloop with its access log off, beside the default level, where the server has the flag.
    ...(serverFlags().has('--log-level') ? ['routing.ping_silent', 'routing.primes_silent'] : []),
    ...['ping', 'primes', ...(serverFlags().has('--log-level') ? ['ping_silent', 'primes_silent'] : [])].map(
      (r) => `routing_cpu.${r}`,
    ),
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
    // 'close': after 'exit', what the child printed may still be unread.
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Every file under bench/results with a digest of its bytes: a quick run must change none of them. */
async function committedResults(): Promise<Record<string, string>> {
  const dir = packagePath('bench', 'results');
  const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const entries = await Promise.all(
    files.map(async (f) => {
      const file = join(f.parentPath, f.name);
      return [
        relative(dir, file),
        createHash('sha256')
          .update(await readFile(file))
          .digest('hex'),
      ] as const;
    }),
  );
  return Object.fromEntries(entries.sort());
}

let out: string | undefined;
test.after.always(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

test('bench --quick runs both parts into a scratch folder and writes every summary ratio, finite', async (t) => {
  t.timeout(600_000); // a guard against a hang on a loaded machine, not a speed check
  const before = await committedResults();
  const { code, output } = await runBench(['--quick']);
  // The first line names the folder it writes to: a fresh one in the OS's temporary directory.
  const folder = /^offloop bench \(quick\): .* → (.+)$/m.exec(output)?.[1];
  if (folder?.startsWith(tmpdir())) out = folder;
  t.is(code, 0, output);
  t.truthy(out, `not a temporary folder: ${folder}`);
  if (!out) return;
  t.deepEqual(await committedResults(), before, 'bench --quick changed bench/results');

  const summary: unknown = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  const keys = expectedKeys();
  for (const key of keys) {
    const value = lookup(summary, key);
    t.true(typeof value === 'number' && Number.isFinite(value), `${key} = ${String(value)}`);
  }

  // Progress while it runs, then the flattened ratios, then their change since the committed run.
  t.regex(output, /^\[\s*1\/\d+\] \d+:\d\d {2}kernels · /m);
  const lines = output.split('\n');
  const first = lines.findIndex((line) => /^summary/.test(line)) + 1;
  const last = lines.findIndex((line, i) => i >= first && line.trim() === '');
  const printed = lines.slice(first, last < 0 ? undefined : last).map((line) => line.trim().split(' = ')[0]);
  t.deepEqual(printed.sort(), [...keys].sort());
  t.regex(output, /^change since bench\/results\/summary\.json/m);

  // A strategy off the loop gets more runs of its primary route than one on it, and its pooled
  // ratio's bootstrap interval is summary.json's spread (bench/http.ts, bench/summary.ts).
  const http = JSON.parse(await readFile(join(out, 'http.json'), 'utf8')) as {
    settings: { repeats: number; offLoopRepeats: number };
    harness: { helpers?: string };
    heavy: Array<{
      route: string;
      strategy: string;
      runs: Array<{ helpers?: { probe: string; load: string } }>;
      pooled?: { p99Interval?: number[] };
    }>;
    floor?: {
      runs: Array<{ load: { reqPerSec: number; ok: number }; helpers?: { probe: string; load: string } }>;
      pooled?: { p99Interval?: number[]; p999Interval?: number[] };
    };
  };
  const spread = (summary as { spread: Record<string, number[]> }).spread;
  {
    const { repeats, offLoopRepeats } = http.settings;
    t.true(offLoopRepeats > repeats, `${offLoopRepeats} > ${repeats}: the branch is exercised`);
    for (const s of strategyTable()) {
      const row = http.heavy.find((r) => r.strategy === s.name && r.route === primaryRoute(s));
      if (!row) continue;
      t.is(row.runs.length, s.blocksLoop ? repeats : offLoopRepeats, s.name);
      const interval = row.pooled?.p99Interval;
      t.true(Array.isArray(interval) && interval[0]! <= interval[1]!, `${s.name}: ${JSON.stringify(interval)}`);
      t.deepEqual(
        spread[`ping_p99_ratio.${s.name}`],
        interval?.map((v) => round(v)),
        s.name,
      );
    }
  }

  // The floor: as many runs as a strategy off the loop, no request sent, its pooled ratios'
  // bootstrap intervals summary.json's spread.
  {
    const floor = http.floor;
    t.is(floor?.runs.length, http.settings.offLoopRepeats);
    for (const run of floor?.runs ?? []) t.deepEqual([run.load.reqPerSec, run.load.ok], [0, 0]);
    for (const interval of [floor?.pooled?.p99Interval, floor?.pooled?.p999Interval])
      t.true(Array.isArray(interval) && interval[0]! <= interval[1]!, `the floor: ${JSON.stringify(interval)}`);
    t.deepEqual(
      spread['ping_floor.p99'],
      floor?.pooled?.p99Interval?.map((v) => round(v)),
    );
    t.deepEqual(
      spread['ping_floor.p999'],
      floor?.pooled?.p999Interval?.map((v) => round(v)),
    );
  }

  // The harness lowered its processes' helper threads (bench/threads.ts), and says so in every run;
  // the floor's spinners are among them.
  if (process.platform === 'linux') {
    const lowered = ['idle', 'nice 19'];
    t.true(lowered.includes(http.harness.helpers ?? ''), `the bench's own: ${http.harness.helpers}`);
    for (const run of [...http.heavy.flatMap((row) => row.runs), ...(http.floor?.runs ?? [])])
      t.true(
        lowered.includes(run.helpers?.probe ?? '') && lowered.includes(run.helpers?.load ?? ''),
        JSON.stringify(run.helpers),
      );
  }

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

// The harness's processes keep their helper threads (V8's, Node's) out of the server's way
// (bench/threads.ts): every thread but the main one goes to SCHED_IDLE, or nice 19 without
// `chrt`; the main thread, which measures, keeps its own. Read back from the kernel.
test('a harness process lowers every thread but its main one, which keeps its policy and nice', async (t) => {
  if (process.platform !== 'linux') return t.pass('thread policies are read from Linux /proc');
  const threadsModule = new URL('../bench/threads.js', import.meta.url).href;
  const script =
    `const { lowerHelperThreads } = await import(${JSON.stringify(threadsModule)});` +
    'console.log(lowerHelperThreads()); process.stdin.resume();';
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const applied = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it answered`)));
    });
    const found = threads(child.pid!);
    const main = found.find((thread) => thread.tid === child.pid);
    const helpers = found.filter((thread) => thread.tid !== child.pid);
    t.true(helpers.length > 0, 'node starts helper threads');
    const own = threads().find((thread) => thread.tid === process.pid)!;
    t.like(main, { policy: own.policy, nice: getPriority() }, "the main thread keeps the runner's own");
    t.not(applied, 'unchanged');
    for (const thread of helpers)
      if (applied === 'idle') t.is(thread.policy, linuxPolicy.idle, `thread ${thread.tid} under SCHED_IDLE`);
      else t.like(thread, { policy: own.policy, nice: 19 }, `thread ${thread.tid} at nice 19`);
  } finally {
    child.kill();
  }
});

// The floor's background (bench/harness-child.ts, job 'spin'): its threads burn CPU only once
// lowered with the process's other helpers, so while they spin each is runnable (never asleep,
// whether on a core or waiting for one) under SCHED_IDLE, or at nice 19 where `chrt` is refused
// (what the child reports). Read back from the kernel.
test('the floor spins its CPU-bound threads under SCHED_IDLE', async (t) => {
  if (process.platform !== 'linux') return t.pass('thread ids and policies are read from Linux /proc');
  const entry = fileURLToPath(new URL('../bench/harness-child.js', import.meta.url));
  const child = spawn(process.execPath, [entry], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const next = () =>
    new Promise<{ type: string; tids?: number[]; helpers?: string; figures?: { ok: number } }>((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it answered`)));
    });
  try {
    child.send({ kind: 'spin', count: 2 });
    const ready = await next();
    t.is(ready.type, 'ready');
    t.is(ready.tids?.length, 2, 'one thread id per spinner');
    const spinners = threads(child.pid!).filter((thread) => ready.tids?.includes(thread.tid));
    t.is(spinners.length, 2, 'the spinners are threads of the child');
    for (const thread of spinners) t.is(thread.state, 'R', `spinner ${thread.tid} runnable, not asleep`);
    child.send({ type: 'stop' });
    const done = await next();
    t.like(done, { type: 'done', figures: { ok: 0 } });
    for (const thread of spinners)
      if (done.helpers === 'idle') t.is(thread.policy, linuxPolicy.idle, `spinner ${thread.tid} under SCHED_IDLE`);
      else t.like(thread, { nice: 19 }, `spinner ${thread.tid} at nice 19 (${done.helpers})`);
  } finally {
    child.kill();
  }
});
