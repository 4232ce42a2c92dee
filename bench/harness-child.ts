/**
 * One side of the HTTP harness in a process of its own (forked by harness.ts): the ping probe or
 * the load generator. Each runs at the priority and on the cores harness.ts gives it, which the
 * harness's own process could not give each of them separately.
 *
 *   → { kind: 'probe', url, intervalMs }   ← { type: 'ready' } … → { type: 'stop' }   ← { type: 'done', … }
 *   → { kind: 'load', options }            ← { type: 'done', … }
 */
import { readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { drive, type LoadOptions } from './load.js';
import { startProbe } from './probe.js';
import { lowerHelperThreads } from './threads.js';

export type HarnessJob = { kind: 'probe'; url: string; intervalMs: number } | { kind: 'load'; options: LoadOptions };
export type HarnessReply =
  | { type: 'ready' }
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
const helpers = lowerHelperThreads();
const done = (figures: unknown, started: number): HarnessReply => ({
  type: 'done',
  figures,
  cpuS: cpuSeconds() - started,
  nice: getPriority(),
  policy: schedulingPolicy(),
  helpers,
});

async function run(job: HarnessJob): Promise<void> {
  // The CPU of the job itself: node's start-up and imports are not part of the measurement window.
  const started = cpuSeconds();
  if (job.kind === 'load') {
    const figures = await drive(job.options);
    send(done(figures, started));
    return;
  }
  const probe = await startProbe(job.url, job.intervalMs);
  process.on('message', (message: { type?: string }) => {
    if (message.type !== 'stop') return;
    probe.stop().then(
      (figures) => send(done(figures, started)),
      (error: unknown) => send({ type: 'error', message: String(error) }),
    );
  });
  send({ type: 'ready' });
}

process.once('message', (job: HarnessJob) => {
  run(job).catch((error: unknown) =>
    send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
