import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { asDatabaseError, DatabaseError, fromFailure } from './errors.js';
import type { DbOptions, SyncDb } from './options.js';
import type { DbTarget } from './target.js';
import type { Reply, Request, ThreadData } from './thread.js';

type Call = { op: 'pong' } | { op: 'sum'; n: number };
const threadFile = new URL('./thread.js', import.meta.url);

/**
 * A database thread (thread.ts) and the two ways to call it: `call` awaits the reply, and
 * `callSync` blocks the calling thread in Atomics.wait until it comes — for exactly as long as
 * the query takes, as a synchronous driver would.
 */
export class DbThread {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #replies = new Int32Array(new SharedArrayBuffer(4));
  readonly #pending = new Map<number, (reply: Reply) => void>();
  #nextId = 1;
  #listening = false;
  #exited: Error | undefined;

  constructor(
    readonly target: DbTarget,
    readonly options: DbOptions,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    const data: ThreadData = { target, options, port: port2, replies: this.#replies };
    this.#worker = new Worker(threadFile, { workerData: data, transferList: [port2] });
    this.#worker.unref();
    this.#port.unref();
    this.#worker.on('error', (error) => (this.#exited = error));
    this.#worker.on('exit', (code) => {
      this.#exited ??= new Error(`the database thread exited (${code})`);
      for (const settle of this.#pending.values())
        settle({ id: 0, ok: false, error: { message: this.#exited.message } });
      this.#pending.clear();
    });
  }

  /** True once the thread is gone (crashed or closed): callers then start another. */
  get exited(): boolean {
    return this.#exited !== undefined;
  }

  #dead(): DatabaseError {
    return asDatabaseError(this.target.kind, this.#exited);
  }

  call(request: Call): Promise<string | bigint> {
    if (this.#exited) return Promise.reject(this.#dead());
    if (!this.#listening) {
      this.#listening = true;
      this.#port.on('message', (reply: Reply) => {
        this.#pending.get(reply.id)?.(reply);
        this.#pending.delete(reply.id);
        if (this.#pending.size === 0) this.#port.unref();
      });
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (reply) => (reply.ok ? resolve(reply.value) : reject(fromFailure(reply.error))));
      this.#port.postMessage({ id, ...request } satisfies Request);
      this.#port.ref(); // an awaited reply keeps the process alive; an idle thread does not
    });
  }

  /** Blocks until the reply comes, or `statementTimeoutMs` + `connectTimeoutMs` pass. */
  callSync(request: Call): string | bigint {
    if (this.#listening) throw new Error('a DbThread serves either call() or callSync(), not both');
    if (this.#exited) throw this.#dead();
    const id = this.#nextId++;
    this.#port.postMessage({ id, ...request } satisfies Request);
    const waitMs = this.options.statementTimeoutMs + this.options.connectTimeoutMs;
    const deadline = performance.now() + waitMs;
    for (;;) {
      // Read the counter before looking, so a reply that lands in between ends the wait at once.
      const seen = Atomics.load(this.#replies, 0);
      // Replies to calls that timed out earlier may come first: skip them.
      for (let message = receiveMessageOnPort(this.#port); message; message = receiveMessageOnPort(this.#port)) {
        const reply = message.message as Reply;
        if (reply.id === id) {
          if (reply.ok) return reply.value;
          throw fromFailure(reply.error);
        }
      }
      const left = deadline - performance.now();
      if (left <= 0)
        throw new DatabaseError(
          `${this.target.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: no answer within ${waitMs} ms`,
        );
      Atomics.wait(this.#replies, 0, seen, left);
    }
  }

  close(): Promise<number> {
    this.#port.close();
    return this.#worker.terminate();
  }
}

/** A SyncDb whose calls block in Atomics.wait while the thread queries. */
export function bridgedSync(target: DbTarget, options: DbOptions): SyncDb {
  let thread: DbThread | undefined;
  const use = () => (thread = thread && !thread.exited ? thread : new DbThread(target, options));
  return {
    getPong: () => use().callSync({ op: 'pong' }) as string,
    sum: (n) => use().callSync({ op: 'sum', n }) as bigint,
    close() {
      void thread?.close();
      thread = undefined;
    },
  };
}
