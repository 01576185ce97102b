import type { AlertedRecord, AlertRecord, CollectionRecord, RenewalRecord } from './alert-store.ts';
import { iso, json, nullableNumber, type Row } from './row-values.ts';

/* Row mapping shared by the SQLite and PostgreSQL alert stores. */

export const collectionBody = (c: Omit<CollectionRecord, 'id' | 'name'>): string =>
  JSON.stringify({ description: c.description, query: c.query, duplicationField: c.duplicationField, showOnDashboard: c.showOnDashboard, favorite: c.favorite });

export function toCollection(r: Row): CollectionRecord {
  const b = json(r.body);
  return {
    id: Number(r.id),
    name: r.name,
    description: b.description ?? null,
    query: b.query ?? '',
    duplicationField: b.duplicationField ?? 0,
    showOnDashboard: b.showOnDashboard ?? false,
    favorite: b.favorite ?? false,
  };
}

export const toAlert = (r: Row): AlertRecord => ({ id: Number(r.id), body: json(r.body), lastRunAt: r.last_run_at == null ? null : iso(r.last_run_at), setAt: iso(r.set_at) });

export const toAlerted = (r: Row): AlertedRecord => ({
  alertId: Number(r.alert_id),
  certificateId: Number(r.certificate_id),
  at: iso(r.at),
  instanceId: r.instance_id ?? null,
});

export const toRenewal = (r: Row): RenewalRecord => ({
  id: Number(r.id),
  idempotencyKey: r.idempotency_key,
  oldCertificateId: Number(r.old_certificate_id),
  requestId: Number(r.request_id),
  newCertificateId: nullableNumber(r.new_certificate_id),
  at: iso(r.at),
});
