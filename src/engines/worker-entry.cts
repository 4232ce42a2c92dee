/**
 * The module piscina loads in each worker. piscina loads it with require(); were it an ES module,
 * that would be require(esm) (on by default since Node 20.19), and a worker terminated in the
 * middle of require(esm) aborts the whole process (a V8 fatal error, not an exception). So this
 * entry is CommonJS, and it loads the real worker, an ES module, with import().
 */
import type { WorkerTask } from './worker.js';

type Run = (message: WorkerTask) => unknown;

const loading: Promise<Run> = import('./worker.js').then((worker) => worker.default);
loading.catch(() => {}); // a failed load is reported to each task instead (below)
let run: Run | undefined;

function entry(message: WorkerTask): unknown {
  if (run !== undefined) return run(message);
  return loading.then((loaded) => {
    run = loaded;
    return loaded(message);
  });
}

export = entry;
