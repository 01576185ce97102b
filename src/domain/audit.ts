/*
 * The audit log's integrity, as pure functions over plain entries (docs/security/audit.md).
 *
 * Each entry's hash covers its content and the hash of the entry before it, so editing, deleting
 * or reordering any stored row changes what the following hashes would be. Each hash is also
 * signed (HMAC-SHA-256) with a key the server holds: a person who can write the table but does
 * not hold the key cannot recompute a consistent chain. Hashing is injected (node:crypto in the
 * shell) so this module stays free of I/O and imports.
 */

/** Our numbering of Keyfactor's integer Category and Operation (unpublished; docs/compatibility.md). */
export const AUDIT_CATEGORY = {
  Security: 1,
  WorkflowDefinition: 2,
  WorkflowInstance: 3,
  Certificate: 4,
  Login: 5,
} as const;

export const AUDIT_OPERATION = {
  Create: 1,
  Update: 2,
  Delete: 3,
  Publish: 4,
  Signal: 5,
  Start: 6,
  Stop: 7,
  Issue: 8,
  Revoke: 9,
  LoginFailed: 10,
  LockedOut: 11,
  Reset: 12,
} as const;

/** Keyfactor's AuditLogLevel: 0 informational, 1 warning, 2 error. */
export type AuditLevel = 0 | 1 | 2;

export interface AuditContent {
  at: string;
  category: number;
  operation: number;
  level: AuditLevel;
  actor: string | null;
  entityType: string | null;
  auditIdentifier: string | null;
  immutableIdentifier: string | null;
  message: string;
  /** The event's fields as JSON text, exactly as stored. */
  data: string;
}

export interface AuditEntry extends AuditContent {
  id: number;
  hash: string;
  signature: string;
}

export interface AuditCrypto {
  sha256(text: string): string;
  hmac(text: string): string;
}

/** The exact text an entry's hash covers: the previous hash, then every content field in a fixed order. */
export function canonical(prevHash: string | null, c: AuditContent): string {
  return JSON.stringify([prevHash ?? '', c.at, c.category, c.operation, c.level, c.actor, c.entityType, c.auditIdentifier, c.immutableIdentifier, c.message, c.data]);
}

export function seal(prevHash: string | null, c: AuditContent, crypto: AuditCrypto): { hash: string; signature: string } {
  const hash = crypto.sha256(canonical(prevHash, c));
  return { hash, signature: crypto.hmac(hash) };
}

export type EntryCheck = { ok: true } | { ok: false; reason: string };

/** Whether one entry is intact given the entry stored before it (null: it is the first). */
export function checkEntry(entry: AuditEntry, previous: AuditEntry | null, crypto: AuditCrypto): EntryCheck {
  const expected = crypto.sha256(canonical(previous?.hash ?? null, entry));
  if (expected !== entry.hash)
    return {
      ok: false,
      reason: previous
        ? `entry ${entry.id} does not follow entry ${previous.id}: its content was changed, or an entry between them was removed or moved`
        : `entry ${entry.id} is first in the log, but its hash says another entry came before it, or its content was changed`,
    };
  if (crypto.hmac(entry.hash) !== entry.signature) return { ok: false, reason: `entry ${entry.id}'s signature does not match its hash (not written with this server's audit key)` };
  return { ok: true };
}

export interface ChainReport {
  checked: number;
  /** The first entry that fails, and why; null when the whole chain holds. */
  firstBad: { id: number; reason: string } | null;
  head: { id: number; hash: string } | null;
}

/** Walks entries in id order (in batches: `previous` carries across calls). */
export function checkChain(entries: AuditEntry[], previous: AuditEntry | null, crypto: AuditCrypto): ChainReport {
  let prev = previous;
  let checked = 0;
  for (const e of entries) {
    if (prev && e.id <= prev.id) return { checked, firstBad: { id: e.id, reason: `entry ${e.id} is out of order after entry ${prev.id}` }, head: null };
    const r = checkEntry(e, prev, crypto);
    checked++;
    if (!r.ok) return { checked, firstBad: { id: e.id, reason: r.reason }, head: null };
    prev = e;
  }
  return { checked, firstBad: null, head: prev ? { id: prev.id, hash: prev.hash } : null };
}
