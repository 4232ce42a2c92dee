/**
 * One side of the HTTP harness in a process of its own (forked by harness.ts): the ping probe, the
 * load generator, or the floor's spinners. Each runs at the priority and on the cores harness.ts
 * gives it, which the harness's own process could not give each of them separately.
 *
 *   → { kind: 'probe', url, intervalMs }      ← { type: 'ready' } … → { type: 'stop' }   ← { type: 'done', … }
 *   → { kind: 'load', options }               ← { type: 'done', … }
 *   → { kind: 'spin', count }                 ← { type: 'ready', tids } … → { type: 'stop' }   ← { type: 'done', … }
 */
import { readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { drive, type LoadOptions } from './load.js';
import { startProbe } from './probe.js';
import { lowerHelperThreads } from './threads.js';

export type HarnessJob =
  | { kind: 'probe'; url: string; intervalMs: number }
  | { kind: 'load'; options: LoadOptions }
  | { kind: 'spin'; count: number };
export type HarnessReply =
  /** `tids`: the spinners' thread ids, once they spin (Linux). */
  | { type: 'ready'; tids?: number[] }
  | { type: 'done'; figures: unknown; cpuS: number; nice: number; policy: string; helpers: string }
  | { type: 'error'; message: string };

const send = (reply: HarnessReply) => process.send!(reply);

/** This process's scheduling policy as the kernel reports it (/proc/self/stat field 41), or 'unknown'. */
function schedulingPolicy(): string {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const policy = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
    return ['normal', 'fifo', 'rr', 'batch', 'iso', 'idle'][policy] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
// Only the main thread measures or sends; the others must not compete with the server (threads.ts).
let helpers = lowerHelperThreads();
const done = (figures: unknown, started: number): HarnessReply => ({
  type: 'done',
  figures,
  cpuS: cpuSeconds() - started,
  nice: getPriority(),
  policy: schedulingPolicy(),
  helpers,
});

/**
 * `count` worker threads that only burn CPU (spin-worker.ts), lowered with the other helpers
 * (SCHED_IDLE where `chrt` can) before they start: CPU work that yields to anything else at
 * once, with no request and no offloop code in it, the floor's background (http.ts). Resolves
 * once they spin, with their thread ids (Linux) and a stop() that ends them. Its figures count
 * no request; the process's CPU, which the parent reports as the harness's, is theirs.
 */
async function spin(count: number) {
  const state = new Int32Array(new SharedArrayBuffer(4));
  const spinners = Array.from(
    { length: count },
    () => new Worker(new URL('./spin-worker.js', import.meta.url), { workerData: state.buffer }),
  );
  // Watched from the start: a spinner that dies early must not leave stop() waiting for it.
  const exited = spinners.map((w) => new Promise((resolve) => w.once('exit', resolve)));
  const tids = await Promise.all(
    spinners.map(
      (w) =>
        new Promise<number | undefined>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  helpers = lowerHelperThreads();
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
  const noRequests = { reqPerSec: 0, ok: 0, non2xx: 0, errors: 0, latency: { p50: NaN, p99: NaN, max: NaN } };
  return {
    tids: tids.filter((tid): tid is number => tid !== undefined),
    async stop() {
      Atomics.store(state, 0, 2);
      await Promise.all(exited);
      return noRequests;
    },
  };
}

async function run(job: HarnessJob): Promise<void> {
  // The CPU of the job itself: node's start-up and imports are not part of the measurement window.
  const started = cpuSeconds();
  if (job.kind === 'load') {
    send(done(await drive(job.options), started));
    return;
  }
  // The probe and the spinners run until told to stop.
  const side =
    job.kind === 'probe'
      ? { tids: undefined, stop: (await startProbe(job.url, job.intervalMs)).stop }
      : await spin(job.count);
  process.on('message', (message: { type?: string }) => {
    if (message.type !== 'stop') return;
    side.stop().then(
      (figures) => send(done(figures, started)),
      (error: unknown) => send({ type: 'error', message: String(error) }),
    );
  });
  send({ type: 'ready', ...(side.tids ? { tids: side.tids } : {}) });
}

process.once('message', (job: HarnessJob) => {
  run(job).catch((error: unknown) =>
    send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
