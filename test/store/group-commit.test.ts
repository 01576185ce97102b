import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/store/sqlite/group-commit.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { WalSync } from '../../src/store/sqlite/wal-sync.ts';
import { createIn, note } from './store-fixtures.ts';

/*
 * Group commit (src/store/sqlite/group-commit.ts): writes arriving together share one COMMIT,
 * each under its own savepoint. Another connection is the judge of what is committed: it sees
 * only what a COMMIT has made durable.
 */

describe('SQLite group commit', () => {
  let dir: string;
  let db: Database.Database;
  let observer: Database.Database;
  let group: GroupCommit;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'countersign-group-'));
    db = new Database(join(dir, 'g.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE t (k TEXT PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)');
    db.exec('INSERT INTO parent (id) VALUES (1)');
    observer = new Database(join(dir, 'g.db'), { readonly: true });
    group = new GroupCommit(db);
  });

  afterEach(() => {
    observer.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const committed = (): string[] => (observer.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k);
  const insert =
    (k: string, parent = 1) =>
    () =>
      db.prepare('INSERT INTO t (k, parent) VALUES (?, ?)').run(k, parent).changes;

  it('requests made together commit in one transaction, and each is answered with its own result', async () => {
    const answers = await Promise.all(['a', 'b', 'c', 'd'].map((k) => group.run(insert(k))));
    expect(answers).toEqual([1, 1, 1, 1]);
    expect(group.counts).toEqual({ batches: 1, requests: 4 });
    expect(committed()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('lazy work rides with the next requests, and alone is still committed (and only then answered)', async () => {
    let lazyAnswered = false;
    const lazy = group.run(insert('audit-1'), { lazy: true }).then((r) => {
      lazyAnswered = true;
      return r;
    });
    await new Promise((r) => setImmediate(r));
    expect(group.counts.batches).toBe(0); // it did not start a transaction of its own
    expect(lazyAnswered).toBe(false);
    await Promise.all([group.run(insert('x')), lazy]);
    expect(group.counts).toEqual({ batches: 1, requests: 2 });
    // Alone, it waits a few milliseconds for company, then commits before it is answered.
    const alone = await group.run(
      () => {
        insert('audit-2')();
        return committed().includes('audit-2');
      },
      { lazy: true },
    );
    expect(alone).toBe(false); // not visible to the observer inside the transaction ...
    expect(committed()).toEqual(['audit-1', 'audit-2', 'x']); // ... but committed when answered
    expect(group.counts).toEqual({ batches: 2, requests: 3 });
  });

  it('a request that fails is undone alone; the others of its group are committed and answered', async () => {
    const results = await Promise.allSettled([
      group.run(insert('a')),
      group.run(() => {
        insert('b')();
        throw new Error('refused after writing');
      }),
      group.run(insert('a')), // duplicate key: fails on its own
      group.run(insert('c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('refused after writing');
    expect(group.counts.batches).toBe(1);
    expect(committed()).toEqual(['a', 'c']);
  });

  it('when the COMMIT fails, no request of the group is answered with success', async () => {
    // Each write is fine on its own; the deferred foreign key is checked at COMMIT, which fails.
    const results = await Promise.allSettled([group.run(insert('a')), group.run(insert('orphan', 99)), group.run(insert('c'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason.code)).toMatch(/SQLITE_CONSTRAINT/);
    expect(committed()).toEqual([]);
    expect(db.inTransaction).toBe(false);
    // The connection is usable afterwards.
    await group.run(insert('later'));
    expect(committed()).toEqual(['later']);
  });

  it('an answer is settled only after the commit: every resolved write is already visible to another connection', async () => {
    const seen: boolean[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        group.run(insert(`k${n}`)).then(() => {
          seen.push(committed().includes(`k${n}`));
        }),
      ),
    );
    expect(seen).toEqual(Array(20).fill(true));
  });

  describe('with the WAL flushed off the event loop', () => {
    /** A WAL flush the test completes by hand. */
    const manualFlush = () => {
      const waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
      return { waiting, wal: { sync: () => new Promise<void>((resolve, reject) => waiting.push({ resolve, reject })) } };
    };
    const turn = () => new Promise((r) => setImmediate(r));
    const synchronous = () => db.pragma('synchronous', { simple: true });

    it('commits the batch with synchronous=NORMAL, answers only after the flush, and leaves the connection at FULL', async () => {
      const f = manualFlush();
      group = new GroupCommit(db, f.wal);
      let answered = 0;
      const during: unknown[] = [];
      const writes = ['a', 'b'].map((k) =>
        group
          .run(() => {
            during.push(synchronous());
            return insert(k)();
          })
          .then(() => answered++),
      );
      await turn();
      await turn();
      expect(committed()).toEqual(['a', 'b']); // committed...
      expect(answered).toBe(0); // ...but not answered before the WAL is on disk
      expect(during).toEqual([1, 1]);
      expect(synchronous()).toBe(2);
      f.waiting[0]!.resolve();
      await Promise.all(writes);
      expect(answered).toBe(2);
    });

    it('runs the next batch while the previous one flushes, and a failed flush acknowledges none of its batch', async () => {
      const f = manualFlush();
      group = new GroupCommit(db, f.wal);
      const first = Promise.allSettled([group.run(insert('a')), group.run(insert('b'))]);
      await turn();
      const second = group.run(insert('c'));
      await turn();
      expect(group.counts.batches).toBe(2);
      expect(f.waiting).toHaveLength(2);
      f.waiting[1]!.resolve();
      await expect(second).resolves.toBe(1);
      const broken = new Error('EIO: fdatasync failed');
      f.waiting[0]!.reject(broken);
      expect((await first).map((r) => (r.status === 'rejected' ? r.reason : r.value))).toEqual([broken, broken]);
    });

    it('drain waits for every flush, so closing answers everything first', async () => {
      const f = manualFlush();
      group = new GroupCommit(db, f.wal);
      let answered = false;
      void group.run(insert('a')).then(() => (answered = true));
      const drained = group.drain();
      await turn();
      expect(answered).toBe(false);
      f.waiting[0]!.resolve();
      await drained;
      expect(answered).toBe(true);
    });

    it("WalSync flushes the database's own WAL file, also after a checkpoint truncated it", async () => {
      const wal = new WalSync(join(dir, 'g.db-wal'));
      group = new GroupCommit(db, wal);
      await group.run(insert('a'));
      expect(committed()).toEqual(['a']);
      db.pragma('wal_checkpoint(TRUNCATE)');
      await group.run(insert('b'));
      expect(committed()).toEqual(['a', 'b']);
      // A WAL that is gone (the store closed under it) fails the flush: the write is not acknowledged.
      const missing = new WalSync(join(dir, 'nothing.db-wal'));
      await expect(new GroupCommit(db, missing).run(insert('c'))).rejects.toThrow(/ENOENT/);
      wal.close();
    });
  });

  it('through the store: concurrent instance writes share commits; an unknown id fails alone', async () => {
    const store = SqliteStore.open(join(dir, 'store.db'));
    try {
      const made = await Promise.all(Array.from({ length: 6 }, () => createIn(store)));
      const before = store.group.counts.batches;
      const results = await Promise.allSettled([
        ...made.map((m) => store.mutateInstance(m.id, (cur) => ({ transition: { instance: { ...cur, title: 'changed' }, history: [note('x')], effects: [] }, result: m.id }))),
        store.mutateInstance('no-such-instance', () => ({ transition: null, result: null })),
      ]);
      expect(results.slice(0, 6).every((r) => r.status === 'fulfilled')).toBe(true);
      expect(results[6]!.status).toBe('rejected');
      expect(store.group.counts.batches - before).toBe(1);
      for (const m of made) expect((await store.getInstance(m.id))!.title).toBe('changed');
    } finally {
      await store.close();
    }
  });
});
