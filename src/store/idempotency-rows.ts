import type { IdempotencyClaim } from './store.ts';

/** What a key already held means for a request with `fingerprint` (both stores). */
export function idempotencyState(row: Record<string, unknown> | undefined, fingerprint: string): IdempotencyClaim {
  // Swept or released between the two statements: the caller's retry loop claims it next time.
  if (!row) return { state: 'in-flight' };
  if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
  if (row.state !== 'done') return { state: 'in-flight' };
  const headers = typeof row.headers === 'string' ? JSON.parse(row.headers) : (row.headers ?? {});
  return { state: 'replay', status: Number(row.status), headers, body: String(row.body ?? '') };
}
