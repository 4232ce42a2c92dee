import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isListeningMessage } from '../src/server/listening.js';
import { type NodeChild, startNodeUntilMessage } from './child.js';

/** offloop's `npm start` entry, compiled: the benchmark runs the server exactly as users do. */
export const mainEntry = fileURLToPath(new URL('../src/main.js', import.meta.url));

export interface OffloopProcess {
  readonly url: string;
  readonly port: number;
  /** The process that serves (not a supervisor, if main.js started one): its CPU is the server's. */
  readonly pid: number;
  readonly libuvThreads: number;
  readonly workers: number;
  readonly proc: NodeChild;
}

/**
 * Starts `node dist/src/main.js --port 0 …` and learns from its `listening` message (over IPC)
 * its URL, the serving pid and the pool sizes. Its stdout (the access log, one line per request)
 * goes to /dev/null: a pipe we read would cost this machine's CPU in the middle of a measurement.
 */
export async function startOffloop(args: string[]): Promise<OffloopProcess> {
  const { proc, message } = await startNodeUntilMessage(mainEntry, ['--port', '0', ...args], isListeningMessage, {
    discardStdout: true,
  });
  const { url, port, pid, libuvThreads, workers } = message;
  return { url: new URL(url).origin, port, pid, libuvThreads, workers, proc };
}

let accepted: Set<string> | undefined;
/** The flags this build of the server accepts, read from its --help (other changes land while the bench evolves). */
export function serverFlags(): Set<string> {
  if (!accepted) {
    let help = '';
    try {
      help = execFileSync(process.execPath, [mainEntry, '--help'], { encoding: 'utf8', timeout: 30_000 });
    } catch (error) {
      help = String((error as { stdout?: unknown }).stdout ?? '');
    }
    accepted = new Set(help.match(/--[a-z][a-z-]+/g) ?? []);
  }
  return accepted;
}

/** Load shedding's limits (0 = off), where the server has them: the bench measures strategies at saturation. */
const sheddingLimits = ['--max-loop-delay', '--max-loop-utilization', '--max-heap', '--max-rss'];

/** The server's arguments for a measurement: shedding off (when the server sheds), the log level if it has one. */
export function benchServerArgs(base: readonly string[], logLevel?: string): string[] {
  const flags = serverFlags();
  const off = sheddingLimits.filter((f) => flags.has(f)).flatMap((f) => [f, '0']);
  const log = logLevel !== undefined && flags.has('--log-level') ? ['--log-level', logLevel] : [];
  return [...base, ...off, ...log];
}
