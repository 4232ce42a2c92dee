import { fileURLToPath } from 'node:url';
import { type NodeChild, startNode } from './child.js';

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
 * Starts `node dist/src/main.js --port 0 …` and reads what it prints: the URL, the serving pid
 * and the pool sizes. The whole banner is one write, so waiting for its last line is enough.
 */
export async function startOffloop(args: string[]): Promise<OffloopProcess> {
  const banner = /offloop listening on (http:\/\/\S+)[\s\S]*?processes\s+\d+ \(pid (\d+)[^)]*\)[\s\S]*?libuv pool\s+(\d+) threads[\s\S]*?worker pool\s+(\d+) threads[\s\S]*?strategies/;
  const { proc, match } = await startNode(mainEntry, ['--port', '0', ...args], banner);
  const url = new URL(match[1]!);
  return { url: url.origin, port: Number(url.port), pid: Number(match[2]), libuvThreads: Number(match[3]), workers: Number(match[4]), proc };
}
