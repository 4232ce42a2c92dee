import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time spent during a measurement, by the harness (this process: load generator, probe,
 * tinybench) and by a child (the server). On a 2-core machine the two compete for the same
 * cores, so every HTTP figure comes with both, to show who was using the CPU.
 */
export interface CpuUse {
  wallS: number;
  harnessS: number;
  /** NaN when the child's /proc entry cannot be read (not Linux, or it exited). */
  childS: number;
}

let ticksPerSecond: number | undefined;
/** USER_HZ, which /proc/<pid>/stat counts in (100 on nearly every Linux). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of every thread of `pid`, in seconds. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return NaN;
  }
}

const harnessSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** Starts measuring; the returned function stops and gives the CPU used in between. */
export function cpuMeter(childPid?: number): () => CpuUse {
  const wall = performance.now();
  const harness = harnessSeconds();
  const child = childPid === undefined ? NaN : processCpuSeconds(childPid);
  return () => ({
    wallS: (performance.now() - wall) / 1000,
    harnessS: harnessSeconds() - harness,
    childS: childPid === undefined ? NaN : processCpuSeconds(childPid) - child,
  });
}

/**
 * How long the server's event-loop thread (the process's main thread) waited for a CPU while it
 * was runnable, from the scheduler's own accounting (/proc/<pid>/task/<pid>/schedstat: time on
 * a CPU, time waiting on a run queue, times run). This is the mechanism behind a loaded ping
 * tail, seen without the probe: the loop woke, and another thread held the core.
 */
export interface LoopWait {
  /** ms spent waiting for a CPU per second of wall time. */
  msPerS: number;
  /** Mean wait each time the thread was put on a CPU, in µs. */
  usPerRun: number;
}

function schedstat(pid: number): [number, number, number] | undefined {
  try {
    const [run, wait, slices] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8')
      .trim()
      .split(' ')
      .map(Number);
    return [run!, wait!, slices!];
  } catch {
    return undefined;
  }
}

/** Starts measuring the loop thread's run-queue wait; NaN where /proc has no schedstat. */
export function loopWaitMeter(pid: number): () => LoopWait {
  const wall = performance.now();
  const before = schedstat(pid);
  return () => {
    const after = schedstat(pid);
    if (!before || !after) return { msPerS: NaN, usPerRun: NaN };
    const waitNs = after[1] - before[1];
    const runs = after[2] - before[2];
    return {
      msPerS: waitNs / 1e6 / ((performance.now() - wall) / 1000),
      usPerRun: runs > 0 ? waitNs / 1e3 / runs : NaN,
    };
  };
}
