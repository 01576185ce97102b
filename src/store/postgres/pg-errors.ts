/*
 * Which errors mean "the database is not reachable right now" (a restart, a failover, a network
 * cut, an exhausted pool) rather than a bug. The HTTP layer can answer those with 503 and a
 * Retry-After instead of 500. This file imports nothing, so the API can use it without loading pg.
 */

/** SQLSTATEs that say the database (not the request) is the problem. */
export const UNAVAILABLE_SQLSTATES: ReadonlySet<string> = new Set([
  // Class 08, connection exception.
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
  '08007', // transaction_resolution_unknown
  '08P01', // protocol_violation
  // Class 57, operator intervention: the server is shutting down or starting up.
  '57P01', // admin_shutdown (pg_terminate_backend, a fast shutdown, a failover)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, or in recovery)
  '57P05', // idle_session_timeout
  '57014', // query_canceled: statement_timeout ran out (overload or a lock held too long)
  // Class 53, insufficient resources.
  '53000', // insufficient_resources
  '53100', // disk_full
  '53200', // out_of_memory
  '53300', // too_many_connections
  // After a failover the old address may point at a read-only standby.
  '25006', // read_only_sql_transaction
  // Still colliding after the store's own retries.
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
]);

/** Socket-level failures (no SQLSTATE) from Node. */
export const UNAVAILABLE_ERRNOS: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** node-postgres raises these as plain Errors without a code. */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/i, // "Connection terminated unexpectedly", "... due to connection timeout"
  /timeout exceeded when trying to connect/i, // pool connectionTimeoutMillis: every connection busy or none reachable
  /Client has encountered a connection error and is not queryable/i,
  /Client was closed and is not queryable/i,
  /Cannot use a pool after calling end on the pool/i, // a request racing shutdown
];

/** True when err says the database is unavailable, so the request may be retried later. */
export function isStoreUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) return true;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((re) => re.test(message));
}
