import type { KernelName, SyncKernels } from '../engines/index.js';
import { HttpError } from './http.js';

/**
 * The loop's budget: work that runs on the event loop (the `blocking`, `cpp-sync`, `rust-sync`
 * strategies and /terrible-ping) is checked from its arguments before it runs, because once it
 * runs nothing — not even the request timeout — can fire until it ends.
 *
 * - One request: its estimated loop time may not pass `maxLoopMs` (422, naming the argument).
 * - All of them: a leaky bucket drains at `maxShare` ms per ms of wall time; a request is
 *   admitted while the bucket holds less than `maxShare × windowMs`, and adds its estimate (then
 *   its real time once it ran). So over any long stretch at most `maxShare` of the loop's time
 *   goes to loop-blocking routes; past it, 503 with Retry-After.
 */

/** The work a kernel call stands for, in the unit its cost scales with. */
export function workUnits(kernel: KernelName, args: readonly number[]): number {
  switch (kernel) {
    case 'primes':
      return args[0]!; // limit: the sieve is linear in it
    case 'pbkdf2':
      return args[0]! * Math.ceil(args[1]! / 32); // iterations × SHA-256 blocks of output
    case 'blur': {
      // A sliding-window box blur: each pixel costs the same whatever the radius, plus the window's
      // set-up at the start of each row and column.
      const [width, height, radius] = args as [number, number, number];
      return width * height + (width + height) * Math.min(radius, Math.max(width, height));
    }
    case 'sleep':
      return args[0]!; // ms
  }
}

/** The arguments the estimate reads, with the field each comes from (for the 422). */
export interface WorkSize {
  kernel: KernelName;
  /** Numbers, in workUnits' order. */
  args: readonly number[];
  /** The argument a too-large request should change. */
  field: string;
}

/** Milliseconds per work unit of each kernel, for one engine. */
export type UnitCosts = Record<KernelName, number>;

/**
 * Measures an engine's per-unit costs with a few short runs of each sync kernel (the median of
 * three, so one preempted run does not skew it). A busy machine makes the costs higher: the
 * estimates then err on the safe side.
 */
export function calibrate(engine: SyncKernels, now: () => number = () => performance.now()): UnitCosts {
  const time = (run: () => unknown): number => {
    const samples = [0, 1, 2].map(() => {
      const start = now();
      run();
      return now() - start;
    });
    return samples.sort((a, b) => a - b)[1]!;
  };
  const rgba = new Uint8Array(128 * 128 * 4);
  const primesLimit = 1_000_000;
  return {
    primes: time(() => engine.primesSync(primesLimit)) / workUnits('primes', [primesLimit]),
    pbkdf2: time(() => engine.pbkdf2Sync('p', 's', 1000, 32)) / workUnits('pbkdf2', [1000, 32]),
    blur: time(() => engine.blurSync(rgba, 128, 128, 4)) / workUnits('blur', [128, 128, 4]),
    sleep: 1,
  };
}

export interface LoopBudgetOptions {
  maxLoopMs: number;
  maxShare: number;
  /** The stretch the share is measured over: a burst may use `maxShare × windowMs` at once. */
  windowMs?: number;
  now?: () => number;
}

/** One admitted piece of loop work: report how long it really took. */
export interface LoopTicket {
  readonly estimateMs: number;
  done(actualMs: number): void;
}

export class LoopBudget {
  readonly maxLoopMs: number;
  readonly maxShare: number;
  readonly windowMs: number;
  /** How long the last work `run` ran, in ms (loop work runs one at a time: a route reads its own). */
  lastRunMs = 0;
  readonly #now: () => number;
  #level = 0;
  #at: number;

  constructor({ maxLoopMs, maxShare, windowMs = 1000, now = () => performance.now() }: LoopBudgetOptions) {
    this.maxLoopMs = maxLoopMs;
    this.maxShare = maxShare;
    this.windowMs = windowMs;
    this.#now = now;
    this.#at = now();
  }

  /** The loop time charged and not yet drained, in ms. */
  get level(): number {
    const now = this.#now();
    this.#level = Math.max(0, this.#level - (now - this.#at) * this.maxShare);
    this.#at = now;
    return this.#level;
  }

  /**
   * Admits `estimateMs` of loop work or throws the HttpError to answer: 422 past the per-request
   * cap (naming `field`), 503 with Retry-After while the share is spent.
   */
  admit(estimateMs: number, field: string): LoopTicket {
    const level = this.#check(estimateMs, field);
    const admittedAt = this.#at;
    this.#level += estimateMs;
    let settled = false;
    return {
      estimateMs,
      done: (actualMs) => {
        if (settled) return;
        settled = true;
        // The real time replaces the estimate, so a wrong calibration does not accumulate. Loop
        // work runs alone (it holds the loop), so the level it started from is still the base.
        const now = this.#now();
        this.#level = Math.max(0, level + actualMs - (now - admittedAt) * this.maxShare);
        this.#at = now;
      },
    };
  }

  /**
   * Runs `work` now if `estimateMs` of it is admitted, and charges its real time: `admit` and
   * `done` in one, without a ticket and on two clock readings, for every loop request.
   */
  run<T>(estimateMs: number, field: string, work: () => T): T {
    const level = this.#check(estimateMs, field);
    const admittedAt = this.#at;
    this.#level += estimateMs;
    try {
      return work();
    } finally {
      const now = this.#now();
      this.lastRunMs = now - admittedAt;
      this.#level = Math.max(0, level + this.lastRunMs * (1 - this.maxShare));
      this.#at = now;
    }
  }

  /** The level drained to now, or the HttpError that refuses `estimateMs` of work. */
  #check(estimateMs: number, field: string): number {
    if (!(estimateMs <= this.maxLoopMs)) {
      throw new HttpError(
        422,
        `this request would hold the event loop for about ${Math.round(estimateMs)} ms, past the cap of ` +
          `${this.maxLoopMs} ms (--max-loop-ms); lower "${field}" or use an offloaded strategy`,
        { field, extra: { estimatedMs: Math.round(estimateMs), maxLoopMs: this.maxLoopMs } },
      );
    }
    const allowance = this.maxShare * this.windowMs;
    const level = this.level;
    if (level >= allowance) {
      const seconds = Math.max(1, Math.ceil((level - allowance) / this.maxShare / 1000));
      throw new HttpError(
        503,
        `loop-blocking routes have used their share of the event loop (${this.maxShare} of each second, ` +
          '--max-loop-share); retry later or use an offloaded strategy',
        { headers: { 'retry-after': String(seconds) } },
      );
    }
    return level;
  }
}

/** Estimates and admits loop work for each engine that runs on the loop. */
export class LoopGuard {
  constructor(
    readonly budget: LoopBudget,
    readonly costs: ReadonlyMap<string, UnitCosts>,
  ) {}

  /** Estimated ms of `size` on `engine` (sleep is its own ms on any engine). */
  estimate(engine: string, size: WorkSize): number {
    const perUnit = size.kernel === 'sleep' ? 1 : this.costs.get(engine)?.[size.kernel];
    if (perUnit === undefined) throw new Error(`no calibrated costs for ${engine}`);
    return workUnits(size.kernel, size.args) * perUnit;
  }

  /** Runs `work` on the loop if the budget admits it, charging its real time. */
  run<T>(engine: string, size: WorkSize, work: () => T): T {
    return this.runFor(this.estimate(engine, size), size.field, work);
  }

  /** Runs `work`, estimated at `estimatedMs`, on the loop if the budget admits it (`field` names the cause). */
  runFor<T>(estimatedMs: number, field: string, work: () => T): T {
    return this.budget.run(estimatedMs, field, work);
  }
}
