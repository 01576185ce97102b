import { AsyncLocalStorage } from 'node:async_hooks';
import { bool } from './row-values.ts';
import type { IdempotencyClaim } from './store.ts';

/** What a key already held means for a request with `fingerprint` (both stores). */
export function idempotencyState(row: Record<string, unknown> | undefined, fingerprint: string): IdempotencyClaim {
  // Swept or released between the two statements: the caller's retry loop claims it next time.
  if (!row) return { state: 'in-flight' };
  if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
  // Acted upon (the action's transaction committed) but never answered, and its lease is over:
  // the node died between the commit and storing the answer. Never act again.
  if (row.state !== 'done') return bool(row.lost) ? { state: 'acted' } : { state: 'in-flight' };
  const headers = typeof row.headers === 'string' ? JSON.parse(row.headers) : (row.headers ?? {});
  return { state: 'replay', status: Number(row.status), headers, body: String(row.body ?? '') };
}

/*
 * The key a request holds while it acts (docs/approvals.md#idempotency-key). The Idempotency-Key
 * hooks run the handler inside `holdingIdempotencyKey`; the store methods that carry out an
 * idempotent operation (start, signal, enrollment, revocation) read `actingIdempotencyKey()` when
 * the work is submitted and mark the key's row `acted_at` in the same transaction as the work, so
 * the mark commits if and only if the action does.
 */

export interface HeldIdempotencyKey {
  scope: number;
  key: string;
  /** False once the request is answered: work still running in its async context no longer marks. */
  open: boolean;
}

const held = new AsyncLocalStorage<HeldIdempotencyKey>();

/** Runs fn (a route handler) with the key it acts under. */
export function holdingIdempotencyKey<R>(k: HeldIdempotencyKey, fn: () => R): R {
  return held.run(k, fn);
}

/** The key the current request acts under, while it has not been answered; null outside one. */
export function actingIdempotencyKey(): { scope: number; key: string } | null {
  const k = held.getStore();
  return k?.open ? { scope: k.scope, key: k.key } : null;
}

/** Marks the claimed row acted upon; run inside the action's own transaction. Positional: acted_at, scope, key. */
export const MARK_ACTED_SQLITE = "UPDATE idempotency_keys SET acted_at = ? WHERE scope = ? AND key = ? AND state = 'in-flight' AND acted_at IS NULL";
export const MARK_ACTED_PG = "UPDATE idempotency_keys SET acted_at = now() WHERE scope = $1 AND key = $2 AND state = 'in-flight' AND acted_at IS NULL";
