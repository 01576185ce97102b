import type pg from 'pg';
import type { Template } from '../../certificates/types.ts';
import type {
  CaRecord,
  CertificateHistoryEntry,
  CertificateQuery,
  CertificateRecord,
  CertificateStore,
  MetadataField,
  NewCertificate,
  NewRequest,
  RequestRecord,
  CaRevocationState,
  RevokedEntry,
  StoredCrl,
} from '../certificate-store.ts';
import type { RevocationState } from '../../certificates/revocation.ts';
import {
  CA_COLUMNS,
  CERT_COLUMNS,
  REQUEST_COLUMNS,
  caValues,
  certificateValues,
  crlValues,
  historyValues,
  insertedCertificate,
  insertedRequest,
  metadataFieldBody,
  metadataFieldTaken,
  requestValues,
  revocationValues,
  templateBody,
  templateTaken,
  toCa,
  toCertificate,
  toHistory,
  toMetadataField,
  toRequest,
  toRevocationState,
  toRevokedEntry,
  toTemplate,
} from '../certificate-rows.ts';
import { filtered, inTransaction, isUniqueViolation, listQuery } from './pg-db.ts';
import { actingIdempotencyKey, MARK_ACTED_PG } from '../idempotency-rows.ts';

const conflict = (taken: () => Error) => (e: unknown) => {
  if (isUniqueViolation(e)) throw taken();
  throw e;
};
const placeholders = (columns: readonly string[]): string => columns.map((_, i) => `$${i + 1}`).join(', ');
const INSERT_CA = `INSERT INTO cert_authorities (${CA_COLUMNS.join(', ')}) VALUES (${placeholders(CA_COLUMNS)}) ON CONFLICT (logical_name) DO NOTHING`;
const INSERT_REQUEST = `INSERT INTO cert_requests (${REQUEST_COLUMNS.join(', ')}) VALUES (${placeholders(REQUEST_COLUMNS)}) RETURNING id`;
/** The same insert marking the Idempotency-Key it acts under, in the same statement (idempotency-rows.ts). */
const INSERT_REQUEST_ACTED = `WITH ik AS (UPDATE idempotency_keys SET acted_at = now() WHERE scope = $${REQUEST_COLUMNS.length + 1} AND key = $${REQUEST_COLUMNS.length + 2}
  AND state = 'in-flight' AND acted_at IS NULL) ${INSERT_REQUEST}`;
const INSERT_CERTIFICATE = `INSERT INTO certificates (${CERT_COLUMNS.join(', ')}) VALUES (${placeholders(CERT_COLUMNS)}) ON CONFLICT (request_id) DO NOTHING RETURNING id`;
const INSERT_HISTORY = 'INSERT INTO certificate_history (certificate_id, at, username, action, comment) VALUES ($1, $2, $3, $4, $5)';

/** The certificate side of the PostgreSQL store. Single statements are atomic; recordIssued relies on the unique request id. */
export class PgCertificateStore implements CertificateStore {
  constructor(private readonly pool: pg.Pool) {}

  async listCas(): Promise<CaRecord[]> {
    return (await this.pool.query('SELECT * FROM cert_authorities ORDER BY id')).rows.map(toCa);
  }

  async updateCaChain(id: number, chainPem: string[]): Promise<boolean> {
    return ((await this.pool.query('UPDATE cert_authorities SET chain_pem = $1 WHERE id = $2', [JSON.stringify(chainPem), id])).rowCount ?? 0) > 0;
  }

  async putAcmeChallenge(token: string, keyAuthorization: string, expiresAt: string): Promise<void> {
    await this.pool.query('DELETE FROM upstream_acme_challenges WHERE expires_at < now()');
    await this.pool.query(
      'INSERT INTO upstream_acme_challenges (token, key_authorization, expires_at) VALUES ($1, $2, $3) ON CONFLICT (token) DO UPDATE SET key_authorization = excluded.key_authorization, expires_at = excluded.expires_at',
      [token, keyAuthorization, expiresAt],
    );
  }

  async getAcmeChallenge(token: string, now: string): Promise<string | null> {
    const r = await this.pool.query('SELECT key_authorization FROM upstream_acme_challenges WHERE token = $1 AND expires_at >= $2', [token, now]);
    return r.rows[0] ? String(r.rows[0].key_authorization) : null;
  }

  async deleteAcmeChallenge(token: string): Promise<void> {
    await this.pool.query('DELETE FROM upstream_acme_challenges WHERE token = $1', [token]);
  }

  async getAcmeOrder(caId: number, idempotencyKey: string): Promise<string | null> {
    const r = await this.pool.query('SELECT order_url FROM upstream_acme_orders WHERE ca_id = $1 AND idempotency_key = $2', [caId, idempotencyKey]);
    return r.rows[0] ? String(r.rows[0].order_url) : null;
  }

  async putAcmeOrder(caId: number, idempotencyKey: string, orderUrl: string, createdAt: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO upstream_acme_orders (ca_id, idempotency_key, order_url, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (ca_id, idempotency_key) DO UPDATE SET order_url = excluded.order_url, created_at = excluded.created_at',
      [caId, idempotencyKey, orderUrl, createdAt],
    );
  }

  async insertCaIfAbsent(ca: Omit<CaRecord, 'id'>): Promise<CaRecord> {
    await this.pool.query(INSERT_CA, caValues(ca, ca.imported));
    return toCa((await this.pool.query('SELECT * FROM cert_authorities WHERE logical_name = $1', [ca.logicalName])).rows[0]);
  }

  async listTemplates(): Promise<Template[]> {
    return (await this.pool.query('SELECT * FROM cert_templates ORDER BY id')).rows.map(toTemplate);
  }

  async getTemplate(id: number): Promise<Template | null> {
    const row = (await this.pool.query('SELECT * FROM cert_templates WHERE id = $1', [id])).rows[0];
    return row ? toTemplate(row) : null;
  }

  async insertTemplate(t: Omit<Template, 'id'>): Promise<Template> {
    const r = await this.pool
      .query('INSERT INTO cert_templates (common_name, body) VALUES ($1, $2) RETURNING id', [t.commonName, templateBody(t)])
      .catch(conflict(() => templateTaken(t.commonName)));
    return { ...t, id: Number(r.rows[0].id) };
  }

  async insertTemplateIfNone(t: Omit<Template, 'id'>): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      // Nodes starting together: the lock makes the count and the insert one step.
      await c.query('LOCK TABLE cert_templates IN EXCLUSIVE MODE');
      if ((await c.query('SELECT 1 FROM cert_templates LIMIT 1')).rowCount) return false;
      await c.query('INSERT INTO cert_templates (common_name, body) VALUES ($1, $2)', [t.commonName, templateBody(t)]);
      return true;
    });
  }

  async updateTemplate(t: Template): Promise<Template | null> {
    const r = await this.pool
      .query('UPDATE cert_templates SET common_name = $1, body = $2 WHERE id = $3', [t.commonName, templateBody(t), t.id])
      .catch(conflict(() => templateTaken(t.commonName)));
    return r.rowCount ? t : null;
  }

  async deleteTemplate(id: number): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM cert_templates WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async listMetadataFields(): Promise<MetadataField[]> {
    return (await this.pool.query('SELECT * FROM cert_metadata_fields ORDER BY id')).rows.map(toMetadataField);
  }

  async insertMetadataField(f: Omit<MetadataField, 'id'>): Promise<MetadataField> {
    const r = await this.pool
      .query('INSERT INTO cert_metadata_fields (name, body) VALUES ($1, $2) RETURNING id', [f.name, metadataFieldBody(f)])
      .catch(conflict(() => metadataFieldTaken(f.name)));
    return { ...f, id: Number(r.rows[0].id) };
  }

  async updateMetadataField(f: MetadataField): Promise<MetadataField | null> {
    const r = await this.pool
      .query('UPDATE cert_metadata_fields SET name = $1, body = $2 WHERE id = $3', [f.name, metadataFieldBody(f), f.id])
      .catch(conflict(() => metadataFieldTaken(f.name)));
    return r.rowCount ? f : null;
  }

  async deleteMetadataField(id: number): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM cert_metadata_fields WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async createRequest(r: NewRequest): Promise<RequestRecord> {
    const acting = actingIdempotencyKey();
    const res = acting ? await this.pool.query(INSERT_REQUEST_ACTED, [...requestValues(r), acting.scope, acting.key]) : await this.pool.query(INSERT_REQUEST, requestValues(r));
    return insertedRequest(r, Number(res.rows[0].id));
  }

  async getRequest(id: number): Promise<RequestRecord | null> {
    const row = (await this.pool.query('SELECT * FROM cert_requests WHERE id = $1', [id])).rows[0];
    return row ? toRequest(row) : null;
  }

  async setRequestInstance(id: number, instanceId: string): Promise<void> {
    await this.pool.query('UPDATE cert_requests SET instance_id = $1 WHERE id = $2', [instanceId, id]);
  }

  async clearRequestKey(id: number): Promise<void> {
    await this.pool.query('UPDATE cert_requests SET sealed_key = NULL WHERE id = $1', [id]);
  }

  async recordIssued(c: NewCertificate): Promise<{ certificate: CertificateRecord; created: boolean }> {
    const inserted = await this.pool.query(INSERT_CERTIFICATE, certificateValues(c));
    if (inserted.rowCount) return { certificate: insertedCertificate(c, Number(inserted.rows[0].id)), created: true };
    return { certificate: (await this.findCertificateByRequest(c.requestId!))!, created: false };
  }

  async getCertificate(id: number): Promise<CertificateRecord | null> {
    const row = (await this.pool.query('SELECT * FROM certificates WHERE id = $1', [id])).rows[0];
    return row ? toCertificate(row) : null;
  }

  async findCertificateByRequest(requestId: number): Promise<CertificateRecord | null> {
    const row = (await this.pool.query('SELECT * FROM certificates WHERE request_id = $1', [requestId])).rows[0];
    return row ? toCertificate(row) : null;
  }

  async findCertificate(by: { thumbprint: string } | { serialNumber: string; issuerDn: string }): Promise<CertificateRecord | null> {
    const r =
      'thumbprint' in by
        ? await this.pool.query('SELECT * FROM certificates WHERE thumbprint = $1 ORDER BY id LIMIT 1', [by.thumbprint.toUpperCase()])
        : await this.pool.query('SELECT * FROM certificates WHERE serial_number = $1 AND issuer_dn = $2 ORDER BY id LIMIT 1', [by.serialNumber.toUpperCase(), by.issuerDn]);
    return r.rows[0] ? toCertificate(r.rows[0]) : null;
  }

  async queryCertificates(q: CertificateQuery): Promise<CertificateRecord[]> {
    const { clauses, params, bind: p } = filtered(q.filter);
    if (q.requesterId !== undefined) clauses.push(`requester_id = ${p(q.requesterId)}`);
    if (!q.includeExpired) clauses.push(`not_after >= ${p(q.now, '::timestamptz')}`);
    if (!q.includeRevoked) clauses.push('revocation_reason IS NULL');
    const sql = `SELECT * FROM certificates WHERE ${clauses.join(' AND ')} ORDER BY ${q.sortColumn} ${q.ascending ? 'ASC' : 'DESC'}, id LIMIT ${p(q.limit)} OFFSET ${p(q.offset)}`;
    return (await listQuery(this.pool, sql, params)).map(toCertificate);
  }

  async deleteCertificate(id: number): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM certificate_history WHERE certificate_id = $1', [id]);
      return ((await c.query('DELETE FROM certificates WHERE id = $1', [id])).rowCount ?? 0) > 0;
    });
  }

  async updateCertificateMetadata(id: number, metadata: Record<string, string>): Promise<boolean> {
    return ((await this.pool.query('UPDATE certificates SET metadata = $1 WHERE id = $2', [JSON.stringify(metadata), id])).rowCount ?? 0) > 0;
  }

  async clearCertificateKey(id: number): Promise<void> {
    await this.pool.query('UPDATE certificates SET sealed_key = NULL WHERE id = $1', [id]);
  }

  async addCertificateHistory(certificateId: number, e: Omit<CertificateHistoryEntry, 'id'>): Promise<void> {
    await this.pool.query(INSERT_HISTORY, historyValues(certificateId, e));
  }

  async listCertificateHistory(certificateId: number): Promise<CertificateHistoryEntry[]> {
    return (await this.pool.query('SELECT * FROM certificate_history WHERE certificate_id = $1 ORDER BY id', [certificateId])).rows.map(toHistory);
  }

  async reviseRevocation(
    certificateId: number,
    decide: (current: RevocationState | null, certificate: CertificateRecord) => RevocationState | null,
    history: Omit<CertificateHistoryEntry, 'id'>,
  ): Promise<{ certificate: CertificateRecord; changed: boolean } | null> {
    const acting = actingIdempotencyKey();
    return inTransaction(this.pool, async (c) => {
      const row = (await c.query('SELECT * FROM certificates WHERE id = $1 FOR UPDATE', [certificateId])).rows[0];
      if (!row) return null;
      const certificate = toCertificate(row);
      const current = certificate.revocation ?? null;
      const next = decide(current, certificate);
      if (JSON.stringify(next) === JSON.stringify(current)) return { certificate, changed: false };
      await c.query('UPDATE certificates SET revocation_reason = $1, revocation_date = $2, revocation_comment = $3 WHERE id = $4', [...revocationValues(next), certificateId]);
      await c.query(INSERT_HISTORY, historyValues(certificateId, history));
      if (certificate.caId !== null)
        await c.query('INSERT INTO ca_revocation_state (ca_id, revision) VALUES ($1, 1) ON CONFLICT (ca_id) DO UPDATE SET revision = ca_revocation_state.revision + 1', [
          certificate.caId,
        ]);
      if (acting) await c.query(MARK_ACTED_PG, [acting.scope, acting.key]);
      return { certificate: { ...certificate, revocation: next }, changed: true };
    });
  }

  async listRevoked(caId: number): Promise<RevokedEntry[]> {
    const r = await this.pool.query(
      'SELECT id, serial_number, revocation_reason, revocation_date FROM certificates WHERE ca_id = $1 AND revocation_reason IS NOT NULL ORDER BY id',
      [caId],
    );
    return r.rows.map(toRevokedEntry);
  }

  async findBySerial(caId: number, serialNumber: string): Promise<CertificateRecord | null> {
    const row = (await this.pool.query('SELECT * FROM certificates WHERE ca_id = $1 AND serial_number = $2 ORDER BY id LIMIT 1', [caId, serialNumber.toUpperCase()])).rows[0];
    return row ? toCertificate(row) : null;
  }

  async revocationState(caId: number): Promise<CaRevocationState> {
    return toRevocationState((await this.pool.query('SELECT * FROM ca_revocation_state WHERE ca_id = $1', [caId])).rows[0]);
  }

  async saveCrl(caId: number, crl: StoredCrl): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      await c.query('INSERT INTO ca_revocation_state (ca_id, revision) VALUES ($1, 0) ON CONFLICT (ca_id) DO NOTHING', [caId]);
      const r = await c.query(
        'UPDATE ca_revocation_state SET crl_number = $1, crl_revision = $2, crl_this_update = $3, crl_next_update = $4, crl_der = $5 WHERE ca_id = $6 AND crl_number < $1',
        [...crlValues(crl), caId],
      );
      return (r.rowCount ?? 0) > 0;
    });
  }
}
