import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque handle from `createCancelToken`. */
export type CancelToken = { readonly __brand: 'offloop.CancelToken' };

/** What both addons export (native/README.md). Arguments arrive already validated. */
export interface NativeBinding {
  primesSync(limit: number): number;
  pbkdf2Sync(password: Uint8Array, salt: Uint8Array, iterations: number, keylen: number): Buffer;
  blurSync(rgba: Uint8Array, width: number, height: number, radius: number): Buffer;
  sleepSync(ms: number): undefined;
  primes(limit: number, token?: CancelToken): Promise<number>;
  pbkdf2(password: Uint8Array, salt: Uint8Array, iterations: number, keylen: number, token?: CancelToken): Promise<Buffer>;
  blur(rgba: Uint8Array, width: number, height: number, radius: number, token?: CancelToken): Promise<Buffer>;
  sleep(ms: number, token?: CancelToken): Promise<undefined>;
  noop(token?: CancelToken): Promise<undefined>;
  createCancelToken(): CancelToken;
  cancel(token: CancelToken): void;
  readonly shaBackend: 'sha-ni' | 'portable';
  /** The addon's own thread pool (native/README.md, "The dedicated pool"). */
  readonly pool: NativePool;
}

/** How a pool's threads are scheduled (`poolLimits.policies`). */
export type PoolPolicy = 'idle' | 'batch' | 'normal';

export interface PoolStats {
  threads: number;
  nice: number;
  /** null while no pool runs. */
  policy: PoolPolicy | null;
  queued: number;
  running: number;
}

export interface NativePool extends Pick<NativeBinding, 'primes' | 'pbkdf2' | 'blur' | 'sleep' | 'noop'> {
  start(threads: number, nice: number, policy?: PoolPolicy): undefined;
  stop(): undefined;
  stats(): PoolStats;
}

export type AddonName = 'cpp' | 'rust';

/** The package root: this file is dist/src/engines/addon.js. */
export const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
const require = createRequire(import.meta.url);

/**
 * Where each addon may be, in order: a build from source, then the prebuild shipped in the
 * package for this platform (both written by scripts/install.mjs).
 */
export function addonCandidates(name: AddonName): string[] {
  const file = `offloop_${name}.node`;
  return [
    join(packageRoot, 'build', name === 'cpp' ? 'Release' : 'rust', file),
    join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, file),
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
    `offloop: the ${name} addon could not be loaded; build it with \`npm run build:native\`.\n  ${failures.join('\n  ')}`,
  );
}
