import type Database from 'better-sqlite3';

/*
 * Group commit for the embedded store. With synchronous=FULL every COMMIT waits for the disk; one
 * commit per request would cap writes at the disk's flush rate. So writes that arrive together
 * (in the same turn of the event loop) run in ONE transaction, each under its own SAVEPOINT:
 *
 * - a request whose work throws is rolled back to its savepoint alone, and the others go on;
 * - no request is answered (its promise settled) before the COMMIT holding its write has
 *   returned, so an acknowledged write is on disk;
 * - if the COMMIT itself fails, or an error ends the whole transaction, every request whose
 *   write was in it fails: none is acknowledged for a write that was rolled back.
 *
 * The work functions are synchronous (better-sqlite3), so a batch runs start to end without
 * anything else touching the connection in between.
 *
 * With a WalSync (file databases, durability full), the batch's COMMIT runs with
 * synchronous=NORMAL and its requests are answered after WalSync.sync() has flushed the WAL in the
 * thread pool: the same guarantee, but the main thread runs the next batch while the disk
 * flushes, instead of waiting inside COMMIT (about 30 % of its time at 32 clients). Every other
 * transaction on the connection still commits with synchronous=FULL.
 */

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** More than this many waiting requests are split over several transactions (bounded event-loop pauses). */
const MAX_BATCH = 256;
/** How long lazy work waits for a batch of requests to ride with before committing alone. */
const LAZY_MS = 10;

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private lazyTimer: NodeJS.Timeout | null = null;
  /** Transactions committed (or attempted) and requests they carried, for tests and metrics. */
  readonly counts = { batches: 0, requests: 0 };

  /** Flushes of committed batches not yet answered (close waits for them). */
  private readonly syncing = new Set<Promise<void>>();

  constructor(
    private readonly db: Database.Database,
    /** Flushes the WAL (wal-sync.ts); null: each COMMIT flushes in line, as the connection's setting says. */
    private readonly wal: { sync(): Promise<void> } | null = null,
  ) {}

  /**
   * Runs `work` inside the next group transaction; settles after that transaction's COMMIT.
   * `lazy` work (written after its request was answered, such as audit entries) does not start a
   * transaction of its own: it rides with the next batch of requests, or waits at most LAZY_MS.
   * Without it, every batch of requests would be followed by a second commit for their entries.
   */
  run<R>(work: () => R, options: { lazy?: boolean } = {}): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (this.scheduled) return;
      if (options.lazy) {
        this.lazyTimer ??= setTimeout(() => this.schedule(), LAZY_MS);
        return;
      }
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the current turn's I/O callbacks: requests parsed together land in one batch.
    setImmediate(() => this.flush());
  }

  /** Runs what is queued now (also at close, so nothing queued is left unanswered). */
  flush(): void {
    this.scheduled = false;
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.lazyTimer = null;
    while (this.queue.length) this.commitBatch(this.queue.splice(0, MAX_BATCH));
  }

  /** Runs what is queued and waits until every committed batch is flushed and answered. */
  async drain(): Promise<void> {
    this.flush();
    while (this.syncing.size) await Promise.allSettled([...this.syncing]);
  }

  private commitBatch(batch: Pending[]): void {
    const outcomes: Outcome[] = [];
    let lost: unknown = null;
    const db = this.db;
    // Restored below, so only this batch's COMMIT skips the in-line flush (the WAL sync replaces it).
    if (this.wal) db.pragma('synchronous = NORMAL');
    try {
      db.transaction(() => {
        for (const item of batch) {
          try {
            // Nested in the open transaction, better-sqlite3 runs this as SAVEPOINT ... RELEASE,
            // and on a throw as ROLLBACK TO: only this request's writes are undone.
            outcomes.push({ ok: true, value: db.transaction(item.work)() });
          } catch (error) {
            outcomes.push({ ok: false, error });
            // Some errors (disk full, I/O) end the whole transaction: the writes before it are gone too.
            if (!db.inTransaction) throw new TransactionLost(error);
          }
        }
      }).immediate();
    } catch (error) {
      lost = error instanceof TransactionLost ? error.cause : error;
    } finally {
      if (this.wal) db.pragma('synchronous = FULL');
      this.counts.batches++;
      this.counts.requests += batch.length;
    }
    if (lost !== null) {
      // Nothing of this batch is on disk. Requests that had not run yet go to the next batch,
      // unless none ran (BEGIN or COMMIT failed): then all fail, and no batch is retried for ever.
      const ran = outcomes.length;
      const failed = ran === 0 || ran === batch.length ? batch : batch.slice(0, ran);
      for (const item of failed) item.reject(lost);
      if (failed.length < batch.length) this.queue.unshift(...batch.slice(ran));
      return;
    }
    const answer = () =>
      batch.forEach((item, k) => {
        const o = outcomes[k]!;
        if (o.ok) item.resolve(o.value);
        else item.reject(o.error);
      });
    if (!this.wal) {
      answer();
      return;
    }
    // Committed, but on disk only once the WAL is flushed: no request is answered before that,
    // and if the flush fails none is acknowledged (the write may not survive a power loss).
    const flushed = this.wal.sync().then(answer, (error) => {
      for (const item of batch) item.reject(error);
    });
    this.syncing.add(flushed);
    void flushed.finally(() => this.syncing.delete(flushed));
  }
}

class TransactionLost extends Error {
  constructor(override readonly cause: unknown) {
    super('The group transaction ended early.');
  }
}
