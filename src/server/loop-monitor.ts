import { performance } from 'node:perf_hooks';

/** Called on each tick with how late it ran (ms) and the time it ran at. */
export type TickListener = (lateMs: number, now: number) => void;

/**
 * One timer that asks to run every `everyMs` and reports how late it actually ran: the event
 * loop's delay, for the metrics' windows and the pressure check alike. Our own timer rather than
 * perf_hooks.monitorEventLoopDelay, because resetting that histogram also forgets when its timer
 * last ran, so a block that begins right after a reset is never recorded.
 */
export class LoopMonitor {
  readonly #listeners: TickListener[] = [];
  readonly #timer: NodeJS.Timeout;
  #expected: number;

  constructor(readonly everyMs = 5) {
    this.#expected = performance.now() + everyMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      const lateMs = Math.max(0, now - this.#expected);
      this.#expected = now + everyMs;
      for (const listener of this.#listeners) listener(lateMs, now);
    }, everyMs).unref();
  }

  onTick(listener: TickListener): void {
    this.#listeners.push(listener);
  }

  /** How late the next tick already is (ms): a loop blocked right now shows here before any tick can run. */
  overdueMs(now = performance.now()): number {
    return Math.max(0, now - this.#expected);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
