import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isListeningMessage } from '../../src/server/listening.js';

export const mainEntry = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface RunningServer {
  url: string;
  port: number;
  /** The serving processes (with --processes N, not the supervisor that is `child`). */
  pids: readonly number[];
  child: ChildProcess;
  /** stdout and stderr together, as they arrived. */
  output: () => string;
  /** stdout alone: the log lines, one JSON object each (the banner and warnings go to stderr). */
  stdout: () => string;
  /** Resolves once the output matches: what a process printed may arrive after its `listening` message. */
  printed(pattern: RegExp): Promise<void>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Starts the server the way a user does — the `npm start` entry, as its own process, so that
 * a blocked event loop over there cannot hold up the test's own loop — on a free port, and
 * learns where it listens from its `listening` message (over IPC; it also makes the server shut
 * down if this process dies without stopping it).
 */
let scratch: string | undefined;
function scratchDir(): string {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'offloop-test-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    scratch = dir;
  }
  return scratch;
}

export async function startServer(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  options: { cwd?: string } = {},
): Promise<RunningServer> {
  const child = spawn(process.execPath, [mainEntry, '--port', '0', '--host', '127.0.0.1', ...args], {
    // Its default database (offloop.db in the working directory) in a scratch folder of this
    // test file's own, not in the checkout, where test files running at once would share it.
    cwd: options.cwd ?? scratchDir(),
    ...options,
    env: { ...process.env, UV_THREADPOOL_SIZE: '4', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  let stdout = '';
  // Read as it comes, always: a server whose stdout pipe fills stops writing its log.
  child.stdout!.on('data', (d: Buffer) => {
    output += d;
    stdout += d;
  });
  child.stderr!.on('data', (d: Buffer) => (output += d));
  // 'close', not 'exit': after 'exit', what the server wrote may still be unread, and tests read
  // its output once it has exited.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const listening = await new Promise<{ port: number; pids: readonly number[] }>((resolve, reject) => {
    child.on('message', (message) => {
      if (isListeningMessage(message)) resolve(message);
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${output}`)));
  });
  const { port, pids } = listening;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pids,
    child,
    output: () => output,
    stdout: () => stdout,
    printed: (pattern) => eventually(async () => pattern.test(output), 10),
    exited,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/** One request on a fresh connection (no keep-alive pooling between test requests). */
export function request(
  url: string,
  options: { method?: string; body?: string | Uint8Array; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body.toString()) as T,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The value of one sample in Prometheus text, e.g. sample(text, 'offloop_inflight_requests', { strategy: 'cpp' }). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[4]);
  }
  return undefined;
}

/**
 * Polls `check` until it returns true. With `withinMs`, throws `message` past it — for a wait
 * whose failure must say what broke (a bound far from any honest timing), not end in a suite timeout.
 */
export async function eventually(
  check: () => Promise<boolean>,
  everyMs = 50,
  // Generous: a condition that never comes true fails here, with a message, not at ava's timeout.
  bound = { withinMs: 60_000, message: `a condition was still false after 60 s: ${check.toString().slice(0, 200)}` },
): Promise<void> {
  const deadline = performance.now() + bound.withinMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(bound.message);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
