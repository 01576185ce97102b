import { Worker } from 'node:worker_threads';

/*
 * WAL checkpoints off the request thread. SQLite's automatic checkpoint runs inside whichever
 * COMMIT crosses the threshold, freezing the event loop for milliseconds (the p99 of signals in
 * docs/benchmarks.md). So the request connection turns it off, and this worker thread, with its
 * own connection, runs PASSIVE checkpoints (they never block writers) a few times a second, a
 * RESTART when the WAL outgrows journal_size_limit under writes that never pause, and a TRUNCATE
 * once the database has been idle for a second (issue 16: a WAL of 478 MB beside a
 * 29 MB database, cut only at shutdown).
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
// Checkpoints sync the WAL before copying it and the database after (group commits may have left the WAL unflushed).
db.pragma('synchronous = FULL');
db.pragma('journal_size_limit = ' + workerData.journalSizeLimit);
const limitFrames = Math.max(1, Math.floor(workerData.journalSizeLimit / db.pragma('page_size', { simple: true })));
let lastFrames = -1;
let idleTicks = 0;
const timer = setInterval(() => {
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (r.log > limitFrames) {
      // Under writes that never pause, PASSIVE copies the frames back but the WAL never starts
      // over (a writer restarts it only when every frame was copied when it began): the file grew
      // to 2.4 GB beside a 376 MB database while a history was built. RESTART finishes the copy
      // holding the write lock (writers wait for the last few frames, a millisecond or so, since
      // PASSIVE keeps up) and makes the next writer start the WAL over, cut to journal_size_limit.
      db.pragma('busy_timeout = 100');
      try { db.pragma('wal_checkpoint(RESTART)'); } finally { db.pragma('busy_timeout = 1000'); }
      lastFrames = -1;
      return;
    }
    // Idle: every frame copied back and none added for idleMs. Then the WAL file is cut to zero,
    // so a burst's WAL does not stay on disk (journal_size_limit only trims it to the limit).
    idleTicks = r.log > 0 && r.log === r.checkpointed && r.log === lastFrames ? idleTicks + 1 : 0;
    lastFrames = r.log;
    if (idleTicks * workerData.intervalMs >= workerData.idleMs) {
      idleTicks = 0;
      lastFrames = -1;
      // TRUNCATE holds the write lock while it waits for readers: never wait (busy_timeout 0),
      // so a request's write is not held up; a busy database simply tries again when next idle.
      db.pragma('busy_timeout = 0');
      try { db.pragma('wal_checkpoint(TRUNCATE)'); } finally { db.pragma('busy_timeout = 1000'); }
    }
  } catch { /* busy: next round */ }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m.type === 'all') {
    // A read for the main thread (a scan that must not block its event loop).
    try { parentPort.postMessage({ id: m.id, rows: db.prepare(m.sql).all(...m.params) }); }
    catch (e) { parentPort.postMessage({ id: m.id, error: String(e && e.message || e) }); }
    return;
  }
  clearInterval(timer); try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {} db.close(); process.exit(0);
});
`;

/** What a WAL is trimmed back to after a checkpoint resets it (bytes). */
export const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

export class Checkpointer {
  private readonly worker: Worker;

  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }>();

  constructor(file: string, driverPath: string, opts: { intervalMs?: number; idleMs?: number; journalSizeLimit?: number } = {}) {
    const workerData = { file, driver: driverPath, intervalMs: opts.intervalMs ?? 25, idleMs: opts.idleMs ?? 1_000, journalSizeLimit: opts.journalSizeLimit ?? JOURNAL_SIZE_LIMIT };
    this.worker = new Worker(WORKER, { eval: true, workerData });
    // Never keep the process alive for it, and never crash it.
    this.worker.unref();
    this.worker.on('error', () => {});
    this.worker.on('message', (m: { id: number; rows?: unknown[]; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.rows ?? []);
    });
    this.worker.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error('The SQLite worker thread has stopped.'));
      this.pending.clear();
    });
  }

  /**
   * Runs a read-only statement on the worker's own connection: a scan whose cost grows with the
   * data (the /metrics counts) runs there, never on the request thread's event loop.
   */
  all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const id = this.nextId++;
    return new Promise<T[]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (rows: unknown[]) => void, reject });
      this.worker.postMessage({ type: 'all', id, sql, params });
    });
  }

  /** Stops after one last full checkpoint. */
  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'stop' });
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 2_000))]);
  }
}
