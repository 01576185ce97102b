import { Worker } from 'node:worker_threads';

/*
 * WAL checkpoints off the request thread. SQLite's automatic checkpoint runs inside whichever
 * COMMIT crosses the threshold, freezing the event loop for milliseconds (the p99 of signals in
 * docs/benchmarks.md). So the request connection turns it off, and this worker thread, with its
 * own connection, runs PASSIVE checkpoints (they never block writers) a few times a second.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: next round */ }
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {} db.close(); process.exit(0); });
`;

export class Checkpointer {
  private readonly worker: Worker;

  constructor(file: string, driverPath: string, intervalMs = 25) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { file, driver: driverPath, intervalMs } });
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
