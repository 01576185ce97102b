/*
 * Bounds concurrent password hashing. argon2id costs ~50 ms of CPU and 19 MiB each (by default); without a
 * bound, a flood of log-ins (made-up names cost a hash too, so that timing reveals nothing) would
 * queue without limit and starve real users. At most `concurrency` hashes run; at most `queue`
 * wait, and at most a quarter of those for one client address; beyond that `tryRun` answers
 * null at once and the caller refuses with 429. Waiters are served round-robin across addresses,
 * so a real user from another address waits for about one hash per busy address, not for the
 * whole of one address's burst (an automation host signing in many approvers at once, or a flood).
 */
export class HashGate {
  private running = 0;
  private waitingCount = 0;
  /** Waiters per client address; Map order is the round-robin order. */
  private readonly queues = new Map<string, (() => void)[]>();
  private readonly perClient: number;

  constructor(
    private readonly concurrency: number,
    private readonly queue: number,
  ) {
    this.perClient = Math.max(1, Math.ceil(queue / 4));
  }

  /** Runs fn when a slot is free; null (fn not run) when the queue, or this client's share of it, is full. */
  async tryRun<T>(fn: () => Promise<T>, client = ''): Promise<{ value: T } | null> {
    if (this.running >= this.concurrency) {
      const mine = this.queues.get(client) ?? [];
      if (this.waitingCount >= this.queue || mine.length >= this.perClient) return null;
      const turn = new Promise<void>((resolve) => mine.push(resolve));
      if (mine.length === 1) this.queues.set(client, mine);
      this.waitingCount++;
      await turn;
    } else this.running++;
    try {
      return { value: await fn() };
    } finally {
      this.handOn();
    }
  }

  /** Hands the slot straight to the next client's oldest waiter (running stays the same), or frees it. */
  private handOn(): void {
    const first = this.queues.entries().next();
    if (first.done) {
      this.running--;
      return;
    }
    const [client, waiters] = first.value;
    const next = waiters.shift()!;
    this.waitingCount--;
    this.queues.delete(client);
    if (waiters.length) this.queues.set(client, waiters); // to the back of the round
    next();
  }

  /** Hashes running and waiting (diagnostics, tests). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waitingCount };
  }
}
