import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { HarnessJob, HarnessReply } from './harness-child.js';
import type { LoadOptions } from './load.js';
import type { LoadFigures, ProbeFigures } from './results.js';
import { lowerHelperThreads } from './threads.js';

/**
 * Where the harness's two sides run, so that their CPU stays out of the server's way as far as
 * the cores allow. The probe and the load generator each run in a process of their own
 * (bench/harness-child.ts), started through `nice` and `taskset`; this process only waits.
 * A saturated heavy route needs few requests (tens a second), so the generator's CPU is small
 * either way; what matters is that neither side is scheduled ahead of the server's loop when
 * the cores are full, and that the probe itself wakes on time. Every harness process, this one
 * included, also moves its threads other than the main one (V8's compiler and garbage-collector
 * helpers) to SCHED_IDLE (bench/threads.ts): they inherit the process's nice value, and at the
 * probe's -10 they held the server's loop off its core for milliseconds.
 */
export interface Seat {
  /** nice value; a negative one needs root (or CAP_SYS_NICE) and falls back to 0, as reported. */
  readonly nice: number;
  /** Pinned to the machine's last core (with 2 or more cores and `taskset`), or wherever the OS puts it. */
  readonly lastCore: boolean;
}

export interface Placement {
  readonly name: string;
  readonly probe: Seat;
  readonly load: Seat;
  readonly text: string;
}

export const placements: Readonly<Record<string, Placement>> = {
  priority: {
    name: 'priority',
    probe: { nice: -10, lastCore: false },
    load: { nice: 19, lastCore: false },
    text:
      'the probe at nice -10 (it wakes on time, so its own scheduling is not in the figure) and the load ' +
      'generator at nice 19 (it takes a core only when the server leaves one), each in its own process, ' +
      'their other threads (V8 helpers) under SCHED_IDLE',
  },
  pinned: {
    name: 'pinned',
    probe: { nice: 0, lastCore: true },
    load: { nice: 0, lastCore: true },
    text: 'the probe and the load generator, each in its own process at nice 0, both pinned to the last core',
  },
  shared: {
    name: 'shared',
    probe: { nice: 0, lastCore: false },
    load: { nice: 0, lastCore: false },
    text: 'the probe and the load generator, each in its own process at nice 0, on any core',
  },
};

export const defaultPlacement = placements.priority!;

const childEntry = fileURLToPath(new URL('./harness-child.js', import.meta.url));

let hasTaskset: boolean | undefined;
export function tasksetAvailable(): boolean {
  if (hasTaskset === undefined) {
    try {
      execFileSync('taskset', ['-V'], { stdio: 'ignore' });
      hasTaskset = true;
    } catch {
      hasTaskset = false;
    }
  }
  return hasTaskset;
}

/**
 * The cores this process may run on, lowest first: its affinity list on Linux (a container's
 * cpuset need not start at 0), else 0 … cores − 1.
 */
export function allowedCores(): number[] {
  try {
    const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (list) {
      return list.split(',').flatMap((range) => {
        const [from, to = from] = range.split('-').map(Number) as [number, number?];
        return Array.from({ length: to - from + 1 }, (_, i) => from + i);
      });
    }
  } catch {
    // not Linux: fall through
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

/** The core a pinned seat gets, or undefined when pinning is not possible here. */
export function lastCore(): number | undefined {
  const cores = allowedCores();
  return cores.length >= 2 && tasksetAvailable() ? cores.at(-1) : undefined;
}

/** The core that work pinned to one core gets, or undefined without `taskset`. */
export function firstCore(): number | undefined {
  return tasksetAvailable() ? allowedCores()[0] : undefined;
}

/**
 * `nice -n N [taskset -c C] node --single-threaded-gc script`: the command prefixes exec in place,
 * so the pid is node's. The collector works on the main thread alone, which then never waits for
 * a helper that SCHED_IDLE keeps off the cores (lowerHelperThreads).
 */
function command(seat: Seat, script: string): [string, string[]] {
  const core = seat.lastCore ? lastCore() : undefined;
  const pin = core === undefined ? [] : ['taskset', '-c', String(core)];
  return ['nice', ['-n', String(seat.nice), ...pin, process.execPath, '--single-threaded-gc', script]];
}

/**
 * What a harness side did: its figures, its CPU seconds, the nice value and policy its main thread
 * really ran at, and what its other threads were lowered to (threads.ts).
 */
export interface SideResult<T> {
  figures: T;
  cpuS: number;
  nice: number;
  policy: string;
  helpers: string;
}

let ownHelpers: ReturnType<typeof lowerHelperThreads> | undefined;
/** What this process's helper threads were lowered to (threads.ts) when the first side started. */
export function harnessHelpers(): string {
  return ownHelpers ?? 'no harness side started';
}

function startSide(seat: Seat, job: HarnessJob) {
  ownHelpers ??= lowerHelperThreads();
  const [file, args] = command(seat, childEntry);
  const child: ChildProcess = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8192)));
  const replies: HarnessReply[] = [];
  let waiting: ((reply: HarnessReply) => void) | undefined;
  const deliver = (reply: HarnessReply) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(reply);
    } else replies.push(reply);
  };
  child.on('message', (m: HarnessReply) => deliver(m));
  child.on('exit', (code) => deliver({ type: 'error', message: `harness child exited (${code}): ${stderr}` }));
  child.on('error', (e) => deliver({ type: 'error', message: String(e) }));
  const next = () => {
    const queued = replies.shift();
    return queued ? Promise.resolve(queued) : new Promise<HarnessReply>((resolve) => (waiting = resolve));
  };
  child.send(job);
  return { child, next };
}

/** The child's figures, CPU and the nice value it read of itself (its main thread: where it measures). */
function expect<T>(reply: HarnessReply): SideResult<T> {
  if (reply.type === 'error') throw new Error(reply.message);
  if (reply.type !== 'done') throw new Error(`harness child: unexpected ${reply.type}`);
  return {
    figures: reply.figures as T,
    cpuS: reply.cpuS,
    nice: reply.nice,
    policy: reply.policy,
    helpers: reply.helpers,
  };
}

/** A harness side that runs until stopped: the probe, or the floor's spinners. */
export interface RunningSide<T> {
  stop(): Promise<SideResult<T>>;
}
export type RunningProbe = RunningSide<ProbeFigures & { samples: number[] }>;

/** Starts a side that answers 'ready' once it runs, and 'done' with its figures when stopped. */
async function startUntilStopped<T>(seat: Seat, job: HarnessJob): Promise<RunningSide<T>> {
  const side = startSide(seat, job);
  const first = await side.next();
  if (first.type !== 'ready') {
    side.child.kill();
    throw new Error(first.type === 'error' ? first.message : `harness child: unexpected ${first.type}`);
  }
  return {
    async stop() {
      side.child.send({ type: 'stop' });
      return finished<T>(side);
    },
  };
}

/** The side's last reply, its figures; the channel closed whatever it said, so the child exits. */
async function finished<T>(side: ReturnType<typeof startSide>): Promise<SideResult<T>> {
  try {
    return expect<T>(await side.next());
  } finally {
    if (side.child.connected) side.child.disconnect();
  }
}

/** The ping probe (bench/probe.ts) in its own process, sending from when this resolves until stop(). */
export function startPingProbe(placement: Placement, url: string, intervalMs: number): Promise<RunningProbe> {
  return startUntilStopped(placement.probe, { kind: 'probe', url, intervalMs });
}

/**
 * The floor's spinners' seat, whatever the placement: never pinned, since they must keep every
 * core busy; nice 19 for the process's main thread, which only waits (the spinners themselves
 * are lowered further, harness-child.ts).
 */
const spinnerSeat: Seat = { nice: 19, lastCore: false };

/** `count` CPU-bound threads under SCHED_IDLE, from when this resolves until stop(): the floor's load (http.ts). */
export function startSpinners(count: number): Promise<RunningSide<LoadFigures>> {
  return startUntilStopped(spinnerSeat, { kind: 'spin', count });
}

/** autocannon (bench/load.ts) in its own process, for the load's duration. */
export function runLoad(placement: Placement, options: LoadOptions): Promise<SideResult<LoadFigures>> {
  return finished(startSide(placement.load, { kind: 'load', options }));
}
