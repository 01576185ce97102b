import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { inTransaction, quoteIdent, type Row } from './pg-db.ts';

export const PG_MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export const migrationFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();

/**
 * Creates the schema if needed and applies pending migrations, all in one transaction under a
 * transaction-scoped advisory lock: nodes starting together queue on the lock, and each one
 * after the first finds every migration already recorded. As in SQLite, the schema_migrations row
 * goes in before the migration's statements.
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`countersign:migrate:${schema}`]);
    // Under the lock: CREATE SCHEMA IF NOT EXISTS itself races (unique violation) when run concurrently.
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await c.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL)');
    const applied = new Set((await c.query('SELECT name FROM schema_migrations')).rows.map((r: Row) => r.name as string));
    for (const file of migrationFiles(PG_MIGRATIONS)) {
      if (applied.has(file)) continue;
      await c.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, now())', [file]);
      // No parameters: the simple protocol, which runs a file of several statements.
      await c.query(readFileSync(join(PG_MIGRATIONS, file), 'utf8'));
    }
  });
}
