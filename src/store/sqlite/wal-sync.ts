import { closeSync, fdatasync, fstatSync, openSync, statSync } from 'node:fs';

/*
 * Makes the WAL durable off the event loop. A group transaction commits with synchronous=NORMAL
 * (the COMMIT writes the WAL but does not wait for the disk), then `sync()` runs fdatasync on the
 * WAL file in libuv's thread pool, and only then are the batch's requests answered. An answered
 * write is on disk exactly as with synchronous=FULL, but the main thread no longer sits in the
 * flush: it runs the next batch meanwhile (group-commit.ts). fdatasync flushes the file, whichever
 * descriptor wrote it, so a descriptor of our own sees SQLite's writes.
 */
export class WalSync {
  private fd: number | null = null;
  private ino = -1;

  constructor(readonly walPath: string) {}

  /** Resolves once everything written to the WAL so far is on disk. */
  sync(): Promise<void> {
    try {
      this.ensureOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    const fd = this.fd!;
    return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  }

  /**
   * Opened at the first sync (SQLite creates the WAL with the first write), and again if the file
   * at the path is no longer the one held (SQLite deletes the WAL only when its last connection
   * closes, so this is a safety net, at the cost of one stat per batch).
   */
  private ensureOpen(): void {
    const ino = statSync(this.walPath).ino;
    if (this.fd !== null && ino === this.ino) return;
    this.close();
    const fd = openSync(this.walPath, 'r');
    this.fd = fd;
    this.ino = fstatSync(fd).ino;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.ino = -1;
  }
}
