/*
 * Timing breakdown for the server child (BENCH_BREAKDOWN=1): wraps a few prototypes, in the
 * bench process only, so no source file changes. Records the synchronous time spent in
 *  - every better-sqlite3 statement, keyed by its SQL (BEGIN/COMMIT included, since
 *    transactions run prepared statements), split by whether a transaction is open;
 *  - SqliteStore.mutateInstance and getInstance (their work is synchronous: the whole
 *    transaction, JSON mapping and the engine's applySignal);
 *  - BasicAuthenticator.authenticate up to its first await (the cached-credential path).
 * The wrapping itself costs a little (two performance.now() calls per wrapped call).
 */
import Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { BasicAuthenticator } from '../src/security/basic-authenticator.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';

export type Breakdown = Record<string, { count: number; ms: number }>;

const totals: Breakdown = {};
const add = (key: string, ms: number) => {
  const t = totals[key] ?? { count: 0, ms: 0 };
  totals[key] = t;
  t.count++;
  t.ms += ms;
};

const label = (sql: string): string => {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 70 ? `${s.slice(0, 67)}...` : s;
};

function wrapMethod(proto: any, name: string, key: (self: any, args: unknown[]) => string): void {
  const orig = proto[name] as (...a: unknown[]) => unknown;
  proto[name] = function (this: any, ...args: unknown[]) {
    const k = key(this, args);
    const t0 = performance.now();
    try {
      return orig.apply(this, args);
    } finally {
      add(k, performance.now() - t0);
    }
  };
}

export function instrument(): void {
  const probe = new Database(':memory:');
  const statementProto = Object.getPrototypeOf(probe.prepare('SELECT 1'));
  probe.close();
  for (const m of ['run', 'get', 'all']) {
    wrapMethod(statementProto, m, (self) => `sql ${m}${self.database?.inTransaction ? ' (in txn)' : ''}: ${label(self.source as string)}`);
  }
  // Async methods: the time until they return their promise is their synchronous work.
  wrapMethod(SqliteStore.prototype, 'mutateInstance', () => 'store.mutateInstance (whole IMMEDIATE txn + applySignal)');
  wrapMethod(SqliteStore.prototype, 'getInstance', () => 'store.getInstance (read before the txn)');
  wrapMethod(BasicAuthenticator.prototype, 'authenticate', () => 'auth.authenticate (sync part)');
}

export function breakdown(): Breakdown {
  return JSON.parse(JSON.stringify(totals)) as Breakdown;
}
