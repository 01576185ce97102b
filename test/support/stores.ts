import { afterEach, beforeEach, describe, onTestFinished } from 'vitest';
import { CountersignError } from '../../src/domain/errors.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Identity, NewRole, Store } from '../../src/store/store.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from './database.ts';

/* Store-level test helpers shared by the contract suites: both stores, fresh for every case. */

export const STORE_KINDS = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/**
 * Declares `body` once per store, in a describe named `${title}: <kind>`; `store()` is a fresh
 * store (SQLite in memory, PostgreSQL in a new database) for every case.
 */
export function forEachStore(title: string, body: (store: () => Store, kind: StoreKind) => void): void {
  for (const kind of STORE_KINDS) {
    describe(`${title}: ${kind}`, () => {
      let current: Store;
      let url: string | null = null;
      beforeEach(async () => {
        if (kind === 'sqlite') current = SqliteStore.open(':memory:');
        else {
          url = await testDatabaseUrl();
          current = await PostgresStore.open(url, { poolSize: 10 });
        }
      });
      afterEach(async () => {
        await current.close();
        if (url) await dropTestDatabase(url);
        url = null;
      });
      body(() => current, kind);
    });
  }
}

/**
 * A fresh store for the running test, of the kind COUNTERSIGN_TEST_STORE selects (as
 * startTestApp does); closed, and its PostgreSQL database dropped, when the test finishes.
 */
export async function openTestStore(): Promise<Store> {
  if (!usePostgres()) {
    const store = SqliteStore.open(':memory:');
    onTestFinished(() => store.close());
    return store;
  }
  const url = await testDatabaseUrl();
  const store = await PostgresStore.open(url, { poolSize: 4 });
  onTestFinished(async () => {
    await store.close();
    await dropTestDatabase(url);
  });
  return store;
}

/** The CountersignError `p` rejects with (anything else fails the test). */
export async function errorOf(p: Promise<unknown>): Promise<CountersignError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CountersignError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

export const newUser = (accountName: string, over: Partial<Omit<Identity, 'id'>> = {}): Omit<Identity, 'id'> => ({
  accountName,
  identityType: 'User',
  sid: null,
  email: null,
  passwordHash: null,
  createdAt: '2025-01-01T00:00:00.000Z',
  ...over,
});

export const newRole = (name: string, over: Partial<NewRole> = {}): NewRole => ({
  name,
  description: `${name} role`,
  email: null,
  enabled: true,
  private: false,
  immutable: false,
  permissions: ['/workflows/instances/read/'],
  permissionSetId: GLOBAL_PERMISSION_SET_ID,
  identityIds: [],
  claims: [],
  ...over,
});
