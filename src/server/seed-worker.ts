/**
 * The seed's blocking calls on a worker thread (piscina), as FastAPI runs a sync route on its
 * threadpool: /good-ping's blocking sleep and synchronous get_pong, and /query/worker's
 * statement. Each worker opens its own connection on its first task and keeps it.
 */

import type { CancelFlag } from '../kernels/cancel.js';
import { sleep } from '../kernels/sleep.js';
import { openSync } from './db/database.js';
import { asDatabaseError, type Outcome, toFailure } from './db/errors.js';
import type { DbOptions, SyncDb } from './db/options.js';
import type { DbTarget } from './db/target.js';

export type SeedTask = { target: DbTarget; options: DbOptions } & (
  | { op: 'pong'; ms: number }
  | { op: 'sum'; n: number }
);
export type SeedResult = Outcome<string> | Outcome<bigint>;

let connection: { key: string; db: SyncDb } | undefined;

function database(target: DbTarget, options: DbOptions): SyncDb {
  const key = JSON.stringify([target, options]);
  if (connection?.key !== key) {
    connection?.db.close();
    connection = { key, db: openSync(target, options) };
  }
  return connection.db;
}

// `cancel` (runFile's context) stops the sleep when the request is aborted: no worker is terminated.
export default function seedTask(task: SeedTask, cancel?: CancelFlag): SeedResult {
  // Database errors come back as values: an Error's own fields do not survive the thread hop.
  try {
    if (task.op === 'pong') {
      sleep(task.ms, cancel);
      return { ok: true, value: database(task.target, task.options).getPong() };
    }
    return { ok: true, value: database(task.target, task.options).sum(task.n) };
  } catch (error) {
    return { ok: false, error: toFailure(asDatabaseError(task.target.kind, error)) };
  }
}
