/*
 * Bounds concurrent password hashing. scrypt costs ~50-100 ms of CPU and 32 MiB each; without a
 * bound, a flood of log-ins (made-up names cost a hash too, so that timing reveals nothing) would
 * queue without limit and starve real users. At most `concurrency` hashes run; at most `queue`
 * wait; beyond that `tryRun` answers null at once and the caller refuses with 429.
 */
export class HashGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly queue: number,
  ) {}

  /** Runs fn when a slot is free; null (fn not run) when the queue is full. */
  async tryRun<T>(fn: () => Promise<T>): Promise<{ value: T } | null> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queue) return null;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return { value: await fn() };
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Hashes running and waiting (diagnostics, tests). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
