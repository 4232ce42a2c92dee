import { type ChildProcess, spawn } from 'node:child_process';

/** How much of a child's output is kept for error messages: a server's access log must not fill our memory. */
const outputTail = 64 * 1024;

/** A node script started as its own process, the way a user would start it from a shell. */
export interface NodeChild {
  readonly child: ChildProcess;
  /** The last 64 KiB it printed (stdout unless discarded, and stderr), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** When a started script is ready: its output matches `printed`, or it sends a `message` that passes the test. */
type Ready<T> = { printed: RegExp } | { message: (message: unknown) => message is T };

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Send stdout to /dev/null (an access log at tens of thousands of lines a second costs a reader CPU). */
  discardStdout?: boolean;
}

/**
 * Spawns `node script ...args` (with an IPC channel when it is awaited through one) and waits
 * until it is ready. A process that exits first, or is not ready within `timeoutMs`, is an error
 * that shows its output.
 */
async function launch<T>(
  script: string,
  args: string[],
  ready: Ready<T>,
  { env = {}, timeoutMs = 30_000, discardStdout = false }: LaunchOptions,
): Promise<{ proc: NodeChild; value: T }> {
  const ipc = 'message' in ready;
  if (discardStdout && 'printed' in ready) throw new Error('a child awaited by its output needs its stdout');
  const out = discardStdout ? 'ignore' : 'pipe';
  const stdio = ipc ? (['ignore', out, 'pipe', 'ipc'] as const) : (['ignore', out, 'pipe'] as const);
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: [...stdio] });
  let output = '';
  let seen = ''; // what the ready pattern is matched against, until it matches
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const value = await new Promise<T>((resolve, reject) => {
    const what = 'printed' in ready ? `printed nothing matching ${ready.printed}` : 'sent no ready message';
    const timer = setTimeout(() => reject(new Error(`${script} ${what} in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const done = (found: T) => {
      clearTimeout(timer);
      resolve(found);
    };
    let ready_ = false;
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output = (output + text).slice(-outputTail);
      if (ready_ || !('printed' in ready)) return;
      seen += text;
      const found = ready.printed.exec(seen);
      if (found) {
        ready_ = true;
        seen = '';
        done(found as T);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr!.on('data', onData);
    if ('message' in ready) child.on('message', (message) => ready.message(message) && done(message));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready:\n${output}`));
    });
  });
  const proc: NodeChild = {
    child,
    output: () => output,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return { proc, value };
}

/** Spawns `node script ...args` and waits until its output matches `ready`; returns the match. */
export async function startNode(
  script: string,
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 30_000,
): Promise<{ proc: NodeChild; match: RegExpExecArray }> {
  const { proc, value } = await launch<RegExpExecArray>(script, args, { printed: ready }, { env, timeoutMs });
  return { proc, match: value };
}

/** Spawns `node script ...args` with an IPC channel and waits for the first message that passes `ready`. */
export async function startNodeUntilMessage<T>(
  script: string,
  args: string[],
  ready: (message: unknown) => message is T,
  options: LaunchOptions = {},
): Promise<{ proc: NodeChild; message: T }> {
  const { proc, value } = await launch(script, args, { message: ready }, options);
  return { proc, message: value };
}
