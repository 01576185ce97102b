import { randomBytes } from 'node:crypto';
import pg from 'pg';

/*
 * Test isolation for PostgreSQL: every test app (and every store contract case) gets its own
 * schema in database `test`, so parallel workers and repeated runs never see each other's rows.
 */

export const TEST_DATABASE = process.env.COUNTERSIGN_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Whether the test run asked for PostgreSQL (COUNTERSIGN_TEST_STORE=postgres). */
export const usePostgres = (): boolean => process.env.COUNTERSIGN_TEST_STORE === 'postgres';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_DATABASE, application_name: 'countersign-test' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates a fresh schema `cs_<random>` and returns a DATABASE_URL that selects it. */
export async function testDatabaseUrl(): Promise<string> {
  const schema = `cs_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  const url = new URL(TEST_DATABASE);
  url.searchParams.set('schema', schema);
  return url.toString();
}

export const schemaOf = (url: string): string => new URL(url).searchParams.get('schema') ?? 'public';

/** Drops the schema testDatabaseUrl created (after every connection to it has closed). */
export async function dropTestDatabase(url: string): Promise<void> {
  const schema = schemaOf(url);
  if (!/^cs_[0-9a-f]+$/.test(schema)) throw new Error(`Refusing to drop schema '${schema}': not a test schema.`);
  await admin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

/** A client on the test database with search_path set to the URL's schema, for checks behind the engine's back. */
export async function connectTo(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: TEST_DATABASE, application_name: 'countersign-test' });
  await c.connect();
  await c.query(`SET search_path TO ${schemaOf(url)}`);
  return c;
}
