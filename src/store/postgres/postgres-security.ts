import type pg from 'pg';
import { CountersignError, fail } from '../../domain/errors.ts';
import { compileSql } from '../query-sql.ts';
import type { LoginThrottleState } from '../../domain/login-throttle.ts';
import type { Identity, ListQuery, LoginThrottleChange, NewRole, Paging, Role, RoleClaim, SecurityGuard, SecurityStore } from '../store.ts';
import { USER_CLAIM } from '../../domain/membership.ts';
import { inTransaction, isUniqueViolation, listQuery, type Q, type Row, type TxOptions } from './pg-db.ts';
import { matchRows, namePart, planClaims, toClaim, toIdentity, toThrottle } from '../security-rows.ts';
import type { ClaimMatch } from '../../domain/security/external-claims.ts';

/*
 * Identities, roles, role members and role claims in PostgreSQL, with the semantics of
 * sqlite-security.ts (same errors and messages). Every mutation bumps
 * counters.security_generation in its own transaction, so caches on every node can tell.
 */

const SORT_COLUMN = /^[a-z_][a-z0-9_.]*$/i;

/** Text columns sort case-insensitively, as SQLite's COLLATE NOCASE does; others as they are. */
const TEXT_SORT = new Set(['account_name', 'identity_type', 'name', 'description', 'email', 'permission_set_id']);

function orderBy(paging: Paging, fallback: string): string {
  // The sort column is trusted (code-defined), but check its shape anyway: it is spliced into SQL.
  const col = SORT_COLUMN.test(paging.sortColumn) ? paging.sortColumn : fallback;
  // NULLS FIRST ascending (and LAST descending) is SQLite's order; PostgreSQL's default is the reverse.
  const dir = paging.ascending ? 'ASC NULLS FIRST' : 'DESC NULLS LAST';
  return col === 'id' ? `ORDER BY id ${dir}` : `ORDER BY ${TEXT_SORT.has(col) ? `lower(${col})` : col} ${dir}, id ${dir}`;
}

const limits = (paging: Paging): [number, number] => [Math.max(0, Math.floor(paging.limit)), Math.max(0, Math.floor(paging.offset))];

const roleParams = (role: NewRole): unknown[] => [
  role.name,
  role.description,
  role.email,
  role.enabled,
  role.private,
  role.immutable,
  JSON.stringify(role.permissions),
  role.permissionSetId.toLowerCase(),
];

export class PostgresSecurityStore implements SecurityStore {
  constructor(protected readonly pool: pg.Pool) {}

  protected tx<R>(fn: (c: pg.PoolClient) => Promise<R>, opts?: TxOptions): Promise<R> {
    return inTransaction(this.pool, fn, opts);
  }

  private async bump(c: Q): Promise<void> {
    await c.query(`UPDATE counters SET value = value + 1 WHERE name = 'security_generation'`);
  }

  // Identities ----------------------------------------------------------------------------------

  async countIdentities(): Promise<number> {
    return (await this.pool.query('SELECT COUNT(*)::int AS n FROM identities')).rows[0].n;
  }

  async createIdentity(identity: Omit<Identity, 'id'>): Promise<Identity> {
    return this.tx(async (c) => {
      const taken = (await c.query('SELECT account_name FROM identities WHERE lower(account_name) = lower($1)', [identity.accountName])).rows[0];
      if (taken) fail('IdentityExists', `An identity named '${taken.account_name}' already exists.`);
      let id: number;
      try {
        const res = await c.query(
          `INSERT INTO identities (account_name, identity_type, sid, email, password_hash, created_at, name_part)
           VALUES ($1, $2, $3, $4, $5, $6, lower($7)) RETURNING id`,
          [identity.accountName, identity.identityType, identity.sid, identity.email, identity.passwordHash, identity.createdAt, namePart(identity.accountName)],
        );
        id = res.rows[0].id;
      } catch (e) {
        // Another node inserted the same name between our check and our insert.
        if (isUniqueViolation(e)) fail('IdentityExists', `An identity named '${identity.accountName}' already exists.`);
        throw e;
      }
      await this.bump(c);
      return { ...identity, id };
    });
  }

  async getIdentity(id: number): Promise<Identity | null> {
    const row = (await this.pool.query('SELECT * FROM identities WHERE id = $1', [id])).rows[0];
    return row ? toIdentity(row) : null;
  }

  async findIdentityByName(accountName: string): Promise<Identity | null> {
    const row = (await this.pool.query('SELECT * FROM identities WHERE lower(account_name) = lower($1)', [accountName])).rows[0];
    return row ? toIdentity(row) : null;
  }

  async findIdentitiesByNamePart(part: string, limit: number): Promise<Identity[]> {
    const res = await this.pool.query('SELECT * FROM identities WHERE name_part = lower($1) ORDER BY id LIMIT $2', [part, Math.max(0, Math.floor(limit))]);
    return res.rows.map(toIdentity);
  }

  async listIdentities(paging: Paging): Promise<Identity[]> {
    const [limit, offset] = limits(paging);
    const res = await this.pool.query(`SELECT * FROM identities ${orderBy(paging, 'id')} LIMIT $1 OFFSET $2`, [limit, offset]);
    return res.rows.map(toIdentity);
  }

  async updateIdentity(id: number, patch: Partial<Pick<Identity, 'email' | 'passwordHash'>>): Promise<Identity | null> {
    return this.tx(async (c) => {
      const row = (await c.query('SELECT * FROM identities WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!row) return null;
      const next = {
        ...row,
        email: patch.email === undefined ? row.email : patch.email,
        password_hash: patch.passwordHash === undefined ? row.password_hash : patch.passwordHash,
      };
      await c.query('UPDATE identities SET email = $1, password_hash = $2 WHERE id = $3', [next.email, next.password_hash, id]);
      await this.bump(c);
      return toIdentity(next);
    });
  }

  async replacePasswordHash(id: number, expected: string, next: string, securityChange: boolean): Promise<boolean> {
    return this.tx(async (c) => {
      const changed = ((await c.query('UPDATE identities SET password_hash = $1 WHERE id = $2 AND password_hash = $3', [next, id, expected])).rowCount ?? 0) > 0;
      if (changed && securityChange) await this.bump(c);
      return changed;
    });
  }

  async deleteIdentity(id: number, guard?: SecurityGuard): Promise<boolean> {
    return this.tx(async (c) => {
      await this.check(c, guard, []);
      await c.query('DELETE FROM role_identities WHERE identity_id = $1', [id]);
      const gone = ((await c.query('DELETE FROM identities WHERE id = $1', [id])).rowCount ?? 0) > 0;
      if (gone) await this.bump(c);
      return gone;
    });
  }

  // Roles ---------------------------------------------------------------------------------------

  async createRole(role: NewRole, guard?: SecurityGuard): Promise<Role> {
    return this.tx(async (c) => {
      await this.check(c, guard, role.claims);
      await this.assertNameFree(c, role.name, null);
      const id = await this.catchNameTaken(role.name, async () => {
        const res = await c.query(
          `INSERT INTO roles (name, description, email, enabled, private, immutable, permissions, permission_set_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8) RETURNING id`,
          roleParams(role),
        );
        return res.rows[0].id as number;
      });
      await this.writeMembers(c, id, role.identityIds);
      await this.writeClaims(c, id, role.claims);
      await this.bump(c);
      return (await this.loadRole(c, id))!;
    });
  }

  async updateRole(id: number, role: NewRole, guard?: SecurityGuard): Promise<Role | null> {
    return this.tx(async (c) => {
      await this.check(c, guard, role.claims);
      if (!(await c.query('SELECT 1 FROM roles WHERE id = $1 FOR UPDATE', [id])).rowCount) return null;
      await this.assertNameFree(c, role.name, id);
      await this.catchNameTaken(role.name, () =>
        c.query(
          `UPDATE roles SET name = $1, description = $2, email = $3, enabled = $4, private = $5, immutable = $6,
             permissions = $7::jsonb, permission_set_id = $8 WHERE id = $9`,
          [...roleParams(role), id],
        ),
      );
      await this.writeMembers(c, id, role.identityIds);
      await this.writeClaims(c, id, role.claims);
      await this.bump(c);
      return this.loadRole(c, id);
    });
  }

  async getRole(id: number): Promise<Role | null> {
    return this.loadRole(this.pool, id);
  }

  async listRoles(q: ListQuery): Promise<Role[]> {
    const where = compileSql(q.filter, 'postgres', 1);
    const [limit, offset] = limits(q);
    const n = where.params.length;
    const rows = await listQuery(this.pool, `SELECT * FROM roles WHERE ${where.sql} ${orderBy(q, 'id')} LIMIT $${n + 1} OFFSET $${n + 2}`, [...where.params, limit, offset]);
    return this.hydrate(this.pool, rows);
  }

  async deleteRole(id: number, guard?: SecurityGuard): Promise<boolean> {
    return this.tx(async (c) => {
      await this.check(c, guard, []);
      await c.query('DELETE FROM role_identities WHERE role_id = $1', [id]);
      await c.query('DELETE FROM role_claims WHERE role_id = $1', [id]);
      const gone = ((await c.query('DELETE FROM roles WHERE id = $1', [id])).rowCount ?? 0) > 0;
      if (gone) await this.bump(c);
      return gone;
    });
  }

  async setRoleIdentities(roleId: number, identityIds: number[]): Promise<Role | null> {
    return this.tx(async (c) => {
      if (!(await c.query('SELECT 1 FROM roles WHERE id = $1 FOR UPDATE', [roleId])).rowCount) return null;
      await this.writeMembers(c, roleId, identityIds);
      await this.bump(c);
      return this.loadRole(c, roleId);
    });
  }

  async rolesOfIdentity(identity: Identity, matches: readonly ClaimMatch[] = []): Promise<Role[]> {
    const rows = matchRows(matches);
    const res = await this.pool.query(
      `SELECT * FROM roles
        WHERE id IN (SELECT role_id FROM role_identities WHERE identity_id = $1)
           OR id IN (SELECT role_id FROM role_claims WHERE claim_type = 0 AND lower(claim_value) = lower($2))
           OR id IN (SELECT rc.role_id FROM role_claims rc JOIN unnest($3::int[], $4::text[], $5::text[]) AS m(t, v, s)
                       ON rc.claim_type = m.t AND lower(rc.claim_value) = lower(m.v) AND lower(rc.provider_scheme) = lower(m.s))
        ORDER BY id`,
      [identity.id, identity.accountName, rows.map((r) => r.t), rows.map((r) => r.v), rows.map((r) => r.s)],
    );
    return this.hydrate(this.pool, res.rows);
  }

  async existingRoleIds(ids: number[]): Promise<Set<number>> {
    const unique = [...new Set(ids.filter((n) => Number.isSafeInteger(n)))];
    if (!unique.length) return new Set();
    const res = await this.pool.query('SELECT id FROM roles WHERE id = ANY($1::bigint[])', [unique]);
    return new Set(res.rows.map((r: Row) => r.id as number));
  }

  async recordExternalClaims(identityId: number, matches: readonly ClaimMatch[]): Promise<void> {
    const wanted = matchRows(matches);
    const key = (r: { t: number; v: string; s: string }) => `${r.t}\u0000${r.v}\u0000${r.s}`;
    await inTransaction(this.pool, async (c) => {
      // Serialises concurrent sign-ins of one identity; a deleted identity has no row to lock.
      const exists = await c.query('SELECT 1 FROM identities WHERE id = $1 FOR UPDATE', [identityId]);
      if (!exists.rowCount) return;
      const have = (await c.query('SELECT claim_type AS t, claim_value AS v, provider_scheme AS s FROM identity_external_claims WHERE identity_id = $1', [identityId])).rows.map(
        (r: Row) => key({ t: Number(r.t), v: r.v, s: r.s }),
      );
      const next = wanted.map(key);
      if (have.length === next.length && new Set([...have, ...next]).size === have.length) return;
      await c.query('DELETE FROM identity_external_claims WHERE identity_id = $1', [identityId]);
      if (wanted.length)
        await c.query(
          `INSERT INTO identity_external_claims (identity_id, claim_type, claim_value, provider_scheme)
           SELECT $1, t, v, s FROM unnest($2::int[], $3::text[], $4::text[]) AS m(t, v, s) ON CONFLICT DO NOTHING`,
          [identityId, wanted.map((r) => r.t), wanted.map((r) => r.v), wanted.map((r) => r.s)],
        );
    });
  }

  async identitiesWithExternalClaims(claims: readonly Pick<RoleClaim, 'claimType' | 'claimValue' | 'providerScheme'>[], limit: number): Promise<Identity[]> {
    if (!claims.length) return [];
    const res = await this.pool.query(
      `SELECT * FROM identities WHERE id IN (
         SELECT x.identity_id FROM identity_external_claims x
           JOIN unnest($1::int[], $2::text[], $3::text[]) AS m(t, v, s)
             ON x.claim_type = m.t AND lower(x.claim_value) = lower(m.v) AND lower(x.provider_scheme) = lower(m.s))
       ORDER BY id LIMIT $4`,
      [claims.map((c) => c.claimType), claims.map((c) => c.claimValue), claims.map((c) => c.providerScheme), limit],
    );
    return res.rows.map(toIdentity);
  }

  async securityGeneration(): Promise<number> {
    const row = (await this.pool.query(`SELECT value FROM counters WHERE name = 'security_generation'`)).rows[0];
    return row?.value ?? 0;
  }

  // Log-in throttling ---------------------------------------------------------------------------

  async updateLoginThrottle<R>(accountKey: string, fn: (state: LoginThrottleState | null) => LoginThrottleChange<R>): Promise<R> {
    return this.tx(async (c) => {
      // Insert-then-lock: concurrent first attempts on one name queue on the row instead of both
      // seeing "no row" (which would let both pass).
      const inserted = await c.query(
        'INSERT INTO login_throttle (account_key, failures, lockouts, locked_until, updated_at) VALUES ($1, 0, 0, NULL, $2) ON CONFLICT (account_key) DO NOTHING',
        [accountKey, Date.now()],
      );
      const row = (await c.query('SELECT * FROM login_throttle WHERE account_key = $1 FOR UPDATE', [accountKey])).rows[0];
      const change = fn((inserted.rowCount ?? 0) > 0 || !row ? null : toThrottle(row));
      if (change.state === null) await c.query('DELETE FROM login_throttle WHERE account_key = $1', [accountKey]);
      else {
        const st = change.state;
        await c.query('UPDATE login_throttle SET failures = $2, lockouts = $3, locked_until = $4, updated_at = $5 WHERE account_key = $1', [
          accountKey,
          st.failures,
          st.lockouts,
          st.lockedUntil,
          st.updatedAt,
        ]);
      }
      return change.result;
    });
  }

  async pruneLoginThrottle(before: number): Promise<number> {
    const res = await this.pool.query('DELETE FROM login_throttle WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until < $1)', [before]);
    return res.rowCount ?? 0;
  }

  // Internals -----------------------------------------------------------------------------------

  /**
   * Runs a guard on a snapshot read under the security_generation row lock, taken first: guarded
   * writes queue one behind the other, and each reads what the previous one committed.
   */
  private async check(c: Q, guard: SecurityGuard | undefined, incoming: NewRole['claims']): Promise<void> {
    if (!guard) return;
    await c.query(`SELECT value FROM counters WHERE name = 'security_generation' FOR UPDATE`);
    const roles = await this.hydrate(c, (await c.query('SELECT * FROM roles ORDER BY id')).rows);
    const names = incoming.filter((x) => x.claimType === USER_CLAIM).map((x) => x.claimValue.toLowerCase());
    const res = await c.query(
      `SELECT id, account_name FROM identities
        WHERE lower(account_name) IN (SELECT lower(claim_value) FROM role_claims WHERE claim_type = 0)
           OR lower(account_name) = ANY($1::text[])`,
      [names],
    );
    guard({ roles, identities: res.rows.map((r) => ({ id: Number(r.id), accountName: r.account_name as string })) });
  }

  private async assertNameFree(c: Q, name: string, selfId: number | null): Promise<void> {
    const row = (await c.query('SELECT id FROM roles WHERE lower(name) = lower($1)', [name])).rows[0];
    if (row && row.id !== selfId) this.roleNameTaken(name);
  }

  /** The unique index catches a name taken by another node after our check. */
  private async catchNameTaken<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isUniqueViolation(e)) this.roleNameTaken(name);
      throw e;
    }
  }

  private roleNameTaken(name: string): never {
    throw new CountersignError('Conflict', `A security role named '${name}' already exists.`);
  }

  /** Replaces the role's direct members; every id must name an existing identity. */
  private async writeMembers(c: Q, roleId: number, identityIds: readonly number[]): Promise<void> {
    const unique = [...new Set(identityIds)];
    const valid = unique.filter((id) => Number.isSafeInteger(id));
    const found = new Set(valid.length ? (await c.query('SELECT id FROM identities WHERE id = ANY($1::bigint[])', [valid])).rows.map((r: Row) => r.id as number) : []);
    const missing = unique.filter((id) => !found.has(id));
    if (missing.length) fail('RoleInvalid', `Unknown identity id(s): ${missing.join(', ')}.`);
    await c.query('DELETE FROM role_identities WHERE role_id = $1', [roleId]);
    if (unique.length) await c.query('INSERT INTO role_identities (role_id, identity_id) SELECT $1, unnest($2::bigint[])', [roleId, unique]);
  }

  /**
   * Replaces the role's claims. A claim equal to an existing one (type, value ignoring case,
   * provider scheme) keeps its row and id, so ids stay stable across a full-replace PUT.
   */
  private async writeClaims(c: Q, roleId: number, claims: NewRole['claims']): Promise<void> {
    const existing = (await c.query('SELECT * FROM role_claims WHERE role_id = $1 ORDER BY id', [roleId])).rows;
    const plan = planClaims(existing, claims);
    for (const u of plan.update) await c.query('UPDATE role_claims SET claim_value = $1, description = $2 WHERE id = $3', [u.claimValue, u.description, u.id]);
    for (const cl of plan.insert)
      await c.query('INSERT INTO role_claims (role_id, claim_type, claim_value, provider_scheme, description) VALUES ($1, $2, $3, $4, $5)', [
        roleId,
        cl.claimType,
        cl.claimValue,
        cl.providerScheme,
        cl.description,
      ]);
    if (plan.delete.length) await c.query('DELETE FROM role_claims WHERE id = ANY($1::bigint[])', [plan.delete]);
  }

  private async loadRole(c: Q, id: number): Promise<Role | null> {
    const row = (await c.query('SELECT * FROM roles WHERE id = $1', [id])).rows[0];
    return row ? (await this.hydrate(c, [row]))[0]! : null;
  }

  /** Attaches members and claims to role rows, with one query each. */
  private async hydrate(c: Q, rows: Row[]): Promise<Role[]> {
    if (!rows.length) return [];
    const ids = rows.map((r) => r.id as number);
    const members = new Map<number, number[]>();
    const claims = new Map<number, RoleClaim[]>();
    const m = await c.query('SELECT role_id, identity_id FROM role_identities WHERE role_id = ANY($1::bigint[]) ORDER BY identity_id', [ids]);
    for (const x of m.rows) (members.get(x.role_id) ?? members.set(x.role_id, []).get(x.role_id)!).push(x.identity_id);
    const cl = await c.query('SELECT * FROM role_claims WHERE role_id = ANY($1::bigint[]) ORDER BY id', [ids]);
    for (const x of cl.rows) (claims.get(x.role_id) ?? claims.set(x.role_id, []).get(x.role_id)!).push(toClaim(x));
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      description: r.description,
      email: r.email,
      enabled: r.enabled,
      private: r.private,
      immutable: r.immutable,
      permissions: Array.isArray(r.permissions) ? r.permissions.filter((x: unknown): x is string => typeof x === 'string') : [],
      permissionSetId: r.permission_set_id,
      identityIds: members.get(r.id) ?? [],
      claims: claims.get(r.id) ?? [],
    }));
  }
}
