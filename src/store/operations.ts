import type Database from 'better-sqlite3';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

/*
 * Read-only operational queries shared by the health checks, /metrics and the operator's command
 * line. Each store class delegates to these in one line, so they stay out of the hot paths.
 */

export interface StoreStats {
  /** Instances per status code (one grouped query). */
  instancesByStatus: Record<number, number>;
  jobs: {
    /** Waiting to be claimed (due now or later, no live lease). */
    queued: number;
    /** Claimed under a live lease. */
    running: number;
    /** Failed at least once and waiting for a retry. */
    retrying: number;
    /** How long the oldest due, unclaimed job has waited (ms); 0 when none. */
    lagMs: number;
  };
  /** The commit durability in force on the store's own connection(s), read back from the database. */
  durability?: DurabilityState;
  /** Connection pool usage, where the store has a pool (PostgreSQL). */
  pool?: { total: number; idle: number; waiting: number; max: number };
}

/**
 * COUNTERSIGN_DURABILITY: `full` (default) answers a write only once it is on disk (SQLite
 * synchronous=FULL, PostgreSQL synchronous_commit=on); `relaxed` trades that for speed (NORMAL /
 * off): a power loss or OS crash can lose the last acknowledged writes (docs/operations.md).
 */
export type Durability = 'full' | 'relaxed';

export interface DurabilityState {
  /** The setting as the database reports it, e.g. `synchronous=FULL` or `synchronous_commit=on`. */
  setting: string;
  /** Whether an acknowledged commit survives power loss. */
  durable: boolean;
}

export interface MigrationState {
  name: string;
  /** ISO time it was applied; null when pending. */
  appliedAt: string | null;
}

const here = dirname(fileURLToPath(import.meta.url));
export const MIGRATION_DIRS = { sqlite: join(here, 'sqlite', 'migrations'), postgres: join(here, 'postgres', 'migrations') };

const filesIn = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();

function merge(files: string[], applied: { name: string; applied_at: unknown }[]): MigrationState[] {
  const at = new Map(applied.map((r) => [r.name, r.applied_at instanceof Date ? r.applied_at.toISOString() : String(r.applied_at)]));
  // Names recorded but no longer shipped (a downgrade) are listed too: the operator should see them.
  const names = [...new Set([...files, ...at.keys()])].sort();
  return names.map((name) => ({ name, appliedAt: at.get(name) ?? null }));
}

// SQLite --------------------------------------------------------------------------------------------

export function sqliteMigrationStatus(db: Database.Database): MigrationState[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  const applied = exists ? (db.prepare('SELECT name, applied_at FROM schema_migrations').all() as { name: string; applied_at: string }[]) : [];
  return merge(filesIn(MIGRATION_DIRS.sqlite), applied);
}

const SYNCHRONOUS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

export function sqliteDurability(db: Database.Database): DurabilityState {
  const level = db.pragma('synchronous', { simple: true }) as number;
  return { setting: `synchronous=${SYNCHRONOUS[level] ?? level}`, durable: level >= 2 };
}

/** The /metrics counts on SQLite: two queries, run where the store says (off its event loop when it can). */
export const SQLITE_STATS_SQL = {
  byStatus: 'SELECT status, COUNT(*) AS n FROM instances GROUP BY status',
  jobs: `SELECT COALESCE(SUM(CASE WHEN locked_until > @now THEN 1 ELSE 0 END), 0) AS running,
              COALESCE(SUM(CASE WHEN locked_until IS NULL OR locked_until <= @now THEN 1 ELSE 0 END), 0) AS queued,
              COALESCE(SUM(CASE WHEN last_error IS NOT NULL AND (locked_until IS NULL OR locked_until <= @now) THEN 1 ELSE 0 END), 0) AS retrying,
              MIN(CASE WHEN (locked_until IS NULL OR locked_until <= @now) AND run_at <= @now THEN run_at END) AS oldest
         FROM jobs`,
};

type JobsRow = { running: number; queued: number; retrying: number; oldest: string | null };

/** `all(sql, params)` runs a read; `params` is one object of named parameters (or none). */
export async function sqliteStats(all: (sql: string, params: unknown[]) => unknown[] | Promise<unknown[]>): Promise<StoreStats> {
  const now = new Date().toISOString();
  const byStatus = (await all(SQLITE_STATS_SQL.byStatus, [])) as { status: number; n: number }[];
  const j = ((await all(SQLITE_STATS_SQL.jobs, [{ now }])) as JobsRow[])[0]!;
  return {
    instancesByStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
    jobs: { queued: j.queued, running: j.running, retrying: j.retrying, lagMs: j.oldest ? Math.max(0, Date.now() - new Date(j.oldest).getTime()) : 0 },
  };
}

// PostgreSQL ------------------------------------------------------------------------------------------

type Queryable = Pick<pg.ClientBase, 'query'>;

export async function pgMigrationStatus(db: Queryable, schema: string): Promise<MigrationState[]> {
  const exists = await db.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2', [schema, 'schema_migrations']);
  const applied = exists.rowCount ? (await db.query(`SELECT name, applied_at FROM "${schema.replace(/"/g, '""')}".schema_migrations`)).rows : [];
  return merge(filesIn(MIGRATION_DIRS.postgres), applied);
}

export async function pgStats(pool: pg.Pool): Promise<StoreStats> {
  const [byStatus, jobs, sync] = await Promise.all([
    pool.query('SELECT status, COUNT(*)::int AS n FROM instances GROUP BY status'),
    pool.query(
      `SELECT COUNT(*) FILTER (WHERE locked_until > now())::int AS running,
              COUNT(*) FILTER (WHERE locked_until IS NULL OR locked_until <= now())::int AS queued,
              COUNT(*) FILTER (WHERE last_error IS NOT NULL AND (locked_until IS NULL OR locked_until <= now()))::int AS retrying,
              COALESCE(EXTRACT(EPOCH FROM now() - MIN(run_at) FILTER (WHERE (locked_until IS NULL OR locked_until <= now()) AND run_at <= now())) * 1000, 0)::float8 AS lag_ms
         FROM jobs`,
    ),
    pool.query('SHOW synchronous_commit'),
  ]);
  const syncCommit = String(sync.rows[0].synchronous_commit);
  const j = jobs.rows[0];
  return {
    instancesByStatus: Object.fromEntries(byStatus.rows.map((r: { status: number; n: number }) => [r.status, r.n])),
    jobs: { queued: j.queued, running: j.running, retrying: j.retrying, lagMs: Math.max(0, Math.round(j.lag_ms)) },
    // local, remote_write, remote_apply and on all wait for the local WAL flush; only off does not.
    durability: { setting: `synchronous_commit=${syncCommit}`, durable: syncCommit !== 'off' },
    pool: { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 },
  };
}

/** Migration state of the database DATABASE_URL names, without opening the store (which would migrate). */
export async function migrationStatusAt(url: string): Promise<MigrationState[]> {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    const { parseUrl } = await import('./postgres/pg-db.ts');
    const { default: pgDriver } = await import('pg');
    const { connectionString, schema } = parseUrl(url);
    const client = new pgDriver.Client({ connectionString, application_name: 'countersign-cli' });
    await client.connect();
    try {
      return await pgMigrationStatus(client, schema);
    } finally {
      await client.end();
    }
  }
  const file = url.replace(/^sqlite:(\/\/)?/i, '');
  const { default: SqliteDatabase } = await import('better-sqlite3');
  if (file === ':memory:' || !existsSync(file)) return sqliteMigrationStatus(new SqliteDatabase(':memory:'));
  const db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  try {
    return sqliteMigrationStatus(db);
  } finally {
    db.close();
  }
}
