import { fail } from '../domain/errors.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Durability } from './operations.ts';
import type { Store } from './store.ts';

/** Where a store reports trouble it recovers from (a pino logger fits). */
export interface StoreLog {
  warn(fields: { err?: unknown }, msg: string): void;
}

/**
 * DATABASE_URL selects the store: `sqlite:<path>` (or a bare path, or `:memory:`) for the
 * embedded store; `postgres://...` for PostgreSQL.
 */
export async function openStore(url: string, log?: StoreLog, opts: { durability?: Durability } = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // Loaded on demand so the embedded default never loads the pg driver.
    const modulePath = './postgres/postgres-store.ts';
    const mod = (await import(modulePath).catch(() => null)) as {
      PostgresStore: { open(url: string, opts?: { log?: (msg: string, err?: unknown) => void; durability?: Durability }): Promise<Store> };
    } | null;
    if (!mod) return fail('Internal', 'This build has no PostgreSQL store.');
    return mod.PostgresStore.open(url, { ...(log ? { log: (msg: string, err?: unknown) => log.warn({ err }, msg) } : {}), durability: opts.durability });
  }
  const path = url.replace(/^sqlite:(\/\/)?/i, '');
  return SqliteStore.open(path, { durability: opts.durability });
}
