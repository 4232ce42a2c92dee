/**
 * Every request's deadline behind one timer. All deadlines are the same length after a
 * monotonic clock, so arrival order is deadline order: a FIFO list is already sorted, arming is
 * an append and disarming an unlink, both O(1), and one unref'd timer waits for the oldest.
 * A timer per request (setTimeout + clearTimeout, each touching libuv's clock and a Timeout
 * object) was a large share of the loop's time under load.
 */

/** One armed deadline; hand it back to `disarm`. */
export interface Deadline<T> {
  readonly item: T;
  /** When it expires, on performance.now()'s clock. */
  readonly at: number;
  prev: Deadline<T> | undefined;
  next: Deadline<T> | undefined;
  armed: boolean;
}

export class Deadlines<T> {
  #head: Deadline<T> | undefined;
  #tail: Deadline<T> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires; it may be earlier than the head's deadline (the head it was armed for left). */
  #timerAt = 0;
  #size = 0;

  /**
   * @param ms how long after its start each item expires
   * @param onExpire called once for each item whose deadline passes while armed
   */
  constructor(
    readonly ms: number,
    private readonly onExpire: (item: T) => void,
  ) {}

  get size(): number {
    return this.#size;
  }

  /** Arms `item`'s deadline, `ms` after `startedAt` (performance.now(); never earlier than the last armed). */
  arm(item: T, startedAt: number): Deadline<T> {
    const deadline: Deadline<T> = { item, at: startedAt + this.ms, prev: this.#tail, next: undefined, armed: true };
    if (this.#tail) this.#tail.next = deadline;
    else this.#head = deadline;
    this.#tail = deadline;
    this.#size++;
    if (this.#timer === undefined) this.#schedule(deadline.at);
    return deadline;
  }

  /** Disarms it: its item will not expire. Disarming twice, or after it expired, does nothing. */
  disarm(deadline: Deadline<T> | undefined): void {
    if (!deadline?.armed) return;
    deadline.armed = false;
    if (deadline.prev) deadline.prev.next = deadline.next;
    else this.#head = deadline.next;
    if (deadline.next) deadline.next.prev = deadline.prev;
    else this.#tail = deadline.prev;
    deadline.prev = deadline.next = undefined;
    this.#size--;
    // The timer stays armed for the old head: when it fires early it re-arms for the new one, so
    // a steady stream of quick requests costs one wake-up per `ms`, not one per request.
    if (this.#head === undefined) this.#cancel();
  }

  /** Disarms every deadline (shutdown). */
  clear(): void {
    while (this.#head) this.disarm(this.#head);
  }

  #schedule(at: number): void {
    this.#timerAt = at;
    // Node's timers run on libuv's millisecond clock: round up, so that it never fires early.
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, Math.ceil(at - performance.now())));
    this.#timer.unref();
  }

  #cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#head !== undefined && this.#head.at <= now) {
      const expired = this.#head;
      this.disarm(expired);
      this.onExpire(expired.item);
    }
    if (this.#head !== undefined && this.#timer === undefined) this.#schedule(this.#head.at);
  }

  /** For tests: when the one timer is due, or undefined when none is armed. */
  get timerAt(): number | undefined {
    return this.#timer === undefined ? undefined : this.#timerAt;
  }
}
