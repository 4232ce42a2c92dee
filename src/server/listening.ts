/**
 * What `offloop` (src/main.ts) tells the process that started it, over the IPC channel when it
 * has one (spawn with stdio 'ipc', or fork), once it listens and handles signals: how to reach it
 * without reading its banner. A supervisor sends it once every server process listens.
 */
export interface ListeningMessage {
  readonly type: 'listening';
  readonly url: string;
  readonly port: number;
  /** The process that serves (the first, with --processes): not a supervisor in front of it. */
  readonly pid: number;
  /** Every serving process. */
  readonly pids: readonly number[];
  /** libuv's threadpool size as libuv applied it in the serving processes. */
  readonly libuvThreads: number;
  /** Worker threads of each serving process's piscina pool. */
  readonly workers: number;
}

export function isListeningMessage(message: unknown): message is ListeningMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'listening';
}
