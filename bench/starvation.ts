import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StarvationRow } from './results.js';
import type { StarveSettings } from './starve-child.js';

const childEntry = fileURLToPath(new URL('./starve-child.js', import.meta.url));

/**
 * The strategies whose jobs run on a native pool shared with, or beside, Node's own async I/O:
 * everything off the loop except the worker_threads pool (TypeScript, not native). Read from
 * the strategy table, so a pool strategy added there (cpp-pool, …) is measured with no change
 * here — and should show a ratio near 1, since its jobs leave libuv's pool to fs.
 */
export function starvationStrategies(table: Iterable<{ name: string; blocksLoop: boolean; pool: string }>): string[] {
  return [...table].filter((s) => !s.blocksLoop && s.pool !== 'workers').map((s) => s.name);
}

/** Runs one measurement in a fresh process with libuv's pool at `libuvThreads`. */
export function measureStarvation(settings: StarveSettings, libuvThreads: number): Promise<StarvationRow> {
  return new Promise((resolve, reject) => {
    const child = fork(childEntry, [JSON.stringify(settings)], {
      env: { ...process.env, UV_THREADPOOL_SIZE: String(libuvThreads) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d));
    child.stderr!.on('data', (d: Buffer) => (output += d));
    let row: StarvationRow | undefined;
    child.on('message', (message) => (row = message as StarvationRow));
    child.on('error', reject);
    child.on('exit', (code) =>
      row && code === 0
        ? resolve(row)
        : reject(new Error(`starvation child for ${settings.strategy} exited ${code}:\n${output}`)),
    );
  });
}
