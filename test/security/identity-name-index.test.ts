import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTo, dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/*
 * A log-in with a bare name must find DOMAIN\name through the name_part index, never by reading
 * identities: with 20,000 of them, the look-up's plan is an index search (both stores).
 */

const COUNT = 20_000;

describe('bare-name look-up with 20,000 identities', () => {
  let app: TestApp;
  let plan: (sql: string, params: unknown[]) => Promise<string>;
  let close: () => Promise<void> = async () => {};

  let dbUrl: string;
  const dir = mkdtempSync(join(tmpdir(), 'countersign-index-'));

  beforeAll(async () => {
    dbUrl = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(dir, 'index.db')}`;
    app = await startTestApp({ databaseUrl: dbUrl });
    const store = app.server.services.store;
    // Two through the store (which must fill name_part), the rest in bulk.
    await store.createIdentity({ accountName: 'CORP\\Needle', identityType: 'User', sid: null, email: null, passwordHash: null, createdAt: new Date().toISOString() });
    await store.createIdentity({ accountName: 'plain', identityType: 'User', sid: null, email: null, passwordHash: null, createdAt: new Date().toISOString() });
    if (usePostgres()) {
      const c = await connectTo(dbUrl);
      await c.query(
        `INSERT INTO identities (account_name, identity_type, created_at, name_part)
         SELECT 'D' || (g % 50) || '\\user' || g, 'User', now(), lower('user' || g) FROM generate_series(1, $1) g`,
        [COUNT],
      );
      await c.query('ANALYZE identities');
      plan = async (sql, params) => {
        await c.query('SET enable_seqscan = off');
        const rows = (await c.query(`EXPLAIN ${sql}`, params)).rows as { 'QUERY PLAN': string }[];
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      };
      close = () => c.end();
    } else {
      const db = new Database(dbUrl.replace(/^sqlite:/, ''));
      const ins = db.prepare(`INSERT INTO identities (account_name, identity_type, created_at, name_part) VALUES (?, 'User', ?, lower(?))`);
      db.transaction(() => {
        for (let g = 1; g <= COUNT; g++) ins.run(`D${g % 50}\\user${g}`, new Date().toISOString(), `user${g}`);
      })();
      plan = async (sql, params) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('\n');
      close = async () => {
        db.close();
      };
    }
  }, 120_000);

  afterAll(async () => {
    await close();
    await app.close();
    if (usePostgres()) await dropTestDatabase(dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the one DOMAIN\\name (any case) and only identities with a domain', async () => {
    const store = app.server.services.store;
    expect((await store.findIdentitiesByNamePart('needle', 2)).map((i) => i.accountName)).toEqual(['CORP\\Needle']);
    expect((await store.findIdentitiesByNamePart('USER777', 2)).map((i) => i.accountName)).toEqual(['D27\\user777']);
    expect(await store.findIdentitiesByNamePart('plain', 2)).toEqual([]);
    expect(await store.findIdentitiesByNamePart('nobody', 2)).toEqual([]);
  });

  it("uses the name_part index (the store's query, explained)", async () => {
    const p = usePostgres()
      ? await plan('SELECT * FROM identities WHERE name_part = lower($1) ORDER BY id LIMIT $2', ['needle', 2])
      : await plan('SELECT * FROM identities WHERE name_part = lower(?) ORDER BY id LIMIT ?', ['needle', 2]);
    expect(p).toMatch(/identities_name_part/);
    if (!usePostgres()) expect(p).toMatch(/SEARCH identities USING INDEX identities_name_part \(name_part=\?\)/);
    expect(p).not.toMatch(/SCAN identities\b(?! USING)|Seq Scan/);
  });
});
