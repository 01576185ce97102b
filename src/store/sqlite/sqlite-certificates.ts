import type Database from 'better-sqlite3';
import { compileSql } from '../query-sql.ts';
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
import type { Row } from '../row-values.ts';
import { isUniqueViolation as isUnique, sqliteParam } from './sqlite-sql.ts';
import { actingIdempotencyKey, MARK_ACTED_SQLITE } from '../idempotency-rows.ts';

const placeholders = (columns: readonly string[]): string => columns.map(() => '?').join(', ');
const INSERT_CA = `INSERT INTO cert_authorities (${CA_COLUMNS.join(', ')}) VALUES (${placeholders(CA_COLUMNS)}) ON CONFLICT (logical_name) DO NOTHING`;
const INSERT_REQUEST = `INSERT INTO cert_requests (${REQUEST_COLUMNS.join(', ')}) VALUES (${placeholders(REQUEST_COLUMNS)})`;
const INSERT_CERTIFICATE = `INSERT INTO certificates (${CERT_COLUMNS.join(', ')}) VALUES (${placeholders(CERT_COLUMNS)})`;
const INSERT_HISTORY = 'INSERT INTO certificate_history (certificate_id, at, username, action, comment) VALUES (?, ?, ?, ?, ?)';

/** The certificate side of the embedded store. better-sqlite3 is synchronous: each method is atomic. */
export class SqliteCertificateStore implements CertificateStore {
  private readonly statements = new Map<string, Database.Statement>();
  constructor(private readonly db: Database.Database) {}

  /** Prepared once per SQL text (the list query's text varies with its filter; those are few). */
  private st(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async listCas(): Promise<CaRecord[]> {
    return (this.st('SELECT * FROM cert_authorities ORDER BY id').all() as Row[]).map(toCa);
  }

  async updateCaChain(id: number, chainPem: string[]): Promise<boolean> {
    return this.st('UPDATE cert_authorities SET chain_pem = ? WHERE id = ?').run(JSON.stringify(chainPem), id).changes > 0;
  }

  async putAcmeChallenge(token: string, keyAuthorization: string, expiresAt: string): Promise<void> {
    this.db
      .transaction(() => {
        this.st('DELETE FROM upstream_acme_challenges WHERE expires_at < ?').run(new Date().toISOString());
        this.st(
          'INSERT INTO upstream_acme_challenges (token, key_authorization, expires_at) VALUES (?, ?, ?) ON CONFLICT (token) DO UPDATE SET key_authorization = excluded.key_authorization, expires_at = excluded.expires_at',
        ).run(token, keyAuthorization, expiresAt);
      })
      .immediate();
  }

  async getAcmeChallenge(token: string, now: string): Promise<string | null> {
    const row = this.st('SELECT key_authorization FROM upstream_acme_challenges WHERE token = ? AND expires_at >= ?').get(token, now) as Row | undefined;
    return row ? String(row.key_authorization) : null;
  }

  async deleteAcmeChallenge(token: string): Promise<void> {
    this.st('DELETE FROM upstream_acme_challenges WHERE token = ?').run(token);
  }

  async getAcmeOrder(caId: number, idempotencyKey: string): Promise<string | null> {
    const row = this.st('SELECT order_url FROM upstream_acme_orders WHERE ca_id = ? AND idempotency_key = ?').get(caId, idempotencyKey) as Row | undefined;
    return row ? String(row.order_url) : null;
  }

  async putAcmeOrder(caId: number, idempotencyKey: string, orderUrl: string, createdAt: string): Promise<void> {
    this.st(
      'INSERT INTO upstream_acme_orders (ca_id, idempotency_key, order_url, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (ca_id, idempotency_key) DO UPDATE SET order_url = excluded.order_url, created_at = excluded.created_at',
    ).run(caId, idempotencyKey, orderUrl, createdAt);
  }

  async insertCaIfAbsent(ca: Omit<CaRecord, 'id'>): Promise<CaRecord> {
    this.st(INSERT_CA).run(...caValues(ca, ca.imported ? 1 : 0));
    return toCa(this.st('SELECT * FROM cert_authorities WHERE logical_name = ?').get(ca.logicalName) as Row);
  }

  async listTemplates(): Promise<Template[]> {
    return (this.st('SELECT * FROM cert_templates ORDER BY id').all() as Row[]).map(toTemplate);
  }

  async getTemplate(id: number): Promise<Template | null> {
    const row = this.st('SELECT * FROM cert_templates WHERE id = ?').get(id) as Row | undefined;
    return row ? toTemplate(row) : null;
  }

  async insertTemplate(t: Omit<Template, 'id'>): Promise<Template> {
    try {
      const r = this.st('INSERT INTO cert_templates (common_name, body) VALUES (?, ?)').run(t.commonName, templateBody(t));
      return { ...t, id: Number(r.lastInsertRowid) };
    } catch (e) {
      if (isUnique(e)) throw templateTaken(t.commonName);
      throw e;
    }
  }

  async insertTemplateIfNone(t: Omit<Template, 'id'>): Promise<boolean> {
    return this.db
      .transaction(() => {
        if ((this.st('SELECT COUNT(*) AS n FROM cert_templates').get() as { n: number }).n > 0) return false;
        this.st('INSERT INTO cert_templates (common_name, body) VALUES (?, ?)').run(t.commonName, templateBody(t));
        return true;
      })
      .immediate();
  }

  async updateTemplate(t: Template): Promise<Template | null> {
    const r = this.st('UPDATE cert_templates SET common_name = ?, body = ? WHERE id = ?').run(t.commonName, templateBody(t), t.id);
    return r.changes ? t : null;
  }

  async deleteTemplate(id: number): Promise<boolean> {
    return this.st('DELETE FROM cert_templates WHERE id = ?').run(id).changes > 0;
  }

  async listMetadataFields(): Promise<MetadataField[]> {
    return (this.st('SELECT * FROM cert_metadata_fields ORDER BY id').all() as Row[]).map(toMetadataField);
  }

  async insertMetadataField(f: Omit<MetadataField, 'id'>): Promise<MetadataField> {
    try {
      const r = this.st('INSERT INTO cert_metadata_fields (name, body) VALUES (?, ?)').run(f.name, metadataFieldBody(f));
      return { ...f, id: Number(r.lastInsertRowid) };
    } catch (e) {
      if (isUnique(e)) throw metadataFieldTaken(f.name);
      throw e;
    }
  }

  async updateMetadataField(f: MetadataField): Promise<MetadataField | null> {
    try {
      const r = this.st('UPDATE cert_metadata_fields SET name = ?, body = ? WHERE id = ?').run(f.name, metadataFieldBody(f), f.id);
      return r.changes ? f : null;
    } catch (e) {
      if (isUnique(e)) throw metadataFieldTaken(f.name);
      throw e;
    }
  }

  async deleteMetadataField(id: number): Promise<boolean> {
    return this.st('DELETE FROM cert_metadata_fields WHERE id = ?').run(id).changes > 0;
  }

  async createRequest(r: NewRequest): Promise<RequestRecord> {
    const acting = actingIdempotencyKey();
    return this.db
      .transaction(() => {
        const res = this.st(INSERT_REQUEST).run(...requestValues(r));
        this.markActed(acting);
        return insertedRequest(r, Number(res.lastInsertRowid));
      })
      .immediate();
  }

  /** Marks the Idempotency-Key the work acts under, in the work's own transaction (idempotency-rows.ts). */
  private markActed(acting: { scope: number; key: string } | null): void {
    if (acting) this.st(MARK_ACTED_SQLITE).run(new Date().toISOString(), acting.scope, acting.key);
  }

  async getRequest(id: number): Promise<RequestRecord | null> {
    const row = this.st('SELECT * FROM cert_requests WHERE id = ?').get(id) as Row | undefined;
    return row ? toRequest(row) : null;
  }

  async setRequestInstance(id: number, instanceId: string): Promise<void> {
    this.st('UPDATE cert_requests SET instance_id = ? WHERE id = ?').run(instanceId, id);
  }

  async clearRequestKey(id: number): Promise<void> {
    this.st('UPDATE cert_requests SET sealed_key = NULL WHERE id = ?').run(id);
  }

  async recordIssued(c: NewCertificate): Promise<{ certificate: CertificateRecord; created: boolean }> {
    return this.db
      .transaction(() => {
        if (c.requestId !== null) {
          const existing = this.st('SELECT * FROM certificates WHERE request_id = ?').get(c.requestId) as Row | undefined;
          if (existing) return { certificate: toCertificate(existing), created: false };
        }
        const r = this.st(INSERT_CERTIFICATE).run(...certificateValues(c));
        return { certificate: insertedCertificate(c, Number(r.lastInsertRowid)), created: true };
      })
      .immediate();
  }

  async getCertificate(id: number): Promise<CertificateRecord | null> {
    const row = this.st('SELECT * FROM certificates WHERE id = ?').get(id) as Row | undefined;
    return row ? toCertificate(row) : null;
  }

  async findCertificateByRequest(requestId: number): Promise<CertificateRecord | null> {
    const row = this.st('SELECT * FROM certificates WHERE request_id = ?').get(requestId) as Row | undefined;
    return row ? toCertificate(row) : null;
  }

  async findCertificate(by: { thumbprint: string } | { serialNumber: string; issuerDn: string }): Promise<CertificateRecord | null> {
    const row = (
      'thumbprint' in by
        ? this.st('SELECT * FROM certificates WHERE thumbprint = ? ORDER BY id LIMIT 1').get(by.thumbprint.toUpperCase())
        : this.st('SELECT * FROM certificates WHERE serial_number = ? AND issuer_dn = ? ORDER BY id LIMIT 1').get(by.serialNumber.toUpperCase(), by.issuerDn)
    ) as Row | undefined;
    return row ? toCertificate(row) : null;
  }

  async queryCertificates(q: CertificateQuery): Promise<CertificateRecord[]> {
    const where = compileSql(q.filter, 'sqlite');
    const clauses = [where.sql || '1=1'];
    const params: unknown[] = where.params.map(sqliteParam);
    if (q.requesterId !== undefined) {
      clauses.push('requester_id = ?');
      params.push(q.requesterId);
    }
    if (!q.includeExpired) {
      clauses.push('not_after >= ?');
      params.push(q.now);
    }
    if (!q.includeRevoked) clauses.push('revocation_reason IS NULL');
    const sql = `SELECT * FROM certificates WHERE ${clauses.join(' AND ')} ORDER BY ${q.sortColumn} ${q.ascending ? 'ASC' : 'DESC'}, id LIMIT ? OFFSET ?`;
    return (this.db.prepare(sql).all(...params, q.limit, q.offset) as Row[]).map(toCertificate);
  }

  async deleteCertificate(id: number): Promise<boolean> {
    return this.db
      .transaction(() => {
        this.st('DELETE FROM certificate_history WHERE certificate_id = ?').run(id);
        return this.st('DELETE FROM certificates WHERE id = ?').run(id).changes > 0;
      })
      .immediate();
  }

  async updateCertificateMetadata(id: number, metadata: Record<string, string>): Promise<boolean> {
    return this.st('UPDATE certificates SET metadata = ? WHERE id = ?').run(JSON.stringify(metadata), id).changes > 0;
  }

  async clearCertificateKey(id: number): Promise<void> {
    this.st('UPDATE certificates SET sealed_key = NULL WHERE id = ?').run(id);
  }

  async addCertificateHistory(certificateId: number, e: Omit<CertificateHistoryEntry, 'id'>): Promise<void> {
    this.st(INSERT_HISTORY).run(...historyValues(certificateId, e));
  }

  async listCertificateHistory(certificateId: number): Promise<CertificateHistoryEntry[]> {
    return (this.st('SELECT * FROM certificate_history WHERE certificate_id = ? ORDER BY id').all(certificateId) as Row[]).map(toHistory);
  }

  async reviseRevocation(
    certificateId: number,
    decide: (current: RevocationState | null, certificate: CertificateRecord) => RevocationState | null,
    history: Omit<CertificateHistoryEntry, 'id'>,
  ): Promise<{ certificate: CertificateRecord; changed: boolean } | null> {
    const acting = actingIdempotencyKey();
    return this.db
      .transaction(() => {
        const row = this.st('SELECT * FROM certificates WHERE id = ?').get(certificateId) as Row | undefined;
        if (!row) return null;
        const certificate = toCertificate(row);
        const current = certificate.revocation ?? null;
        const next = decide(current, certificate);
        if (JSON.stringify(next) === JSON.stringify(current)) return { certificate, changed: false };
        this.st('UPDATE certificates SET revocation_reason = ?, revocation_date = ?, revocation_comment = ? WHERE id = ?').run(...revocationValues(next), certificateId);
        this.st(INSERT_HISTORY).run(...historyValues(certificateId, history));
        if (certificate.caId !== null)
          this.st('INSERT INTO ca_revocation_state (ca_id, revision) VALUES (?, 1) ON CONFLICT (ca_id) DO UPDATE SET revision = revision + 1').run(certificate.caId);
        this.markActed(acting);
        return { certificate: { ...certificate, revocation: next }, changed: true };
      })
      .immediate();
  }

  async listRevoked(caId: number): Promise<RevokedEntry[]> {
    return (
      this.st('SELECT id, serial_number, revocation_reason, revocation_date FROM certificates WHERE ca_id = ? AND revocation_reason IS NOT NULL ORDER BY id').all(caId) as Row[]
    ).map(toRevokedEntry);
  }

  async findBySerial(caId: number, serialNumber: string): Promise<CertificateRecord | null> {
    const row = this.st('SELECT * FROM certificates WHERE ca_id = ? AND serial_number = ? ORDER BY id LIMIT 1').get(caId, serialNumber.toUpperCase()) as Row | undefined;
    return row ? toCertificate(row) : null;
  }

  async revocationState(caId: number): Promise<CaRevocationState> {
    return toRevocationState(this.st('SELECT * FROM ca_revocation_state WHERE ca_id = ?').get(caId) as Row | undefined);
  }

  async saveCrl(caId: number, crl: StoredCrl): Promise<boolean> {
    return this.db
      .transaction(() => {
        this.st('INSERT INTO ca_revocation_state (ca_id, revision) VALUES (?, 0) ON CONFLICT (ca_id) DO NOTHING').run(caId);
        const r = this.st(
          'UPDATE ca_revocation_state SET crl_number = ?, crl_revision = ?, crl_this_update = ?, crl_next_update = ?, crl_der = ? WHERE ca_id = ? AND crl_number < ?',
        ).run(...crlValues(crl), caId, crl.number);
        return r.changes > 0;
      })
      .immediate();
  }
}
