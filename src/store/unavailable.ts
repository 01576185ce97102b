import { isStoreUnavailable as postgresUnavailable } from './postgres/pg-errors.ts';

/** SQLite result codes that mean the database cannot take the request now (not a bug). */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY)/;

/**
 * Whether an error means "the store is unreachable or overloaded right now" (a failover, a
 * restart, a full disk, a lock held too long). The API answers those with 503 and Retry-After.
 */
export function isStoreUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && SQLITE_UNAVAILABLE.test(code)) return true;
  return postgresUnavailable(err);
}
