import pg from 'pg';
import { CountersignError, fail } from '../../domain/errors.ts';
import type { BoundAst } from '../../domain/query/index.ts';
import { compileSql } from '../query-sql.ts';

/*
 * Connection plumbing shared by the PostgreSQL store: the pool, row type parsing, transactions
 * with retry, and the error classes callers care about.
 */

export type Row = Record<string, any>;

/** Anything that runs a query: the pool (one statement, autocommit) or a client inside BEGIN. */
export type Q = { query: pg.PoolClient['query'] };

export interface PoolOptions {
  schema?: string;
  poolSize?: number;
  statementTimeoutMs?: number;
  /** How long a request waits for a free connection before failing (not forever: see docs/operations.md). */
  connectTimeoutMs?: number;
  log?: (msg: string, err?: unknown) => void;
  /** synchronous_commit on (full, the default) or off (relaxed): see Durability in operations.ts. */
  durability?: 'full' | 'relaxed';
}

/** The reconciler holds one connection (its advisory lock) while its sweep uses another. */
const MIN_POOL = 2;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface ParsedUrl {
  connectionString: string;
  schema: string;
  poolSize?: number;
  statementTimeoutMs?: number;
}

/**
 * Takes Countersign's own parameters off the URL (pg would pass unknown ones on to the server):
 * `schema`, `pool_size` and `statement_timeout_ms`, so that DATABASE_URL alone configures a node.
 */
export function parseUrl(url: string, schemaOpt?: string): ParsedUrl {
  // Only the query string is parsed here: `new URL` refuses forms pg accepts, such as a Unix
  // socket with an empty host (postgres://user@/db?host=/var/run/postgresql).
  const q = url.indexOf('?');
  const base = q < 0 ? url : url.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const schema = (schemaOpt ?? params.get('schema') ?? 'public').toLowerCase();
  if (!SCHEMA_NAME.test(schema)) throw new Error(`The schema name '${schema}' must be lower-case letters, digits and underscores.`);
  const poolSize = intParam(params, 'pool_size', MIN_POOL, 1000);
  const statementTimeoutMs = intParam(params, 'statement_timeout_ms', 0, 3_600_000);
  for (const p of ['schema', 'pool_size', 'statement_timeout_ms']) params.delete(p);
  const rest = params.toString();
  return { connectionString: rest ? `${base}?${rest}` : base, schema, poolSize, statementTimeoutMs };
}

function intParam(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`DATABASE_URL parameter ${name} must be a whole number from ${min} to ${max}; it is '${raw}'.`);
  return n;
}

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/*
 * Row values arrive in the shapes the domain uses: bigint ids as numbers (they stay far below
 * 2^53), timestamptz as ISO-8601 text like the SQLite store keeps it. jsonb is parsed by pg.
 */
const parseTimestamp = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ);
const OVERRIDES: Record<number, (v: string) => unknown> = {
  [pg.types.builtins.INT8]: (v) => Number(v),
  [pg.types.builtins.NUMERIC]: (v) => Number(v),
  [pg.types.builtins.TIMESTAMPTZ]: (v) => (parseTimestamp(v) as Date).toISOString(),
};
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    (format ?? 'text') === 'text' && OVERRIDES[oid] ? OVERRIDES[oid] : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export function createPool(connectionString: string, schema: string, o: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: Math.max(MIN_POOL, o.poolSize ?? 10),
    application_name: 'countersign',
    statement_timeout: o.statementTimeoutMs ?? 10_000,
    // A node that hangs inside a transaction must not hold instance row locks for long.
    idle_in_transaction_session_timeout: Math.max(60_000, (o.statementTimeoutMs ?? 10_000) * 6),
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5_000,
    // Notices a dead server (failover) on idle connections instead of waiting for TCP to give up.
    keepAlive: true,
    // The schema per connection, set in the startup packet rather than by a SET on the pool's
    // 'connect' event: no extra round trip, no moment where a query could run without it, and
    // no query queued behind another (which pg 8 deprecates). The name is checked by parseUrl.
    // synchronous_commit set here too, explicitly: a server or role default of off would otherwise
    // acknowledge commits that a crash can lose.
    options: `-c search_path=${schema} -c synchronous_commit=${(o.durability ?? 'full') === 'full' ? 'on' : 'off'}`,
    types,
  });
  // An idle connection dying (server restart, failover) must not crash the process: pg emits
  // 'error' on the pool, and an EventEmitter 'error' without a listener throws.
  pool.on('error', (err) => o.log?.('postgres: an idle connection failed; the pool replaces it', err));
  // Single statements on the pool get the same error mapping as transactions (inTransaction).
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  pool.query = ((...args: unknown[]) =>
    query(...args).catch((e: unknown) => {
      throw clientError(e);
    })) as typeof pool.query;
  return pool;
}

// Errors ------------------------------------------------------------------------------------------

export const sqlState = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

export const isUniqueViolation = (e: unknown): boolean => sqlState(e) === '23505';

/**
 * PostgreSQL refuses U+0000 in text and jsonb (SQLSTATE 22021, 22P05), which SQLite stores. It
 * comes from the client (a title, a key, a user name), so it is answered as a bad request, not as
 * a server error.
 */
export function clientError(e: unknown): unknown {
  const state = sqlState(e);
  if (state === '22021' || state === '22P05') return new CountersignError('ValidationFailed', 'Text must not contain the NUL character (U+0000).');
  return e;
}

/** Serialization failure and deadlock: the whole transaction may simply run again. */
export const isRetryable = (e: unknown): boolean => sqlState(e) === '40001' || sqlState(e) === '40P01';

/**
 * Runs a filtered list query. The query binder accepts any ISO date JavaScript can represent,
 * but timestamptz starts at year 1: a QueryString date before that is the client's mistake (400),
 * not a server error.
 */
export async function listQuery(pool: pg.Pool, sql: string, params: unknown[]): Promise<Row[]> {
  try {
    return (await pool.query(sql, params)).rows;
  } catch (e) {
    if (sqlState(e) === '22008') fail('InvalidQuery', 'A date in the QueryString is outside the range the database can store (years 1 to 294276).');
    throw e;
  }
}

// Transactions ------------------------------------------------------------------------------------

const MAX_ATTEMPTS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs fn inside BEGIN ... COMMIT on one pooled connection; ROLLBACK and rethrow on any throw.
 * A serialization failure or deadlock runs the whole thing again (fn must be repeatable: it is,
 * as every fn here reads what it needs inside the transaction), with jittered backoff so the
 * transactions that collided do not collide again.
 */
export async function inTransaction<R>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<R>, opts: TxOptions = {}): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(pool, fn, opts);
    } catch (e) {
      if (!isRetryable(e) || attempt >= MAX_ATTEMPTS) throw clientError(e);
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
  }
}

export interface TxOptions {
  /** fn's first statement begins the transaction itself (saves a round trip; see lockRow). */
  selfBegin?: boolean;
}

async function once<R>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<R>, opts: TxOptions): Promise<R> {
  const c = await pool.connect();
  let broken: Error | undefined;
  // A checked-out connection that dies between two queries emits 'error' on the client: without a
  // listener that is an uncaught exception (the process would crash on a database failover).
  const onError = (err: Error) => (broken = err);
  c.on('error', onError);
  try {
    if (!opts.selfBegin) await c.query('BEGIN');
    const result = await fn(c);
    await c.query('COMMIT');
    return result;
  } catch (e) {
    // A connection that cannot even roll back is dropped, not handed to the next caller.
    await c.query('ROLLBACK').catch((err: Error) => (broken = err));
    throw e;
  } finally {
    c.off('error', onError);
    c.release(broken);
  }
}

/**
 * BEGIN and `SELECT ... FOR UPDATE` of one row by id in a single round trip (for inTransaction's
 * selfBegin). Two statements need the simple query protocol, which takes no parameters, so the
 * id travels as a quoted literal (escapeLiteral doubles quotes and backslashes).
 */
export async function beginAndLock(c: pg.PoolClient, table: string, columns: string, id: string): Promise<Row | undefined> {
  const results = (await c.query(`BEGIN; SELECT ${columns} FROM ${table} WHERE id = ${c.escapeLiteral(id)} FOR UPDATE`)) as unknown as pg.QueryResult[];
  return results[1]!.rows[0];
}

/** `($1,$2,$3),($4,$5,$6)` for a multi-row INSERT, with optional casts per column. */
export function valuesList(rows: number, casts: string[], first = 1): string {
  const out: string[] = [];
  let n = first;
  for (let r = 0; r < rows; r++) out.push(`(${casts.map((c) => `$${n++}${c ? `::${c}` : ''}`).join(', ')})`);
  return out.join(', ');
}

/**
 * A WHERE clause list that starts with a compiled QueryString; `bind` adds a parameter and
 * returns its placeholder (with an optional cast), so callers append clauses, LIMIT and OFFSET.
 */
export function filtered(filter: BoundAst | null): { clauses: string[]; params: unknown[]; bind: (value: unknown, cast?: string) => string } {
  const where = compileSql(filter, 'postgres', 1);
  const params: unknown[] = [...where.params];
  const bind = (value: unknown, cast = ''): string => {
    params.push(value);
    return `$${params.length}${cast}`;
  };
  return { clauses: [where.sql], params, bind };
}
