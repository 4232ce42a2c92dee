import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';

/** What the figures were measured on: without it, results from two runs cannot be compared. */
export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  v8: string;
  /** The harness process's libuv threadpool (the server's is reported with the HTTP results). */
  libuvPoolSize: number;
  /**
   * 1-minute load average when the part started (near the core count: others were using the CPU),
   * and when it ended (that one includes this run's own processes: well past the cores, others too).
   */
  loadAverage: number;
  loadAverageEnd?: number;
  date: string;
}

/** libuv reads UV_THREADPOOL_SIZE once, clamped to 1..1024, 4 when unset. */
export function libuvPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const parsed = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '4', 10);
  return Math.min(Math.max(Number.isNaN(parsed) ? 1 : parsed, 1), 1024);
}

const currentLoad = () => Math.round(loadavg()[0]! * 100) / 100;

/** The machine as it was when a part started, with the load average now that it has ended. */
export function endOfPart(machine: Machine): Machine {
  return { ...machine, loadAverageEnd: currentLoad() };
}

/** A warning to print when other processes are busy: the figures will be noisy. */
export function busyWarning(machine: Machine): string | undefined {
  return machine.loadAverage > machine.cores / 2
    ? `warning: load average ${machine.loadAverage} on ${machine.cores} cores before starting — ` +
        'other processes are using the CPU, so these figures will be noisy'
    : undefined;
}

export function describeMachine(): Machine {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    v8: process.versions.v8,
    libuvPoolSize: libuvPoolSize(),
    loadAverage: currentLoad(),
    date: new Date().toISOString(),
  };
}
