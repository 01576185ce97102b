import { Worker } from 'node:worker_threads';

/*
 * WAL checkpoints off the request thread. SQLite's automatic checkpoint runs inside whichever
 * COMMIT crosses the threshold, freezing the event loop for milliseconds (the p99 of signals in
 * docs/benchmarks.md). So the request connection turns it off, and this worker thread, with its
 * own connection, runs PASSIVE checkpoints (they never block writers) a few times a second, and
 * a TRUNCATE once the database has been idle for a second (issue 16: a WAL of 478 MB beside a
 * 29 MB database, cut only at shutdown).
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
db.pragma('journal_size_limit = ' + workerData.journalSizeLimit);
let lastFrames = -1;
let idleTicks = 0;
const timer = setInterval(() => {
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    // Idle: every frame copied back and none added for idleMs. Then the WAL file is cut to zero,
    // so a burst's WAL does not stay on disk (journal_size_limit only trims it to the limit).
    idleTicks = r.log > 0 && r.log === r.checkpointed && r.log === lastFrames ? idleTicks + 1 : 0;
    lastFrames = r.log;
    if (idleTicks * workerData.intervalMs >= workerData.idleMs) {
      db.pragma('wal_checkpoint(TRUNCATE)');
      idleTicks = 0;
      lastFrames = -1;
    }
  } catch { /* busy: next round */ }
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {} db.close(); process.exit(0); });
`;

/** What a WAL is trimmed back to after a checkpoint resets it (bytes). */
export const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

export class Checkpointer {
  private readonly worker: Worker;

  constructor(file: string, driverPath: string, opts: { intervalMs?: number; idleMs?: number; journalSizeLimit?: number } = {}) {
    const workerData = { file, driver: driverPath, intervalMs: opts.intervalMs ?? 25, idleMs: opts.idleMs ?? 1_000, journalSizeLimit: opts.journalSizeLimit ?? JOURNAL_SIZE_LIMIT };
    this.worker = new Worker(WORKER, { eval: true, workerData });
    // Never keep the process alive for it, and never crash it.
    this.worker.unref();
    this.worker.on('error', () => {});
  }

  /** Stops after one last full checkpoint. */
  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 2_000))]);
  }
}
