import type { FastifyPluginAsync } from 'fastify';
import type { AuditEntry } from '../domain/audit.ts';
import { fail } from '../domain/errors.ts';
import { P } from '../security/permissions.ts';
import type { AuditLog } from '../service/audit.ts';
import { AUDIT_FIELDS } from '../store/audit-rows.ts';
import { requirePermission } from './guard.ts';
import { listQuery } from './listing.ts';
import { intParam } from './wire.ts';

/** Keyfactor's audit log API over our chained log (docs/security/audit.md). */
export const auditRoutes =
  (audit: AuditLog): FastifyPluginAsync =>
  async (app) => {
    app.get('/Audit', async (req) => {
      requirePermission(req, P.auditRead);
      return (await audit.query(listQuery(req, AUDIT_FIELDS, 'Id', false))).map(auditEntryWire);
    });

    app.get<{ Params: { id: string } }>('/Audit/:id', async (req) => {
      requirePermission(req, P.auditRead);
      const id = intParam(req.params.id, 'id');
      return auditEntryWire((await audit.get(id)) ?? fail('NotFound', `No audit log entry has Id ${id}.`));
    });

    app.get<{ Params: { id: string } }>('/Audit/:id/Validate', async (req, reply) => {
      requirePermission(req, P.auditRead);
      const id = intParam(req.params.id, 'id');
      const r = (await audit.validate(id)) ?? fail('NotFound', `No audit log entry has Id ${id}.`);
      // The boolean is Keyfactor's answer; why it failed goes in a header a Keyfactor client ignores.
      if (r.reason) reply.header('X-Countersign-Audit-Problem', r.reason.replace(/[^\x20-\x7e]/g, '?'));
      return r.ok;
    });

    app.get('/Audit/Download', async (req, reply) => {
      requirePermission(req, P.auditRead);
      const q = listQuery(req, AUDIT_FIELDS, 'Id', true);
      // All matching entries, in pages, as CSV text (the contract's string), hash and signature included.
      const lines = ['Id,Timestamp,Category,Operation,Level,User,EntityType,AuditIdentifier,ImmutableIdentifier,Message,Signature'];
      for (let offset = 0; ; offset += 1000) {
        const page = await audit.query({ ...q, offset, limit: 1000 });
        for (const e of page)
          lines.push([e.id, e.at, e.category, e.operation, e.level, e.actor, e.entityType, e.auditIdentifier, e.immutableIdentifier, e.message, signatureOf(e)].map(csv).join(','));
        if (page.length < 1000 || offset > 1_000_000) break;
      }
      reply.header('Content-Disposition', 'attachment; filename="audit-log.csv"');
      return JSON.stringify(lines.join('\r\n'));
    });
  };

/** Signature as Keyfactor names it: here the entry's chain hash and its HMAC. */
const signatureOf = (e: AuditEntry): string => `${e.hash}.${e.signature}`;

export const auditEntryWire = (e: AuditEntry) => ({
  Id: e.id,
  Timestamp: e.at,
  Message: e.message,
  Signature: signatureOf(e),
  Category: e.category,
  Operation: e.operation,
  Level: e.level,
  User: e.actor,
  EntityType: e.entityType,
  AuditIdentifier: e.auditIdentifier,
  ImmutableIdentifier: e.immutableIdentifier,
});

/** A CSV field; a leading = + - @ is neutralised so a spreadsheet never runs it as a formula. */
function csv(v: unknown): string {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
