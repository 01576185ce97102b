import type Database from 'better-sqlite3';
import { CountersignError } from '../../domain/errors.ts';
import type { JsonObject } from '../../domain/types.ts';
import type { AlertedRecord, AlertRecord, AlertStore, CollectionRecord, RenewalRecord } from '../alert-store.ts';
import { collectionBody, toAlert, toAlerted, toCollection, toRenewal } from '../alert-rows.ts';

type Row = Record<string, unknown>;
const isUnique = (e: unknown): boolean => (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' || (e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/** Collections, alerts, claims and renewals in the embedded store; each method is one atomic statement or transaction. */
export class SqliteAlertStore implements AlertStore {
  constructor(private readonly db: Database.Database) {}

  async listCollections(): Promise<CollectionRecord[]> {
    return (this.db.prepare('SELECT * FROM cert_collections ORDER BY id').all() as Row[]).map(toCollection);
  }

  async getCollection(id: number): Promise<CollectionRecord | null> {
    const r = this.db.prepare('SELECT * FROM cert_collections WHERE id = ?').get(id) as Row | undefined;
    return r ? toCollection(r) : null;
  }

  async insertCollection(c: Omit<CollectionRecord, 'id'>): Promise<CollectionRecord> {
    try {
      const r = this.db.prepare('INSERT INTO cert_collections (name, body) VALUES (?, ?)').run(c.name, collectionBody(c));
      return { ...c, id: Number(r.lastInsertRowid) };
    } catch (e) {
      if (isUnique(e)) throw new CountersignError('Conflict', `A certificate collection named '${c.name}' exists already.`);
      throw e;
    }
  }

  async updateCollection(c: CollectionRecord): Promise<CollectionRecord | null> {
    try {
      return this.db.prepare('UPDATE cert_collections SET name = ?, body = ? WHERE id = ?').run(c.name, collectionBody(c), c.id).changes ? c : null;
    } catch (e) {
      if (isUnique(e)) throw new CountersignError('Conflict', `A certificate collection named '${c.name}' exists already.`);
      throw e;
    }
  }

  async deleteCollection(id: number): Promise<boolean> {
    return this.db.prepare('DELETE FROM cert_collections WHERE id = ?').run(id).changes > 0;
  }

  async listAlerts(): Promise<AlertRecord[]> {
    return (this.db.prepare('SELECT * FROM expiration_alerts ORDER BY id').all() as Row[]).map(toAlert);
  }

  async getAlert(id: number): Promise<AlertRecord | null> {
    const r = this.db.prepare('SELECT * FROM expiration_alerts WHERE id = ?').get(id) as Row | undefined;
    return r ? toAlert(r) : null;
  }

  async insertAlert(body: JsonObject, setAt: string): Promise<AlertRecord> {
    const r = this.db.prepare('INSERT INTO expiration_alerts (body, set_at) VALUES (?, ?)').run(JSON.stringify(body), setAt);
    return { id: Number(r.lastInsertRowid), body, lastRunAt: null, setAt };
  }

  async updateAlert(id: number, body: JsonObject, setAt: string | null): Promise<AlertRecord | null> {
    const r = this.db.prepare('UPDATE expiration_alerts SET body = ?, set_at = COALESCE(?, set_at) WHERE id = ?').run(JSON.stringify(body), setAt, id);
    return r.changes ? this.getAlert(id) : null;
  }

  async deleteAlert(id: number): Promise<boolean> {
    return this.db
      .transaction(() => {
        this.db.prepare('DELETE FROM expiration_alerted WHERE alert_id = ?').run(id);
        return this.db.prepare('DELETE FROM expiration_alerts WHERE id = ?').run(id).changes > 0;
      })
      .immediate();
  }

  async markAlertRun(id: number, at: string): Promise<void> {
    this.db.prepare('UPDATE expiration_alerts SET last_run_at = ? WHERE id = ?').run(at, id);
  }

  async touchAllAlerts(setAt: string): Promise<void> {
    this.db.prepare('UPDATE expiration_alerts SET set_at = ?').run(setAt);
  }

  async listAlerted(alertIds: number[], certificateIds?: number[]): Promise<AlertedRecord[]> {
    if (!alertIds.length || certificateIds?.length === 0) return [];
    if (!certificateIds) return (this.db.prepare(`SELECT * FROM expiration_alerted WHERE alert_id IN (${placeholders(alertIds.length)})`).all(...alertIds) as Row[]).map(toAlerted);
    const out: AlertedRecord[] = [];
    // Chunks keep the statement under SQLite's parameter limit.
    for (let i = 0; i < certificateIds.length; i += 500) {
      const chunk = certificateIds.slice(i, i + 500);
      const sql = `SELECT * FROM expiration_alerted WHERE alert_id IN (${placeholders(alertIds.length)}) AND certificate_id IN (${placeholders(chunk.length)})`;
      out.push(...(this.db.prepare(sql).all(...alertIds, ...chunk) as Row[]).map(toAlerted));
    }
    return out;
  }

  async claimAlerted(alertId: number, certificateId: number, at: string): Promise<boolean> {
    return this.db.prepare('INSERT INTO expiration_alerted (alert_id, certificate_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(alertId, certificateId, at).changes > 0;
  }

  async releaseAlerted(alertId: number, certificateId: number): Promise<void> {
    this.db.prepare('DELETE FROM expiration_alerted WHERE alert_id = ? AND certificate_id = ? AND instance_id IS NULL').run(alertId, certificateId);
  }

  async listUnsynced(limit: number): Promise<AlertedRecord[]> {
    return (this.db.prepare('SELECT * FROM expiration_alerted WHERE synced = 0 AND instance_id IS NOT NULL ORDER BY at LIMIT ?').all(limit) as Row[]).map(toAlerted);
  }

  async markSynced(alertId: number, certificateId: number): Promise<void> {
    this.db.prepare('UPDATE expiration_alerted SET synced = 1 WHERE alert_id = ? AND certificate_id = ?').run(alertId, certificateId);
  }

  async getSetting(name: string): Promise<string | null> {
    const r = this.db.prepare('SELECT value FROM settings WHERE name = ?').get(name) as Row | undefined;
    return r ? String(r.value) : null;
  }

  async putSetting(name: string, value: string): Promise<void> {
    this.db.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }

  async insertRenewal(r: Omit<RenewalRecord, 'id' | 'newCertificateId'>): Promise<{ renewal: RenewalRecord; created: boolean }> {
    return this.db
      .transaction(() => {
        const res = this.db
          .prepare('INSERT INTO certificate_renewals (idempotency_key, old_certificate_id, request_id, at) VALUES (?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING')
          .run(r.idempotencyKey, r.oldCertificateId, r.requestId, r.at);
        const row = this.db.prepare('SELECT * FROM certificate_renewals WHERE idempotency_key = ?').get(r.idempotencyKey) as Row;
        return { renewal: toRenewal(row), created: res.changes > 0 };
      })
      .immediate();
  }

  async findRenewalByKey(idempotencyKey: string): Promise<RenewalRecord | null> {
    const r = this.db.prepare('SELECT * FROM certificate_renewals WHERE idempotency_key = ?').get(idempotencyKey) as Row | undefined;
    return r ? toRenewal(r) : null;
  }

  async setRenewalCertificate(id: number, newCertificateId: number): Promise<void> {
    this.db.prepare('UPDATE certificate_renewals SET new_certificate_id = ? WHERE id = ?').run(newCertificateId, id);
  }

  async renewalsOf(certificateId: number): Promise<{ from: RenewalRecord | null; by: RenewalRecord[] }> {
    const from = this.db.prepare('SELECT * FROM certificate_renewals WHERE new_certificate_id = ? ORDER BY id LIMIT 1').get(certificateId) as Row | undefined;
    const by = this.db.prepare('SELECT * FROM certificate_renewals WHERE old_certificate_id = ? AND new_certificate_id IS NOT NULL ORDER BY id').all(certificateId) as Row[];
    return { from: from ? toRenewal(from) : null, by: by.map(toRenewal) };
  }

  async renewedAmong(certificateIds: number[]): Promise<Set<number>> {
    const out = new Set<number>();
    for (let i = 0; i < certificateIds.length; i += 500) {
      const chunk = certificateIds.slice(i, i + 500);
      const rows = this.db
        .prepare(`SELECT DISTINCT old_certificate_id FROM certificate_renewals WHERE new_certificate_id IS NOT NULL AND old_certificate_id IN (${placeholders(chunk.length)})`)
        .all(...chunk) as Row[];
      for (const r of rows) out.add(Number(r.old_certificate_id));
    }
    return out;
  }
}
