import { describe, expect, it } from 'vitest';
import { parseUrl } from '../../src/store/postgres/pg-db.ts';
import { isStoreUnavailable } from '../../src/store/postgres/pg-errors.ts';

describe('DATABASE_URL for PostgreSQL', () => {
  it('takes schema, pool_size and statement_timeout_ms off the URL and leaves the rest to pg', () => {
    const p = parseUrl('postgres://app:secret@db.example:5433/cs?sslmode=require&schema=Tenant_1&pool_size=20&statement_timeout_ms=5000');
    expect(p).toEqual({ connectionString: 'postgres://app:secret@db.example:5433/cs?sslmode=require', schema: 'tenant_1', poolSize: 20, statementTimeoutMs: 5000 });
    expect(parseUrl('postgresql://localhost/cs')).toMatchObject({ schema: 'public', poolSize: undefined, statementTimeoutMs: undefined });
    expect(parseUrl('postgres://localhost/cs?schema=a', 'b').schema).toBe('b');
    // A Unix socket: an empty host, which WHATWG URL parsing would refuse.
    expect(parseUrl('postgres://app@/cs?host=/var/run/postgresql&schema=x')).toMatchObject({ connectionString: 'postgres://app@/cs?host=%2Fvar%2Frun%2Fpostgresql', schema: 'x' });
  });

  it('refuses a schema name that would need quoting, and bad numbers', () => {
    expect(() => parseUrl('postgres://localhost/cs?schema=a;drop')).toThrow(/schema name/);
    expect(() => parseUrl('postgres://localhost/cs?pool_size=1')).toThrow(/pool_size must be a whole number from 2/);
    expect(() => parseUrl('postgres://localhost/cs?statement_timeout_ms=soon')).toThrow(/statement_timeout_ms/);
  });

  it('tells database unavailability from other errors', () => {
    const sql = (code: string) => Object.assign(new Error('x'), { code });
    expect(isStoreUnavailable(sql('57P01'))).toBe(true);
    expect(isStoreUnavailable(sql('ECONNREFUSED'))).toBe(true);
    expect(isStoreUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isStoreUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isStoreUnavailable(sql('23505'))).toBe(false);
    expect(isStoreUnavailable(sql('42P01'))).toBe(false);
    expect(isStoreUnavailable(new Error('boom'))).toBe(false);
    expect(isStoreUnavailable(null)).toBe(false);
  });
});
