import type Database from 'better-sqlite3';
import type { AcmeAccount, AcmeAuthz, AcmeOrder, AcmeProfile, EabKey } from '../../domain/acme/types.ts';
import { fromBody, inOrderOf, toBody, type AcmeStore } from '../acme-store.ts';

type Row = Record<string, unknown>;
const isUnique = (e: unknown): boolean => /SQLITE_CONSTRAINT/.test(String((e as { code?: string }).code));

/** The ACME side of the embedded store; each method is one synchronous (so atomic) statement or transaction. */
export class SqliteAcmeStore implements AcmeStore {
  private readonly statements = new Map<string, Database.Statement>();
  private consumed = 0;
  constructor(private readonly db: Database.Database) {}

  private st(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async addNonce(nonce: string, expiresAtMs: number): Promise<void> {
    this.st('INSERT INTO acme_nonces (nonce, expires_at) VALUES (?, ?)').run(nonce, expiresAtMs);
  }

  async consumeNonce(nonce: string, nowMs: number): Promise<boolean> {
    if (++this.consumed % 200 === 0) this.st('DELETE FROM acme_nonces WHERE expires_at <= ?').run(nowMs);
    const row = this.st('DELETE FROM acme_nonces WHERE nonce = ? RETURNING expires_at').get(nonce) as Row | undefined;
    return row !== undefined && Number(row.expires_at) > nowMs;
  }

  async insertAccount(a: AcmeAccount): Promise<{ account: AcmeAccount; created: boolean }> {
    const r = this.st('INSERT INTO acme_accounts (id, profile, thumbprint, body, rev) VALUES (?, ?, ?, ?, ?) ON CONFLICT (profile, thumbprint) DO NOTHING').run(
      a.id,
      a.profile,
      a.thumbprint,
      toBody(a),
      a.rev,
    );
    if (r.changes > 0) return { account: a, created: true };
    return { account: (await this.findAccountByThumbprint(a.profile, a.thumbprint))!, created: false };
  }

  async getAccount(id: string): Promise<AcmeAccount | null> {
    const row = this.st('SELECT body, rev FROM acme_accounts WHERE id = ?').get(id) as Row | undefined;
    return row ? fromBody<AcmeAccount>(row) : null;
  }

  async findAccountByThumbprint(profile: string, thumbprint: string): Promise<AcmeAccount | null> {
    const row = this.st('SELECT body, rev FROM acme_accounts WHERE profile = ? AND thumbprint = ?').get(profile, thumbprint) as Row | undefined;
    return row ? fromBody<AcmeAccount>(row) : null;
  }

  async saveAccount(a: AcmeAccount, expectedRev: number): Promise<boolean> {
    try {
      return (
        this.st('UPDATE acme_accounts SET thumbprint = ?, body = ?, rev = ? WHERE id = ? AND rev = ?').run(a.thumbprint, toBody(a), expectedRev + 1, a.id, expectedRev).changes > 0
      );
    } catch (e) {
      if (isUnique(e)) return false;
      throw e;
    }
  }

  async insertOrder(o: AcmeOrder, authzs: AcmeAuthz[]): Promise<void> {
    this.db.transaction(() => {
      this.st('INSERT INTO acme_orders (id, account_id, status, expires, certificate_id, body, rev) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        o.id,
        o.accountId,
        o.status,
        o.expires,
        o.certificateId,
        toBody(o),
        o.rev,
      );
      for (const a of authzs) this.st('INSERT INTO acme_authzs (id, order_id, body, rev) VALUES (?, ?, ?, ?)').run(a.id, a.orderId, toBody(a), a.rev);
    }).immediate();
  }

  async getOrder(id: string): Promise<AcmeOrder | null> {
    const row = this.st('SELECT body, rev FROM acme_orders WHERE id = ?').get(id) as Row | undefined;
    return row ? fromBody<AcmeOrder>(row) : null;
  }

  async saveOrder(o: AcmeOrder, expectedRev: number): Promise<boolean> {
    return (
      this.st('UPDATE acme_orders SET status = ?, expires = ?, certificate_id = ?, body = ?, rev = ? WHERE id = ? AND rev = ?').run(
        o.status,
        o.expires,
        o.certificateId,
        toBody(o),
        expectedRev + 1,
        o.id,
        expectedRev,
      ).changes > 0
    );
  }

  async countPendingOrders(accountId: string, now: string): Promise<number> {
    const row = this.st("SELECT COUNT(*) AS n FROM acme_orders WHERE account_id = ? AND status IN ('pending', 'ready', 'processing') AND expires > ?").get(accountId, now) as Row;
    return Number(row.n);
  }

  async listOrderIds(accountId: string, limit: number): Promise<string[]> {
    return (this.st('SELECT id FROM acme_orders WHERE account_id = ? ORDER BY rowid DESC LIMIT ?').all(accountId, limit) as Row[]).map((r) => r.id as string);
  }

  async findOrderByCertificate(certificateId: number): Promise<AcmeOrder | null> {
    const row = this.st('SELECT body, rev FROM acme_orders WHERE certificate_id = ? LIMIT 1').get(certificateId) as Row | undefined;
    return row ? fromBody<AcmeOrder>(row) : null;
  }

  async getAuthz(id: string): Promise<AcmeAuthz | null> {
    const row = this.st('SELECT body, rev FROM acme_authzs WHERE id = ?').get(id) as Row | undefined;
    return row ? fromBody<AcmeAuthz>(row) : null;
  }

  async listAuthzs(orderId: string): Promise<AcmeAuthz[]> {
    const authzs = (this.st('SELECT body, rev FROM acme_authzs WHERE order_id = ?').all(orderId) as Row[]).map((r) => fromBody<AcmeAuthz>(r));
    return inOrderOf((await this.getOrder(orderId))?.authzIds ?? [], authzs);
  }

  async saveAuthz(a: AcmeAuthz, expectedRev: number): Promise<boolean> {
    return this.st('UPDATE acme_authzs SET body = ?, rev = ? WHERE id = ? AND rev = ?').run(toBody(a), expectedRev + 1, a.id, expectedRev).changes > 0;
  }

  async insertEabKey(k: EabKey): Promise<void> {
    this.st('INSERT INTO acme_eab_keys (kid, body) VALUES (?, ?)').run(k.kid, JSON.stringify(k));
  }

  async getEabKey(kid: string): Promise<EabKey | null> {
    const row = this.st('SELECT body FROM acme_eab_keys WHERE kid = ?').get(kid) as Row | undefined;
    return row ? (JSON.parse(row.body as string) as EabKey) : null;
  }

  async listEabKeys(): Promise<EabKey[]> {
    return (this.st('SELECT body FROM acme_eab_keys ORDER BY kid').all() as Row[]).map((r) => JSON.parse(r.body as string) as EabKey);
  }

  async revokeEabKey(kid: string, at: string): Promise<boolean> {
    return this.db.transaction(() => {
      const row = this.st('SELECT body FROM acme_eab_keys WHERE kid = ?').get(kid) as Row | undefined;
      if (!row) return false;
      const k = JSON.parse(row.body as string) as EabKey;
      if (!k.revokedAt) this.st('UPDATE acme_eab_keys SET body = ? WHERE kid = ?').run(JSON.stringify({ ...k, revokedAt: at }), kid);
      return true;
    }).immediate();
  }

  async bindEabKey(kid: string, accountId: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        const row = this.st('SELECT body FROM acme_eab_keys WHERE kid = ?').get(kid) as Row | undefined;
        if (!row) return false;
        const k = JSON.parse(row.body as string) as EabKey;
        if (k.revokedAt || (k.accountId !== null && k.accountId !== accountId)) return false;
        this.st('UPDATE acme_eab_keys SET body = ? WHERE kid = ?').run(JSON.stringify({ ...k, accountId }), kid);
        return true;
      })
      .immediate();
  }

  async listProfiles(): Promise<AcmeProfile[]> {
    return (this.st('SELECT body FROM acme_profiles ORDER BY name').all() as Row[]).map((r) => JSON.parse(r.body as string) as AcmeProfile);
  }

  async getProfile(name: string): Promise<AcmeProfile | null> {
    const row = this.st('SELECT body FROM acme_profiles WHERE name = ?').get(name.toLowerCase()) as Row | undefined;
    return row ? (JSON.parse(row.body as string) as AcmeProfile) : null;
  }

  async putProfile(p: AcmeProfile): Promise<void> {
    this.st('INSERT INTO acme_profiles (name, body) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body').run(p.name.toLowerCase(), JSON.stringify(p));
  }

  async deleteProfile(name: string): Promise<boolean> {
    return this.st('DELETE FROM acme_profiles WHERE name = ?').run(name.toLowerCase()).changes > 0;
  }
}
