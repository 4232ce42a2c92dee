/**
 * Counts a pool's pending tasks (accepted, not yet settled) and answers `drained()`: a promise
 * that resolves once none is pending. Waiters are checked on the next turn of the loop after the
 * last task settles, so the task's own callbacks run first, and a task started in the meantime
 * keeps them waiting.
 */
export class Drain {
  #pending = 0;
  #waiters: (() => void)[] = [];
  #checking = false;

  get pending(): number {
    return this.#pending;
  }

  begin(): void {
    this.#pending++;
  }

  end(): void {
    this.#pending--;
    if (this.#pending === 0 && this.#waiters.length > 0 && !this.#checking) {
      this.#checking = true;
      setImmediate(() => this.#check());
    }
  }

  drained(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #check(): void {
    this.#checking = false;
    if (this.#pending > 0) return; // busy again: the next end() that reaches zero checks again
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
