import type Database from 'better-sqlite3';
import type { AcmeAccount, AcmeAuthz, AcmeOrder, AcmeProfile, EabKey } from '../../domain/acme/types.ts';
import type { AcmeStore } from '../acme-store.ts';
import {
  ACCOUNT_COLUMNS,
  AUTHZ_COLUMNS,
  NONCE_PRUNE_EVERY,
  ORDER_COLUMNS,
  accountValues,
  authzValues,
  boundEabKey,
  fromBody,
  inOrderOf,
  nonceWasValid,
  orderValues,
  profileKey,
  revokedEabKey,
  toBody,
  toEabKey,
  toProfile,
} from '../acme-rows.ts';
import type { Row } from '../row-values.ts';

const insertSql = (table: string, columns: readonly string[]): string => `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
/* Built once: the ACME paths are hot. */
const INSERT_ACCOUNT = `${insertSql('acme_accounts', ACCOUNT_COLUMNS)} ON CONFLICT (profile, thumbprint) DO NOTHING`;
const INSERT_ORDER = insertSql('acme_orders', ORDER_COLUMNS);
const INSERT_AUTHZ = insertSql('acme_authzs', AUTHZ_COLUMNS);
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
    if (++this.consumed % NONCE_PRUNE_EVERY === 0) this.st('DELETE FROM acme_nonces WHERE expires_at <= ?').run(nowMs);
    return nonceWasValid(this.st('DELETE FROM acme_nonces WHERE nonce = ? RETURNING expires_at').get(nonce) as Row | undefined, nowMs);
  }

  async insertAccount(a: AcmeAccount): Promise<{ account: AcmeAccount; created: boolean }> {
    const r = this.st(INSERT_ACCOUNT).run(...accountValues(a));
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
    this.db
      .transaction(() => {
        this.st(INSERT_ORDER).run(...orderValues(o));
        for (const a of authzs) this.st(INSERT_AUTHZ).run(...authzValues(a));
      })
      .immediate();
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
    return row ? toEabKey(row) : null;
  }

  async listEabKeys(): Promise<EabKey[]> {
    return (this.st('SELECT body FROM acme_eab_keys ORDER BY kid').all() as Row[]).map(toEabKey);
  }

  async revokeEabKey(kid: string, at: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        const row = this.st('SELECT body FROM acme_eab_keys WHERE kid = ?').get(kid) as Row | undefined;
        if (!row) return false;
        const revoked = revokedEabKey(toEabKey(row), at);
        if (revoked) this.st('UPDATE acme_eab_keys SET body = ? WHERE kid = ?').run(JSON.stringify(revoked), kid);
        return true;
      })
      .immediate();
  }

  async bindEabKey(kid: string, accountId: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        const row = this.st('SELECT body FROM acme_eab_keys WHERE kid = ?').get(kid) as Row | undefined;
        if (!row) return false;
        const bound = boundEabKey(toEabKey(row), accountId);
        if (!bound) return false;
        this.st('UPDATE acme_eab_keys SET body = ? WHERE kid = ?').run(JSON.stringify(bound), kid);
        return true;
      })
      .immediate();
  }

  async listProfiles(): Promise<AcmeProfile[]> {
    return (this.st('SELECT body FROM acme_profiles ORDER BY name').all() as Row[]).map(toProfile);
  }

  async getProfile(name: string): Promise<AcmeProfile | null> {
    const row = this.st('SELECT body FROM acme_profiles WHERE name = ?').get(profileKey(name)) as Row | undefined;
    return row ? toProfile(row) : null;
  }

  async putProfile(p: AcmeProfile): Promise<void> {
    this.st('INSERT INTO acme_profiles (name, body) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body').run(profileKey(p.name), JSON.stringify(p));
  }

  async deleteProfile(name: string): Promise<boolean> {
    return this.st('DELETE FROM acme_profiles WHERE name = ?').run(profileKey(name)).changes > 0;
  }
}
