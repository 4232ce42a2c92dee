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
 * its URL, the serving pid and the pool sizes.
 */
export async function startOffloop(args: string[]): Promise<OffloopProcess> {
  const { proc, message } = await startNodeUntilMessage(mainEntry, ['--port', '0', ...args], isListeningMessage);
  const { url, port, pid, libuvThreads, workers } = message;
  return { url: new URL(url).origin, port, pid, libuvThreads, workers, proc };
}
