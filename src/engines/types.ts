/** The one interface every engine implements (DESIGN.md, "Library API"). */

/** A password or salt: a string is encoded as UTF-8. */
export type BinaryLike = string | Uint8Array;
/** RGBA8 pixels, row-major, 4 bytes per pixel: `length === width * height * 4`. */
export type Pixels = Uint8Array | Uint8ClampedArray;

export interface TaskOptions {
  /** Aborting rejects the call with a `DOMException` named `AbortError`. */
  signal?: AbortSignal | undefined;
}

export type EngineName = 'js' | 'workers' | 'cpp' | 'rust' | 'cpp-pool' | 'rust-pool';
export const kernelNames = ['primes', 'pbkdf2', 'blur', 'sleep'] as const;
export type KernelName = (typeof kernelNames)[number];

/** The Promise forms. */
export interface AsyncKernels {
  /** π(limit): how many primes are ≤ limit, 0 ≤ limit ≤ 2^32 − 1. */
  primes(limit: number, options?: TaskOptions): Promise<number>;
  /** PBKDF2-HMAC-SHA256; iterations 1..10^8, keylen 1..1024 bytes. */
  pbkdf2(password: BinaryLike, salt: BinaryLike, iterations: number, keylen: number, options?: TaskOptions): Promise<Buffer>;
  /** Box blur with clamped edges; width, height 1..65535, width·height ≤ 2^26, radius 0..65535. */
  blur(rgba: Pixels, width: number, height: number, radius: number, options?: TaskOptions): Promise<Buffer>;
  /** Blocks a thread for ms (0..60000): the stand-in for blocking I/O. */
  sleep(ms: number, options?: TaskOptions): Promise<void>;
  /** A round trip that does no work: the cost of dispatching to this engine. */
  noop(options?: TaskOptions): Promise<void>;
}

/** The blocking forms: they run on the calling thread. */
export interface SyncKernels {
  primesSync(limit: number): number;
  pbkdf2Sync(password: BinaryLike, salt: BinaryLike, iterations: number, keylen: number): Buffer;
  blurSync(rgba: Pixels, width: number, height: number, radius: number): Buffer;
  sleepSync(ms: number): void;
}

export interface Engine extends AsyncKernels, SyncKernels {
  readonly name: EngineName;
}

/** The validated arguments and result of each kernel, as the engines' runners see them. */
export interface KernelArgs {
  primes: [limit: number];
  pbkdf2: [password: BinaryLike, salt: BinaryLike, iterations: number, keylen: number];
  blur: [rgba: Uint8Array, width: number, height: number, radius: number];
  sleep: [ms: number];
  noop: [];
}
export interface KernelResults {
  primes: number;
  pbkdf2: Buffer;
  blur: Buffer;
  sleep: void;
  noop: void;
}
export type TaskName = keyof KernelArgs;
