import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrationFiles, PG_MIGRATIONS } from '../../src/store/postgres/pg-migrate.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { connectTo, dropTestDatabase, testDatabaseUrl } from '../support/database.ts';

const SQLITE_MIGRATIONS = join(import.meta.dirname, '../../src/store/sqlite/migrations');

describe('migrations', () => {
  it('SQLite and PostgreSQL have the same migration files, numbered without gaps', () => {
    const sqlite = migrationFiles(SQLITE_MIGRATIONS);
    const postgres = migrationFiles(PG_MIGRATIONS);
    expect(postgres).toEqual(sqlite);
    expect(sqlite.map((f) => Number(f.slice(0, 4)))).toEqual(sqlite.map((_, i) => i + 1));
  });

  it('both stores create the same tables', async () => {
    const url = await testDatabaseUrl();
    const store = await PostgresStore.open(url);
    const c = await connectTo(url);
    try {
      const tables = (await c.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`)).rows.map((r) => r.table_name);
      const db = new Database(':memory:');
      for (const f of migrationFiles(SQLITE_MIGRATIONS)) db.exec(readFileSync(join(SQLITE_MIGRATIONS, f), 'utf8'));
      const sqliteTables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`).all() as { name: string }[]).map(
        (r) => r.name,
      );
      db.close();
      // SQLite's FTS5 text index (instances_text and its shadow tables) is PostgreSQL's pg_trgm indexes.
      expect(tables.filter((t) => t !== 'schema_migrations')).toEqual(sqliteTables.filter((t) => !/^instances_text(_|$)/.test(t)));
    } finally {
      await c.end();
      await store.close();
      await dropTestDatabase(url);
    }
  });

  it('several nodes opening a fresh schema at once migrate it exactly once', async () => {
    const url = await testDatabaseUrl();
    await dropTestDatabase(url); // the stores must create the schema themselves
    const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresStore.open(url, { poolSize: 2 })));
    const c = await connectTo(url);
    try {
      const applied = (await c.query('SELECT name FROM schema_migrations ORDER BY name')).rows.map((r) => r.name);
      expect(applied).toEqual(migrationFiles(PG_MIGRATIONS));
      // Reopening finds nothing to do.
      const again = await PostgresStore.open(url);
      await again.close();
    } finally {
      await c.end();
      await Promise.all(stores.map((s) => s.close()));
      await dropTestDatabase(url);
    }
  });
});
