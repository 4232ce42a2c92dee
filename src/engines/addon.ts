import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { packagePath } from '../package-root.js';
import type { KernelArgs, KernelName, TaskName } from './kernels.js';
import type { KernelResults } from './types.js';

/** An opaque handle from `createCancelToken`. */
export type CancelToken = { readonly __brand: 'offloop.CancelToken' };

/** The addons take bytes where the engines also accept strings, and return undefined for void. */
type Bytes<P extends readonly unknown[]> = { [I in keyof P]: P[I] extends number ? number : Uint8Array };
type Returned<R> = [R] extends [void] ? undefined : R;
type AsyncExport<P extends readonly unknown[], R> = (
  ...args: [...Bytes<P>, token?: CancelToken]
) => Promise<Returned<R>>;
type SyncExport<P extends readonly unknown[], R> = (...args: Bytes<P>) => Returned<R>;

/** Each task as the addons export it, from the kernel table: one async work item per call. */
export type NativeAsync = { [K in TaskName]: AsyncExport<KernelArgs[K], KernelResults[K]> };
/** Each kernel's blocking export, `${name}Sync`. */
export type NativeSync = { [K in KernelName as `${K}Sync`]: SyncExport<KernelArgs[K], KernelResults[K]> };

/** What both addons export (native/README.md). Arguments arrive already validated. */
export interface NativeBinding extends NativeAsync, NativeSync {
  createCancelToken(): CancelToken;
  cancel(token: CancelToken): void;
  readonly shaBackend: 'sha-ni' | 'portable';
  /**
   * Sets the calling thread's own scheduling policy and nice value, as each pool thread does for
   * itself (native/README.md): for a worker thread that wants to run like a pool thread. True if
   * the system took both (raising a thread's priority back may need privilege).
   */
  setThreadPolicy(policy: PoolPolicy, nice: number): boolean;
  /** The addon's own thread pool (native/README.md, "The dedicated pool"). */
  readonly pool: NativePool;
}

/** How a pool's threads are scheduled (`poolLimits.policies`). */
export type PoolPolicy = 'idle' | 'batch' | 'normal';

/** A distribution of task times in milliseconds (piscina's names). */
export interface TimeSummary {
  p50: number;
  p99: number;
  max: number;
}

/** What a pool reports: its settings, its load now, and what it has done since it started. */
export interface PoolStats {
  threads: number;
  nice: number;
  /** null while no pool runs. */
  policy: PoolPolicy | null;
  queued: number;
  running: number;
  /** Tasks that left a thread (resolved, rejected or cancelled) since the pool started. */
  completed: number;
  /** The share of the threads' time spent running tasks since the pool started, 0..1. */
  utilization: number;
  /** How long tasks ran on a thread, in ms. */
  runTime: TimeSummary;
  /** How long tasks waited for a thread, in ms. */
  waitTime: TimeSummary;
}

export interface NativePool extends NativeAsync {
  start(threads: number, nice: number, policy?: PoolPolicy): undefined;
  stop(): undefined;
  stats(): PoolStats;
}

export type AddonName = 'cpp' | 'rust';

const require = createRequire(import.meta.url);

/**
 * Where each addon may be, in order: a build from source, then the prebuild shipped in the
 * package for this platform (both written by scripts/install.mjs).
 */
export function addonCandidates(name: AddonName): string[] {
  const file = `offloop_${name}.node`;
  return [
    packagePath('build', name === 'cpp' ? 'Release' : 'rust', file),
    packagePath('prebuilds', `${process.platform}-${process.arch}`, file),
  ];
}

export class AddonLoadError extends Error {
  override readonly name = 'AddonLoadError';
}

/** Loads an addon, saying what was tried and how to build it when none loads. */
export function loadAddon(name: AddonName): NativeBinding {
  const failures: string[] = [];
  for (const path of addonCandidates(name)) {
    if (!existsSync(path)) {
      failures.push(`${path}: not found`);
      continue;
    }
    try {
      return require(path) as NativeBinding;
    } catch (error) {
      failures.push(`${path}: ${(error as Error).message}`);
    }
  }
  throw new AddonLoadError(
    `offloop: the ${name} addon could not be loaded; build it with \`npm run build:native\`.` +
      `\n  ${failures.join('\n  ')}`,
  );
}
