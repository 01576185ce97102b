import type { Database, Statement } from 'better-sqlite3';
import { CountersignError, fail } from '../../domain/errors.ts';
import { compileSql } from '../query-sql.ts';
import type { LoginThrottleState } from '../../domain/login-throttle.ts';
import type { Identity, ListQuery, LoginThrottleChange, NewRole, Paging, Role, RoleClaim, SecurityGuard, SecurityStore } from '../store.ts';
import { chunks, limits, orderBy, parsePermissions, roleValues, isUniqueViolation } from './sqlite-sql.ts';
import { matchRows, namePart, planClaims, toClaim, toIdentity, toThrottle } from '../security-rows.ts';
import type { ClaimMatch } from '../../domain/security/external-claims.ts';
import { USER_CLAIM } from '../../domain/membership.ts';
import type { SecuritySnapshot } from '../../domain/security/roles.ts';

/*
 * Identities, roles, role members and role claims in SQLite. Every statement is parameterized;
 * the only SQL text that comes from outside this file is a FieldSpec column / sort column, which
 * is code-defined (see security-routes.ts) and never taken from a request.
 *
 * Every mutation bumps counters.security_generation in the same transaction, so credential and
 * principal caches (BasicAuthenticator) can tell their entries are stale.
 */

interface IdentityRow {
  id: number;
  account_name: string;
  identity_type: string;
  sid: string | null;
  email: string | null;
  password_hash: string | null;
  created_at: string;
}

interface RoleRow {
  id: number;
  name: string;
  description: string;
  email: string | null;
  enabled: number;
  private: number;
  immutable: number;
  permissions: string;
  permission_set_id: string;
}

interface ClaimRow {
  id: number;
  role_id: number;
  claim_type: number;
  claim_value: string;
  provider_scheme: string;
  description: string;
}

export class SqliteSecurityStore implements SecurityStore {
  constructor(private readonly db: Database) {}

  private bump(): void {
    this.db.prepare(`UPDATE counters SET value = value + 1 WHERE name = 'security_generation'`).run();
  }

  // Identities ----------------------------------------------------------------------------------

  async countIdentities(): Promise<number> {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM identities').get() as { n: number }).n;
  }

  async createIdentity(identity: Omit<Identity, 'id'>): Promise<Identity> {
    const tx = this.db.transaction((): Identity => {
      const taken = this.db.prepare('SELECT account_name FROM identities WHERE lower(account_name) = lower(?)').get(identity.accountName) as { account_name: string } | undefined;
      if (taken) fail('IdentityExists', `An identity named '${taken.account_name}' already exists.`);
      let id: number;
      try {
        const info = this.db
          .prepare(
            `INSERT INTO identities (account_name, identity_type, sid, email, password_hash, created_at, name_part)
             VALUES (?, ?, ?, ?, ?, ?, lower(?))`,
          )
          .run(identity.accountName, identity.identityType, identity.sid, identity.email, identity.passwordHash, identity.createdAt, namePart(identity.accountName));
        id = Number(info.lastInsertRowid);
      } catch (e) {
        if (isUniqueViolation(e)) fail('IdentityExists', `An identity named '${identity.accountName}' already exists.`);
        throw e;
      }
      this.bump();
      return { ...identity, id };
    });
    return tx.immediate();
  }

  async getIdentity(id: number): Promise<Identity | null> {
    const row = this.db.prepare('SELECT * FROM identities WHERE id = ?').get(id) as IdentityRow | undefined;
    return row ? toIdentity(row) : null;
  }

  async findIdentityByName(accountName: string): Promise<Identity | null> {
    const row = this.db.prepare('SELECT * FROM identities WHERE lower(account_name) = lower(?)').get(accountName) as IdentityRow | undefined;
    return row ? toIdentity(row) : null;
  }

  async findIdentitiesByNamePart(part: string, limit: number): Promise<Identity[]> {
    const rows = this.db.prepare('SELECT * FROM identities WHERE name_part = lower(?) ORDER BY id LIMIT ?').all(part, Math.max(0, Math.floor(limit))) as IdentityRow[];
    return rows.map(toIdentity);
  }

  async listIdentities(paging: Paging): Promise<Identity[]> {
    const [limit, offset] = limits(paging);
    const rows = this.db.prepare(`SELECT * FROM identities ${orderBy(paging, 'id')} LIMIT ? OFFSET ?`).all(limit, offset) as IdentityRow[];
    return rows.map(toIdentity);
  }

  async updateIdentity(id: number, patch: Partial<Pick<Identity, 'email' | 'passwordHash'>>): Promise<Identity | null> {
    const tx = this.db.transaction((): Identity | null => {
      const row = this.db.prepare('SELECT * FROM identities WHERE id = ?').get(id) as IdentityRow | undefined;
      if (!row) return null;
      const next: IdentityRow = {
        ...row,
        email: patch.email === undefined ? row.email : patch.email,
        password_hash: patch.passwordHash === undefined ? row.password_hash : patch.passwordHash,
      };
      this.db.prepare('UPDATE identities SET email = ?, password_hash = ? WHERE id = ?').run(next.email, next.password_hash, id);
      this.bump();
      return toIdentity(next);
    });
    return tx.immediate();
  }

  async replacePasswordHash(id: number, expected: string, next: string, securityChange: boolean): Promise<boolean> {
    const tx = this.db.transaction((): boolean => {
      const changed = this.db.prepare('UPDATE identities SET password_hash = ? WHERE id = ? AND password_hash = ?').run(next, id, expected).changes > 0;
      if (changed && securityChange) this.bump();
      return changed;
    });
    return tx.immediate();
  }

  async deleteIdentity(id: number, guard?: SecurityGuard): Promise<boolean> {
    const tx = this.db.transaction((): boolean => {
      if (guard) guard(this.snapshot([]));
      // Explicit, in case the connection runs without PRAGMA foreign_keys.
      this.db.prepare('DELETE FROM role_identities WHERE identity_id = ?').run(id);
      const gone = this.db.prepare('DELETE FROM identities WHERE id = ?').run(id).changes > 0;
      if (gone) this.bump();
      return gone;
    });
    return tx.immediate();
  }

  // Roles ---------------------------------------------------------------------------------------

  async createRole(role: NewRole, guard?: SecurityGuard): Promise<Role> {
    const tx = this.db.transaction((): Role => {
      if (guard) guard(this.snapshot(role.claims));
      this.assertNameFree(role.name, null);
      const info = this.writeRoleRow(role, () =>
        this.db
          .prepare(
            `INSERT INTO roles (name, description, email, enabled, private, immutable, permissions, permission_set_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(...roleValues(role)),
      );
      const id = Number(info.lastInsertRowid);
      this.writeRoleLinks(id, role);
      return this.loadRole(id)!;
    });
    return tx.immediate();
  }

  async updateRole(id: number, role: NewRole, guard?: SecurityGuard): Promise<Role | null> {
    const tx = this.db.transaction((): Role | null => {
      if (!this.db.prepare('SELECT 1 FROM roles WHERE id = ?').get(id)) return null;
      if (guard) guard(this.snapshot(role.claims));
      this.assertNameFree(role.name, id);
      this.writeRoleRow(role, () =>
        this.db
          .prepare(
            `UPDATE roles SET name = ?, description = ?, email = ?, enabled = ?, private = ?, immutable = ?,
               permissions = ?, permission_set_id = ? WHERE id = ?`,
          )
          .run(...roleValues(role), id),
      );
      this.writeRoleLinks(id, role);
      return this.loadRole(id);
    });
    return tx.immediate();
  }

  async getRole(id: number): Promise<Role | null> {
    return this.loadRole(id);
  }

  async listRoles(q: ListQuery): Promise<Role[]> {
    const where = compileSql(q.filter, 'sqlite');
    const [limit, offset] = limits(q);
    const rows = this.db.prepare(`SELECT * FROM roles WHERE ${where.sql} ${orderBy(q, 'id')} LIMIT ? OFFSET ?`).all(...(where.params as unknown[]), limit, offset) as RoleRow[];
    return this.hydrate(rows);
  }

  async deleteRole(id: number, guard?: SecurityGuard): Promise<boolean> {
    const tx = this.db.transaction((): boolean => {
      if (guard) guard(this.snapshot([]));
      this.db.prepare('DELETE FROM role_identities WHERE role_id = ?').run(id);
      this.db.prepare('DELETE FROM role_claims WHERE role_id = ?').run(id);
      const gone = this.db.prepare('DELETE FROM roles WHERE id = ?').run(id).changes > 0;
      if (gone) this.bump();
      return gone;
    });
    return tx.immediate();
  }

  async setRoleIdentities(roleId: number, identityIds: number[]): Promise<Role | null> {
    const tx = this.db.transaction((): Role | null => {
      if (!this.db.prepare('SELECT 1 FROM roles WHERE id = ?').get(roleId)) return null;
      this.writeMembers(roleId, identityIds);
      this.bump();
      return this.loadRole(roleId);
    });
    return tx.immediate();
  }

  async rolesOfIdentity(identity: Identity, matches: readonly ClaimMatch[] = []): Promise<Role[]> {
    const rows = matchRows(matches);
    const values = rows.map(() => '(?, ?, ?)').join(', ');
    const byClaims = rows.length
      ? ` OR id IN (SELECT rc.role_id FROM role_claims rc JOIN (SELECT column1 AS t, column2 AS v, column3 AS s FROM (VALUES ${values})) m
                       ON rc.claim_type = m.t AND lower(rc.claim_value) = lower(m.v) AND lower(rc.provider_scheme) = lower(m.s))`
      : '';
    const found = this.db
      .prepare(
        `SELECT * FROM roles
          WHERE id IN (SELECT role_id FROM role_identities WHERE identity_id = ?)
             OR id IN (SELECT role_id FROM role_claims WHERE claim_type = 0 AND lower(claim_value) = lower(?))${byClaims}
          ORDER BY id`,
      )
      .all(identity.id, identity.accountName, ...rows.flatMap((r) => [r.t, r.v, r.s])) as RoleRow[];
    return this.hydrate(found);
  }

  async existingRoleIds(ids: number[]): Promise<Set<number>> {
    const out = new Set<number>();
    const unique = [...new Set(ids.filter((n) => Number.isSafeInteger(n)))];
    for (const part of chunks(unique)) {
      const rows = this.db.prepare(`SELECT id FROM roles WHERE id IN (${part.map(() => '?').join(',')})`).all(...part) as { id: number }[];
      for (const r of rows) out.add(r.id);
    }
    return out;
  }

  /** Prepared once: the Basic authenticator reads the generation on every cached request. */
  private generationStatement: Statement | null = null;
  async recordExternalClaims(identityId: number, matches: readonly ClaimMatch[]): Promise<void> {
    const wanted = matchRows(matches);
    const key = (r: { t: number; v: string; s: string }) => `${r.t}\u0000${r.v}\u0000${r.s}`;
    this.db
      .transaction(() => {
        const have = (
          this.db.prepare('SELECT claim_type AS t, claim_value AS v, provider_scheme AS s FROM identity_external_claims WHERE identity_id = ?').all(identityId) as {
            t: number;
            v: string;
            s: string;
          }[]
        ).map(key);
        const next = wanted.map(key);
        if (have.length === next.length && new Set([...have, ...next]).size === have.length) return;
        this.db.prepare('DELETE FROM identity_external_claims WHERE identity_id = ?').run(identityId);
        const ins = this.db.prepare(
          'INSERT OR IGNORE INTO identity_external_claims (identity_id, claim_type, claim_value, provider_scheme) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM identities WHERE id = ?)',
        );
        for (const r of wanted) ins.run(identityId, r.t, r.v, r.s, identityId);
      })
      .immediate();
  }

  async identitiesWithExternalClaims(claims: readonly Pick<RoleClaim, 'claimType' | 'claimValue' | 'providerScheme'>[], limit: number): Promise<Identity[]> {
    if (!claims.length) return [];
    const values = claims.map(() => '(?, ?, ?)').join(', ');
    const rows = this.db
      .prepare(
        `SELECT * FROM identities WHERE id IN (
           SELECT x.identity_id FROM identity_external_claims x
             JOIN (SELECT column1 AS t, column2 AS v, column3 AS s FROM (VALUES ${values})) m
               ON x.claim_type = m.t AND lower(x.claim_value) = lower(m.v) AND lower(x.provider_scheme) = lower(m.s))
         ORDER BY id LIMIT ?`,
      )
      .all(...claims.flatMap((c) => [c.claimType, c.claimValue, c.providerScheme]), limit) as Parameters<typeof toIdentity>[0][];
    return rows.map(toIdentity);
  }

  async securityGeneration(): Promise<number> {
    this.generationStatement ??= this.db.prepare(`SELECT value FROM counters WHERE name = 'security_generation'`);
    const row = this.generationStatement.get() as { value: number } | undefined;
    return row?.value ?? 0;
  }

  // Log-in throttling ---------------------------------------------------------------------------

  async updateLoginThrottle<R>(accountKey: string, fn: (state: LoginThrottleState | null) => LoginThrottleChange<R>): Promise<R> {
    const tx = this.db.transaction((): R => {
      const row = this.db.prepare('SELECT * FROM login_throttle WHERE account_key = ?').get(accountKey) as Record<string, unknown> | undefined;
      const change = fn(row ? toThrottle(row) : null);
      if (change.state === null) {
        if (row) this.db.prepare('DELETE FROM login_throttle WHERE account_key = ?').run(accountKey);
      } else {
        const s = change.state;
        this.db
          .prepare(
            `INSERT INTO login_throttle (account_key, failures, lockouts, locked_until, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (account_key) DO UPDATE SET failures = excluded.failures, lockouts = excluded.lockouts,
               locked_until = excluded.locked_until, updated_at = excluded.updated_at`,
          )
          .run(accountKey, s.failures, s.lockouts, s.lockedUntil, s.updatedAt);
      }
      return change.result;
    });
    return tx.immediate();
  }

  async pruneLoginThrottle(before: number): Promise<number> {
    return this.db.prepare('DELETE FROM login_throttle WHERE updated_at < ? AND (locked_until IS NULL OR locked_until < ?)').run(before, before).changes;
  }

  // Internals -----------------------------------------------------------------------------------

  /** Every role, and the identities named by stored User claims or by `incoming` ones. */
  private snapshot(incoming: NewRole['claims']): SecuritySnapshot {
    const roles = this.hydrate(this.db.prepare('SELECT * FROM roles ORDER BY id').all() as RoleRow[]);
    const identities = this.db
      .prepare(
        `SELECT id, account_name FROM identities
          WHERE lower(account_name) IN (SELECT lower(claim_value) FROM role_claims WHERE claim_type = 0)`,
      )
      .all() as { id: number; account_name: string }[];
    const byName = this.db.prepare('SELECT id, account_name FROM identities WHERE lower(account_name) = lower(?)');
    for (const c of incoming) {
      if (c.claimType !== USER_CLAIM) continue;
      const row = byName.get(c.claimValue) as { id: number; account_name: string } | undefined;
      if (row) identities.push(row);
    }
    return { roles, identities: identities.map((r) => ({ id: r.id, accountName: r.account_name })) };
  }

  private assertNameFree(name: string, selfId: number | null): void {
    const row = this.db.prepare('SELECT id FROM roles WHERE lower(name) = lower(?)').get(name) as { id: number } | undefined;
    if (row && row.id !== selfId) this.roleNameTaken(name);
  }

  /** Runs the role row's INSERT or UPDATE; a name taken meanwhile (unique index) is a Conflict. */
  private writeRoleRow<T>(role: NewRole, write: () => T): T {
    try {
      return write();
    } catch (e) {
      if (isUniqueViolation(e)) this.roleNameTaken(role.name);
      throw e;
    }
  }

  /** The role's members and claims, replaced, and the security version bumped. */
  private writeRoleLinks(id: number, role: NewRole): void {
    this.writeMembers(id, role.identityIds);
    this.writeClaims(id, role.claims);
    this.bump();
  }

  private roleNameTaken(name: string): never {
    throw new CountersignError('Conflict', `A security role named '${name}' already exists.`);
  }

  /** Replaces the role's direct members; every id must name an existing identity. */
  private writeMembers(roleId: number, identityIds: readonly number[]): void {
    const unique = [...new Set(identityIds)];
    for (const part of chunks(unique)) {
      const found = new Set((this.db.prepare(`SELECT id FROM identities WHERE id IN (${part.map(() => '?').join(',')})`).all(...part) as { id: number }[]).map((r) => r.id));
      const missing = part.filter((id) => !found.has(id));
      if (missing.length) fail('RoleInvalid', `Unknown identity id(s): ${missing.join(', ')}.`);
    }
    this.db.prepare('DELETE FROM role_identities WHERE role_id = ?').run(roleId);
    const ins = this.db.prepare('INSERT INTO role_identities (role_id, identity_id) VALUES (?, ?)');
    for (const identityId of unique) ins.run(roleId, identityId);
  }

  /**
   * Replaces the role's claims. A claim equal to an existing one (type, value ignoring case,
   * provider scheme) keeps its row and id, so ids stay stable across a full-replace PUT.
   */
  private writeClaims(roleId: number, claims: NewRole['claims']): void {
    const existing = this.db.prepare('SELECT * FROM role_claims WHERE role_id = ? ORDER BY id').all(roleId) as ClaimRow[];
    const plan = planClaims(existing, claims);
    const upd = this.db.prepare('UPDATE role_claims SET claim_value = ?, description = ? WHERE id = ?');
    for (const u of plan.update) upd.run(u.claimValue, u.description, u.id);
    const ins = this.db.prepare('INSERT INTO role_claims (role_id, claim_type, claim_value, provider_scheme, description) VALUES (?, ?, ?, ?, ?)');
    for (const c of plan.insert) ins.run(roleId, c.claimType, c.claimValue, c.providerScheme, c.description);
    const del = this.db.prepare('DELETE FROM role_claims WHERE id = ?');
    for (const id of plan.delete) del.run(id);
  }

  private loadRole(id: number): Role | null {
    const row = this.db.prepare('SELECT * FROM roles WHERE id = ?').get(id) as RoleRow | undefined;
    return row ? this.hydrate([row])[0]! : null;
  }

  /** Attaches members and claims to role rows, with one query each per chunk of roles. */
  private hydrate(rows: RoleRow[]): Role[] {
    const members = new Map<number, number[]>();
    const claims = new Map<number, RoleClaim[]>();
    for (const part of chunks(rows.map((r) => r.id))) {
      const marks = part.map(() => '?').join(',');
      const m = this.db.prepare(`SELECT role_id, identity_id FROM role_identities WHERE role_id IN (${marks}) ORDER BY identity_id`).all(...part) as {
        role_id: number;
        identity_id: number;
      }[];
      for (const x of m) (members.get(x.role_id) ?? members.set(x.role_id, []).get(x.role_id)!).push(x.identity_id);
      const c = this.db.prepare(`SELECT * FROM role_claims WHERE role_id IN (${marks}) ORDER BY id`).all(...part) as ClaimRow[];
      for (const x of c) (claims.get(x.role_id) ?? claims.set(x.role_id, []).get(x.role_id)!).push(toClaim(x));
    }
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      description: r.description,
      email: r.email,
      enabled: r.enabled === 1,
      private: r.private === 1,
      immutable: r.immutable === 1,
      permissions: parsePermissions(r.permissions),
      permissionSetId: r.permission_set_id,
      identityIds: members.get(r.id) ?? [],
      claims: claims.get(r.id) ?? [],
    }));
  }
}
