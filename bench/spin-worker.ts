/**
 * One of the floor's spinners (harness-child.ts): it posts its thread id (Linux), waits until the
 * process has lowered it, then only burns CPU until told to stop. `workerData` is the shared
 * state: 0 wait, 1 spin, 2 stop.
 */
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

let tid: number | undefined;
try {
  tid = Number(readlinkSync('/proc/thread-self').split('/').pop()); // "PID/task/TID"
} catch {
  // not Linux: no thread id to report
}
const state = new Int32Array(workerData as SharedArrayBuffer);
parentPort!.postMessage(tid);
Atomics.wait(state, 0, 0);
while (Atomics.load(state, 0) === 1);
