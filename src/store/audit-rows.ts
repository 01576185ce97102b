import type { AuditContent, AuditEntry } from '../domain/audit.ts';
import type { FieldSpec } from '../domain/query/index.ts';

/* Row mapping and query fields of the audit log, shared by both stores. */

/** The content columns (audit_outbox holds exactly these, audit_log these plus id, hash and signature). */
export const AUDIT_CONTENT_COLUMNS = 'at, category, operation, level, actor, entity_type, audit_identifier, immutable_identifier, message, data';

export const AUDIT_COLUMNS = `id, ${AUDIT_CONTENT_COLUMNS}, hash, signature`;

/** An outbox row's content, in the order AUDIT_CONTENT_COLUMNS names it (for positional parameters). */
export const auditContentValues = (c: AuditContent): (string | number | null)[] => [
  c.at,
  c.category,
  c.operation,
  c.level,
  c.actor,
  c.entityType,
  c.auditIdentifier,
  c.immutableIdentifier,
  c.message,
  c.data,
];

export function toAuditContent(r: Record<string, unknown>): AuditContent {
  return {
    at: String(r.at),
    category: Number(r.category),
    operation: Number(r.operation),
    level: Number(r.level) as AuditContent['level'],
    actor: (r.actor as string | null) ?? null,
    entityType: (r.entity_type as string | null) ?? null,
    auditIdentifier: (r.audit_identifier as string | null) ?? null,
    immutableIdentifier: (r.immutable_identifier as string | null) ?? null,
    message: String(r.message),
    data: String(r.data),
  };
}

/** QueryString and SortField of GET /Audit. */
export const AUDIT_FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'integer', column: 'id' },
  { name: 'Timestamp', type: 'string', column: 'at' },
  { name: 'Category', type: 'integer', column: 'category' },
  { name: 'Operation', type: 'integer', column: 'operation' },
  { name: 'Level', type: 'integer', column: 'level' },
  { name: 'User', type: 'string', column: 'actor' },
  { name: 'EntityType', type: 'string', column: 'entity_type' },
  { name: 'AuditIdentifier', type: 'string', column: 'audit_identifier' },
  { name: 'Message', type: 'string', column: 'message' },
];

/** An audit_log row: an outbox row's content, sealed into the chain. */
export function toAuditEntry(r: Record<string, unknown>): AuditEntry {
  return { id: Number(r.id), ...toAuditContent(r), hash: String(r.hash), signature: String(r.signature) };
}
