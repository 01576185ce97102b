import type pg from 'pg';
import { CountersignError } from '../../domain/errors.ts';
import type { JsonObject } from '../../domain/types.ts';
import type { AlertedRecord, AlertRecord, AlertStore, CollectionRecord, RenewalRecord } from '../alert-store.ts';
import { collectionBody, toAlert, toAlerted, toCollection, toRenewal } from '../alert-rows.ts';
import { inTransaction, isUniqueViolation } from './pg-db.ts';

const conflict = (name: string) => (e: unknown) => {
  if (isUniqueViolation(e)) throw new CountersignError('Conflict', `A certificate collection named '${name}' exists already.`);
  throw e;
};

/** Collections, alerts, claims and renewals in PostgreSQL; claims rely on the (alert, certificate) primary key. */
export class PgAlertStore implements AlertStore {
  constructor(private readonly pool: pg.Pool) {}

  async listCollections(): Promise<CollectionRecord[]> {
    return (await this.pool.query('SELECT * FROM cert_collections ORDER BY id')).rows.map(toCollection);
  }

  async getCollection(id: number): Promise<CollectionRecord | null> {
    const r = (await this.pool.query('SELECT * FROM cert_collections WHERE id = $1', [id])).rows[0];
    return r ? toCollection(r) : null;
  }

  async insertCollection(c: Omit<CollectionRecord, 'id'>): Promise<CollectionRecord> {
    const r = await this.pool.query('INSERT INTO cert_collections (name, body) VALUES ($1, $2) RETURNING id', [c.name, collectionBody(c)]).catch(conflict(c.name));
    return { ...c, id: Number(r.rows[0].id) };
  }

  async updateCollection(c: CollectionRecord): Promise<CollectionRecord | null> {
    const r = await this.pool.query('UPDATE cert_collections SET name = $1, body = $2 WHERE id = $3', [c.name, collectionBody(c), c.id]).catch(conflict(c.name));
    return r.rowCount ? c : null;
  }

  async deleteCollection(id: number): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM cert_collections WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async listAlerts(): Promise<AlertRecord[]> {
    return (await this.pool.query('SELECT * FROM expiration_alerts ORDER BY id')).rows.map(toAlert);
  }

  async getAlert(id: number): Promise<AlertRecord | null> {
    const r = (await this.pool.query('SELECT * FROM expiration_alerts WHERE id = $1', [id])).rows[0];
    return r ? toAlert(r) : null;
  }

  async insertAlert(body: JsonObject, setAt: string): Promise<AlertRecord> {
    const r = await this.pool.query('INSERT INTO expiration_alerts (body, set_at) VALUES ($1, $2) RETURNING *', [JSON.stringify(body), setAt]);
    return toAlert(r.rows[0]);
  }

  async updateAlert(id: number, body: JsonObject, setAt: string | null): Promise<AlertRecord | null> {
    const r = await this.pool.query('UPDATE expiration_alerts SET body = $1, set_at = COALESCE($2::timestamptz, set_at) WHERE id = $3 RETURNING *', [
      JSON.stringify(body),
      setAt,
      id,
    ]);
    return r.rows[0] ? toAlert(r.rows[0]) : null;
  }

  async deleteAlert(id: number): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM expiration_alerted WHERE alert_id = $1', [id]);
      return ((await c.query('DELETE FROM expiration_alerts WHERE id = $1', [id])).rowCount ?? 0) > 0;
    });
  }

  async markAlertRun(id: number, at: string): Promise<void> {
    await this.pool.query('UPDATE expiration_alerts SET last_run_at = $1 WHERE id = $2', [at, id]);
  }

  async touchAllAlerts(setAt: string): Promise<void> {
    await this.pool.query('UPDATE expiration_alerts SET set_at = $1', [setAt]);
  }

  async listAlerted(alertIds: number[], certificateIds?: number[]): Promise<AlertedRecord[]> {
    if (!alertIds.length || certificateIds?.length === 0) return [];
    if (!certificateIds) return (await this.pool.query('SELECT * FROM expiration_alerted WHERE alert_id = ANY($1::bigint[])', [alertIds])).rows.map(toAlerted);
    const r = await this.pool.query('SELECT * FROM expiration_alerted WHERE alert_id = ANY($1::bigint[]) AND certificate_id = ANY($2::bigint[])', [alertIds, certificateIds]);
    return r.rows.map(toAlerted);
  }

  async claimAlerted(alertId: number, certificateId: number, at: string): Promise<boolean> {
    const r = await this.pool.query('INSERT INTO expiration_alerted (alert_id, certificate_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [alertId, certificateId, at]);
    return (r.rowCount ?? 0) > 0;
  }

  async releaseAlerted(alertId: number, certificateId: number): Promise<void> {
    await this.pool.query('DELETE FROM expiration_alerted WHERE alert_id = $1 AND certificate_id = $2 AND instance_id IS NULL', [alertId, certificateId]);
  }

  async listUnsynced(limit: number): Promise<AlertedRecord[]> {
    return (await this.pool.query('SELECT * FROM expiration_alerted WHERE NOT synced AND instance_id IS NOT NULL ORDER BY at LIMIT $1', [limit])).rows.map(toAlerted);
  }

  async markSynced(alertId: number, certificateId: number): Promise<void> {
    await this.pool.query('UPDATE expiration_alerted SET synced = true WHERE alert_id = $1 AND certificate_id = $2', [alertId, certificateId]);
  }

  async getSetting(name: string): Promise<string | null> {
    const r = (await this.pool.query('SELECT value FROM settings WHERE name = $1', [name])).rows[0];
    return r ? String(r.value) : null;
  }

  async putSetting(name: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [name, value]);
  }

  async insertRenewal(r: Omit<RenewalRecord, 'id' | 'newCertificateId'>): Promise<{ renewal: RenewalRecord; created: boolean }> {
    const ins = await this.pool.query(
      'INSERT INTO certificate_renewals (idempotency_key, old_certificate_id, request_id, at) VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *',
      [r.idempotencyKey, r.oldCertificateId, r.requestId, r.at],
    );
    if (ins.rows[0]) return { renewal: toRenewal(ins.rows[0]), created: true };
    return { renewal: (await this.findRenewalByKey(r.idempotencyKey))!, created: false };
  }

  async findRenewalByKey(idempotencyKey: string): Promise<RenewalRecord | null> {
    const r = (await this.pool.query('SELECT * FROM certificate_renewals WHERE idempotency_key = $1', [idempotencyKey])).rows[0];
    return r ? toRenewal(r) : null;
  }

  async setRenewalCertificate(id: number, newCertificateId: number): Promise<void> {
    await this.pool.query('UPDATE certificate_renewals SET new_certificate_id = $1 WHERE id = $2', [newCertificateId, id]);
  }

  async renewalsOf(certificateId: number): Promise<{ from: RenewalRecord | null; by: RenewalRecord[] }> {
    const from = (await this.pool.query('SELECT * FROM certificate_renewals WHERE new_certificate_id = $1 ORDER BY id LIMIT 1', [certificateId])).rows[0];
    const by = (await this.pool.query('SELECT * FROM certificate_renewals WHERE old_certificate_id = $1 AND new_certificate_id IS NOT NULL ORDER BY id', [certificateId])).rows;
    return { from: from ? toRenewal(from) : null, by: by.map(toRenewal) };
  }

  async renewedAmong(certificateIds: number[]): Promise<Set<number>> {
    if (!certificateIds.length) return new Set();
    const rows = (
      await this.pool.query('SELECT DISTINCT old_certificate_id FROM certificate_renewals WHERE new_certificate_id IS NOT NULL AND old_certificate_id = ANY($1::bigint[])', [
        certificateIds,
      ])
    ).rows;
    return new Set(rows.map((r) => Number(r.old_certificate_id)));
  }
}
