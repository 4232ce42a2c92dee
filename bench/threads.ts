import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * A process's threads and their scheduling (Linux: /proc, and util-linux's `chrt`). The harness
 * lowers its own helper threads with it; the tail part lowers the server's working threads.
 */
export type ThreadPolicy = 'idle' | 'nice19';

/** The thread ids of `pid` (empty where /proc is missing). */
export function threadIds(pid: number = process.pid): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** SCHED_IDLE through `chrt`, or nice 19; false where the thread is gone or the call is refused. */
export function setThreadPolicy(tid: number, policy: ThreadPolicy): boolean {
  try {
    if (policy === 'idle') execFileSync('chrt', ['--idle', '-p', '0', String(tid)], { stdio: 'ignore' });
    else setPriority(tid, 19);
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves every thread of this process but the main one (V8's compiler and garbage-collector
 * helpers, Node's own) to SCHED_IDLE, or to nice 19 where `chrt` is missing, and says which.
 * A snapshot: threads started later take the main thread's policy and nice.
 *
 * Why: a harness process's helpers inherit its nice value. At the probe's nice -10 they
 * outweighed the server's loop ninefold, and `perf sched` caught them holding the loop off its
 * core for up to 5 ms: the very tail being measured. SCHED_IDLE rather than nice 19 because it
 * measured better (`cpp-pool`, the second and third of three runs in three fresh servers each:
 * p99 ratio 1.05–2.06 against 1.93–7.56).
 */
export function lowerHelperThreads(): 'idle' | 'nice 19' | 'unchanged' {
  const helpers = threadIds().filter((tid) => tid !== process.pid);
  // A thread that ended in between is neither a failure nor lowered.
  const lowered = (policy: ThreadPolicy) =>
    helpers.every((tid) => setThreadPolicy(tid, policy) || !existsSync(`/proc/self/task/${tid}`));
  if (helpers.length === 0) return 'unchanged';
  if (lowered('idle')) return 'idle';
  return lowered('nice19') ? 'nice 19' : 'unchanged';
}
