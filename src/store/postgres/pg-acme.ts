import type pg from 'pg';
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
import { inTransaction, isUniqueViolation, type Row } from './pg-db.ts';

const insertSql = (table: string, columns: readonly string[]): string => `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`;
/* Built once: the ACME paths are hot. */
const INSERT_ACCOUNT = `${insertSql('acme_accounts', ACCOUNT_COLUMNS)} ON CONFLICT (profile, thumbprint) DO NOTHING`;
const INSERT_ORDER = insertSql('acme_orders', ORDER_COLUMNS);
const INSERT_AUTHZ = insertSql('acme_authzs', AUTHZ_COLUMNS);

/** The ACME side of the PostgreSQL store: single statements, conditional on the revision; EAB binding under a row lock. */
export class PgAcmeStore implements AcmeStore {
  private consumed = 0;
  constructor(private readonly pool: pg.Pool) {}

  private async one(sql: string, params: unknown[]): Promise<Row | undefined> {
    return (await this.pool.query(sql, params)).rows[0];
  }

  async addNonce(nonce: string, expiresAtMs: number): Promise<void> {
    await this.pool.query('INSERT INTO acme_nonces (nonce, expires_at) VALUES ($1, $2)', [nonce, expiresAtMs]);
  }

  async consumeNonce(nonce: string, nowMs: number): Promise<boolean> {
    if (++this.consumed % NONCE_PRUNE_EVERY === 0) await this.pool.query('DELETE FROM acme_nonces WHERE expires_at <= $1', [nowMs]);
    return nonceWasValid(await this.one('DELETE FROM acme_nonces WHERE nonce = $1 RETURNING expires_at', [nonce]), nowMs);
  }

  async insertAccount(a: AcmeAccount): Promise<{ account: AcmeAccount; created: boolean }> {
    const r = await this.pool.query(INSERT_ACCOUNT, accountValues(a));
    if ((r.rowCount ?? 0) > 0) return { account: a, created: true };
    return { account: (await this.findAccountByThumbprint(a.profile, a.thumbprint))!, created: false };
  }

  async getAccount(id: string): Promise<AcmeAccount | null> {
    const row = await this.one('SELECT body, rev FROM acme_accounts WHERE id = $1', [id]);
    return row ? fromBody<AcmeAccount>(row) : null;
  }

  async findAccountByThumbprint(profile: string, thumbprint: string): Promise<AcmeAccount | null> {
    const row = await this.one('SELECT body, rev FROM acme_accounts WHERE profile = $1 AND thumbprint = $2', [profile, thumbprint]);
    return row ? fromBody<AcmeAccount>(row) : null;
  }

  async saveAccount(a: AcmeAccount, expectedRev: number): Promise<boolean> {
    try {
      const r = await this.pool.query('UPDATE acme_accounts SET thumbprint = $1, body = $2, rev = $3 WHERE id = $4 AND rev = $5', [
        a.thumbprint,
        toBody(a),
        expectedRev + 1,
        a.id,
        expectedRev,
      ]);
      return (r.rowCount ?? 0) > 0;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  async insertOrder(o: AcmeOrder, authzs: AcmeAuthz[]): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(INSERT_ORDER, orderValues(o));
      for (const a of authzs) await c.query(INSERT_AUTHZ, authzValues(a));
    });
  }

  async getOrder(id: string): Promise<AcmeOrder | null> {
    const row = await this.one('SELECT body, rev FROM acme_orders WHERE id = $1', [id]);
    return row ? fromBody<AcmeOrder>(row) : null;
  }

  async saveOrder(o: AcmeOrder, expectedRev: number): Promise<boolean> {
    const r = await this.pool.query('UPDATE acme_orders SET status = $1, expires = $2, certificate_id = $3, body = $4, rev = $5 WHERE id = $6 AND rev = $7', [
      o.status,
      o.expires,
      o.certificateId,
      toBody(o),
      expectedRev + 1,
      o.id,
      expectedRev,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async countPendingOrders(accountId: string, now: string): Promise<number> {
    const row = await this.one("SELECT COUNT(*) AS n FROM acme_orders WHERE account_id = $1 AND status IN ('pending', 'ready', 'processing') AND expires > $2", [accountId, now]);
    return Number(row?.n ?? 0);
  }

  async listOrderIds(accountId: string, limit: number): Promise<string[]> {
    return (await this.pool.query('SELECT id FROM acme_orders WHERE account_id = $1 ORDER BY created_seq DESC LIMIT $2', [accountId, limit])).rows.map((r) => r.id as string);
  }

  async findOrderByCertificate(certificateId: number): Promise<AcmeOrder | null> {
    const row = await this.one('SELECT body, rev FROM acme_orders WHERE certificate_id = $1 LIMIT 1', [certificateId]);
    return row ? fromBody<AcmeOrder>(row) : null;
  }

  async getAuthz(id: string): Promise<AcmeAuthz | null> {
    const row = await this.one('SELECT body, rev FROM acme_authzs WHERE id = $1', [id]);
    return row ? fromBody<AcmeAuthz>(row) : null;
  }

  async listAuthzs(orderId: string): Promise<AcmeAuthz[]> {
    const authzs = (await this.pool.query('SELECT body, rev FROM acme_authzs WHERE order_id = $1', [orderId])).rows.map((r) => fromBody<AcmeAuthz>(r));
    const order = await this.getOrder(orderId);
    return inOrderOf(order?.authzIds ?? [], authzs);
  }

  async saveAuthz(a: AcmeAuthz, expectedRev: number): Promise<boolean> {
    const r = await this.pool.query('UPDATE acme_authzs SET body = $1, rev = $2 WHERE id = $3 AND rev = $4', [toBody(a), expectedRev + 1, a.id, expectedRev]);
    return (r.rowCount ?? 0) > 0;
  }

  async insertEabKey(k: EabKey): Promise<void> {
    await this.pool.query('INSERT INTO acme_eab_keys (kid, body) VALUES ($1, $2)', [k.kid, JSON.stringify(k)]);
  }

  async getEabKey(kid: string): Promise<EabKey | null> {
    const row = await this.one('SELECT body FROM acme_eab_keys WHERE kid = $1', [kid]);
    return row ? toEabKey(row) : null;
  }

  async listEabKeys(): Promise<EabKey[]> {
    return (await this.pool.query('SELECT body FROM acme_eab_keys ORDER BY kid')).rows.map(toEabKey);
  }

  async revokeEabKey(kid: string, at: string): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const row = (await c.query('SELECT body FROM acme_eab_keys WHERE kid = $1 FOR UPDATE', [kid])).rows[0];
      if (!row) return false;
      const revoked = revokedEabKey(toEabKey(row), at);
      if (revoked) await c.query('UPDATE acme_eab_keys SET body = $1 WHERE kid = $2', [JSON.stringify(revoked), kid]);
      return true;
    });
  }

  async bindEabKey(kid: string, accountId: string): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const row = (await c.query('SELECT body FROM acme_eab_keys WHERE kid = $1 FOR UPDATE', [kid])).rows[0];
      if (!row) return false;
      const bound = boundEabKey(toEabKey(row), accountId);
      if (!bound) return false;
      await c.query('UPDATE acme_eab_keys SET body = $1 WHERE kid = $2', [JSON.stringify(bound), kid]);
      return true;
    });
  }

  async listProfiles(): Promise<AcmeProfile[]> {
    return (await this.pool.query('SELECT body FROM acme_profiles ORDER BY name')).rows.map(toProfile);
  }

  async getProfile(name: string): Promise<AcmeProfile | null> {
    const row = await this.one('SELECT body FROM acme_profiles WHERE name = $1', [profileKey(name)]);
    return row ? toProfile(row) : null;
  }

  async putProfile(p: AcmeProfile): Promise<void> {
    await this.pool.query('INSERT INTO acme_profiles (name, body) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET body = excluded.body', [profileKey(p.name), JSON.stringify(p)]);
  }

  async deleteProfile(name: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM acme_profiles WHERE name = $1', [profileKey(name)])).rowCount ?? 0) > 0;
  }
}
