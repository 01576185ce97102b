import { beforeEach, expect, it } from 'vitest';
import { CountersignError } from '../../src/domain/errors.ts';
import type { SecuritySnapshot } from '../../src/domain/security/roles.ts';
import { bindQuery, parseQuery } from '../../src/domain/query/index.ts';
import { ROLE_FIELDS } from '../../src/store/query-fields.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import type { SecurityStore } from '../../src/store/store.ts';
import { errorOf, forEachStore, newRole as role, newUser as user } from '../support/stores.ts';

/*
 * Identities, roles, members, claims and the security generation, the same on SQLite and
 * PostgreSQL: one set of cases over both implementations of SecurityStore.
 */

forEachStore('Security store contract', (current) => {
  let store: SecurityStore;
  beforeEach(() => {
    store = current();
  });

  it('creates, finds (case-insensitively), lists, updates and deletes identities', async () => {
    const a = await store.createIdentity(user('CORP\\Alice'));
    const b = await store.createIdentity({ ...user('bob'), email: 'bob@example.com', passwordHash: 'scrypt$x' });
    expect(a.id).toBeGreaterThan(0);
    expect(await store.countIdentities()).toBe(2);
    expect((await store.findIdentityByName('corp\\alice'))?.id).toBe(a.id);
    expect(await store.findIdentityByName('alice')).toBeNull();
    expect(await store.getIdentity(b.id)).toEqual(b);
    const byName = await store.listIdentities({ limit: 10, offset: 0, sortColumn: 'account_name', ascending: false });
    expect(byName.map((i) => i.accountName)).toEqual(['CORP\\Alice', 'bob']);
    expect((await store.listIdentities({ limit: 1, offset: 1, sortColumn: 'id', ascending: true }))[0]!.id).toBe(b.id);
    expect((await store.updateIdentity(b.id, { email: null }))?.email).toBeNull();
    expect((await store.getIdentity(b.id))?.passwordHash).toBe('scrypt$x');
    expect(await store.updateIdentity(999, { email: null })).toBeNull();
    expect(await store.deleteIdentity(a.id)).toBe(true);
    expect(await store.deleteIdentity(a.id)).toBe(false);
    expect(await store.countIdentities()).toBe(1);
  });

  it('replaces a password hash only while it is the expected one; bumps the generation only when asked', async () => {
    const a = await store.createIdentity({ ...user('a'), passwordHash: 'hash-1' });
    const g = await store.securityGeneration();
    // A rehash of the same password: cached credentials stay valid.
    expect(await store.replacePasswordHash(a.id, 'hash-1', 'hash-2', false)).toBe(true);
    expect((await store.getIdentity(a.id))?.passwordHash).toBe('hash-2');
    expect(await store.securityGeneration()).toBe(g);
    // Stale expectation (changed meanwhile): nothing is written.
    expect(await store.replacePasswordHash(a.id, 'hash-1', 'hash-3', true)).toBe(false);
    expect((await store.getIdentity(a.id))?.passwordHash).toBe('hash-2');
    expect(await store.securityGeneration()).toBe(g);
    // A new password: the generation moves, so every node drops cached credentials.
    expect(await store.replacePasswordHash(a.id, 'hash-2', 'hash-3', true)).toBe(true);
    expect((await store.getIdentity(a.id))?.passwordHash).toBe('hash-3');
    expect(await store.securityGeneration()).toBe(g + 1);
    expect(await store.replacePasswordHash(999_999, 'hash-3', 'x', true)).toBe(false);
    const none = await store.createIdentity({ ...user('b'), passwordHash: null });
    expect(await store.replacePasswordHash(none.id, '', 'x', true)).toBe(false);
    expect((await store.getIdentity(none.id))?.passwordHash).toBeNull();
  });

  it('refuses a taken account name with IdentityExists (409)', async () => {
    await store.createIdentity(user('CORP\\alice'));
    const e = await errorOf(store.createIdentity(user('corp\\ALICE')));
    expect(e.errorName).toBe('IdentityExists');
    expect(e.status).toBe(409);
  });

  it('bumps the security generation on every mutation, and only then', async () => {
    let g = await store.securityGeneration();
    const bumped = async (what: () => Promise<unknown>) => {
      await what();
      const next = await store.securityGeneration();
      expect(next).toBe(g + 1);
      g = next;
    };
    const a = await store.createIdentity(user('a'));
    g = await store.securityGeneration();
    let r = await store.createRole(role('R'));
    expect(await store.securityGeneration()).toBe(g + 1);
    g += 1;
    await bumped(() => store.updateRole(r.id, role('R', { permissions: ['/'] })));
    await bumped(() => store.setRoleIdentities(r.id, [a.id]));
    await bumped(() => store.updateIdentity(a.id, { email: 'a@example.com' }));
    await bumped(() => store.deleteRole(r.id));
    r = await store.createRole(role('R2'));
    g = await store.securityGeneration();
    await bumped(() => store.deleteIdentity(a.id));
    // Reads and failed mutations leave it alone.
    await store.listRoles({ filter: null, limit: 10, offset: 0, sortColumn: 'id', ascending: true });
    await store.deleteRole(12345);
    await errorOf(store.createRole(role('r2')));
    expect(await store.securityGeneration()).toBe(g);
  });

  it('stores roles with members and claims; a clashing name is a Conflict (409)', async () => {
    const a = await store.createIdentity(user('CORP\\alice'));
    const r = await store.createRole(
      role('Approvers', {
        email: 'approvers@example.com',
        identityIds: [a.id, a.id],
        claims: [{ claimType: 4, claimValue: 'approver', providerScheme: 'oidc', description: 'OIDC role' }],
      }),
    );
    expect(r).toMatchObject({ name: 'Approvers', email: 'approvers@example.com', identityIds: [a.id], enabled: true });
    expect(r.claims).toEqual([{ id: expect.any(Number), claimType: 4, claimValue: 'approver', providerScheme: 'oidc', description: 'OIDC role' }]);
    expect(await store.getRole(r.id)).toEqual(r);
    const e = await errorOf(store.createRole(role('APPROVERS')));
    expect([e.errorName, e.status]).toEqual(['Conflict', 409]);
    const other = await store.createRole(role('Other'));
    const e2 = await errorOf(store.updateRole(other.id, role('approvers')));
    expect(e2.errorName).toBe('Conflict');
    // Renaming a role to its own name (another case) is fine.
    expect((await store.updateRole(other.id, role('OTHER')))?.name).toBe('OTHER');
    expect(await store.updateRole(999, role('x'))).toBeNull();
    const e3 = await errorOf(store.createRole(role('Bad', { identityIds: [4242] })));
    expect(e3.errorName).toBe('RoleInvalid');
    expect(e3.message).toContain('4242');
  });

  it('keeps claim ids stable across a full replace', async () => {
    const r = await store.createRole(
      role('C', {
        claims: [
          { claimType: 0, claimValue: 'CORP\\alice', providerScheme: 'Countersign', description: 'a' },
          { claimType: 1, claimValue: 'CORP\\Admins', providerScheme: 'Countersign', description: 'g' },
        ],
      }),
    );
    const [alice, group] = r.claims;
    const next = await store.updateRole(
      r.id,
      role('C', {
        claims: [
          { claimType: 0, claimValue: 'corp\\ALICE', providerScheme: 'Countersign', description: 'changed' },
          { claimType: 0, claimValue: 'CORP\\bob', providerScheme: 'Countersign', description: '' },
        ],
      }),
    );
    expect(next!.claims[0]).toEqual({ ...alice, claimValue: 'corp\\ALICE', description: 'changed' });
    expect(next!.claims).toHaveLength(2);
    expect(next!.claims.some((c) => c.id === group!.id)).toBe(false);
  });

  it('finds the roles of an identity directly and through User claims (case-insensitive)', async () => {
    const alice = await store.createIdentity(user('CORP\\alice'));
    const direct = await store.createRole(role('Direct', { identityIds: [alice.id] }));
    const claimed = await store.createRole(role('Claimed', { claims: [{ claimType: 0, claimValue: 'corp\\ALICE', providerScheme: 'Countersign', description: '' }] }));
    await store.createRole(role('GroupClaim', { claims: [{ claimType: 1, claimValue: 'CORP\\alice', providerScheme: 'x', description: '' }] }));
    await store.createRole(role('Unrelated'));
    const both = await store.createRole(role('Both', { identityIds: [alice.id], claims: [{ claimType: 0, claimValue: 'CORP\\alice', providerScheme: 'x', description: '' }] }));
    const ids = (await store.rolesOfIdentity(alice)).map((r) => r.id);
    expect(ids).toEqual([direct.id, claimed.id, both.id]);
    // Deleting the identity removes its direct memberships.
    await store.deleteIdentity(alice.id);
    expect((await store.getRole(direct.id))!.identityIds).toEqual([]);
  });

  it('finds the roles of claims an identity provider vouched for: type, value and scheme must all match', async () => {
    const alice = await store.createIdentity(user('idp\\alice'));
    const c = (claimType: number, claimValue: string, providerScheme: string) => ({ claimType, claimValue, providerScheme, description: '' });
    const bySubject = await store.createRole(role('BySubject', { claims: [c(5, 'ALICE', 'Corp-IdP')] }));
    const byRole = await store.createRole(role('ByRole', { claims: [c(4, 'approvers', 'corp-idp')] }));
    const byClient = await store.createRole(role('ByClient', { claims: [c(6, 'svc-1', 'Countersign')] }));
    const byGroup = await store.createRole(role('ByGroup', { claims: [c(1, 'CORP\\PKI Admins', 'Directory')] }));
    await store.createRole(role('OtherIssuer', { claims: [c(5, 'alice', 'other-idp')] }));
    await store.createRole(role('OtherType', { claims: [c(6, 'alice', 'corp-idp')] }));
    await store.createRole(role('Quote', { claims: [c(4, "x' OR 1=1 --", 'corp-idp')] }));
    const matches = [
      { claimType: 5, claimValue: 'alice', providerSchemes: ['corp-idp'] },
      { claimType: 4, claimValue: 'Approvers', providerSchemes: ['CORP-IDP'] },
      { claimType: 6, claimValue: 'svc-1', providerSchemes: ['corp-idp', 'Countersign'] },
      { claimType: 1, claimValue: 'corp\\pki admins', providerSchemes: ['directory'] },
    ];
    expect((await store.rolesOfIdentity(alice, matches)).map((r) => r.name)).toEqual([bySubject.name, byRole.name, byClient.name, byGroup.name]);
    expect(await store.rolesOfIdentity(alice, [])).toEqual([]);
    expect(await store.rolesOfIdentity(alice, [{ claimType: 4, claimValue: "x' OR 1=1 --", providerSchemes: ['nope'] }])).toEqual([]);
    const many = Array.from({ length: 600 }, (_, i) => ({ claimType: 4, claimValue: `g${i}`, providerSchemes: ['corp-idp', 'Countersign'] }));
    expect((await store.rolesOfIdentity(alice, [...many, matches[1]!])).map((r) => r.id)).toEqual([byRole.id]);
  });

  it('records what a provider vouched for per identity (no security change) and finds identities by role claims', async () => {
    const alice = await store.createIdentity(user('idp\\alice'));
    const bob = await store.createIdentity(user('idp\\bob'));
    const generation = await store.securityGeneration();
    const group = (v: string) => ({ claimType: 1, claimValue: v, providerSchemes: ['Directory', 'Countersign'] });
    await store.recordExternalClaims(alice.id, [group('CORP\\PKI'), { claimType: 5, claimValue: 'alice', providerSchemes: ['OAuth'] }]);
    await store.recordExternalClaims(bob.id, [group('corp\\pki')]);
    await store.recordExternalClaims(bob.id, [group('corp\\pki')]); // unchanged: nothing written
    expect(await store.securityGeneration()).toBe(generation);
    const find = (claims: { claimType: number; claimValue: string; providerScheme: string }[]) =>
      store.identitiesWithExternalClaims(claims, 10).then((l) => l.map((i) => i.accountName));
    expect(await find([{ claimType: 1, claimValue: 'corp\\PKI', providerScheme: 'directory' }])).toEqual(['idp\\alice', 'idp\\bob']);
    expect(await find([{ claimType: 1, claimValue: 'CORP\\PKI', providerScheme: 'Countersign' }])).toEqual(['idp\\alice', 'idp\\bob']);
    expect(await find([{ claimType: 1, claimValue: 'CORP\\PKI', providerScheme: 'OAuth' }])).toEqual([]);
    expect(await find([{ claimType: 5, claimValue: 'ALICE', providerScheme: 'oauth' }])).toEqual(['idp\\alice']);
    expect(await find([{ claimType: 4, claimValue: 'alice', providerScheme: 'OAuth' }])).toEqual([]);
    expect(await find([])).toEqual([]);
    expect(await store.identitiesWithExternalClaims([{ claimType: 1, claimValue: 'CORP\\PKI', providerScheme: 'Directory' }], 1)).toHaveLength(1);
    // Replaced at the next sign-in; gone with the identity.
    await store.recordExternalClaims(alice.id, []);
    expect(await find([{ claimType: 5, claimValue: 'alice', providerScheme: 'OAuth' }])).toEqual([]);
    await store.deleteIdentity(bob.id);
    expect(await find([{ claimType: 1, claimValue: 'CORP\\PKI', providerScheme: 'Directory' }])).toEqual([]);
    await store.recordExternalClaims(bob.id, [group('x')]); // a deleted identity: nothing recorded, no error
    expect(await find([{ claimType: 1, claimValue: 'x', providerScheme: 'Directory' }])).toEqual([]);
  });

  it('lists roles with a bound QueryString, sorting and paging', async () => {
    for (const n of ['Alpha', 'beta', 'Gamma', 'delta']) await store.createRole(role(n, { enabled: n !== 'Gamma' }));
    const q = (text: string, sortColumn = 'name', ascending = true, limit = 50, offset = 0) =>
      store.listRoles({ filter: bindQuery(parseQuery(text), ROLE_FIELDS), sortColumn, ascending, limit, offset });
    expect((await q('Name -contains "a"')).map((r) => r.name)).toEqual(['Alpha', 'beta', 'delta', 'Gamma']);
    expect((await q('Name -eq "BETA"')).map((r) => r.name)).toEqual(['beta']);
    expect((await q('Enabled -eq false')).map((r) => r.name)).toEqual(['Gamma']);
    expect((await q('Id -gt 2 AND Name -startswith "d"')).map((r) => r.name)).toEqual(['delta']);
    expect((await q(`PermissionSetId -eq "${GLOBAL_PERMISSION_SET_ID.toUpperCase()}"`)).length).toBe(4);
    expect((await q('', 'id', false, 2, 1)).map((r) => r.name)).toEqual(['Gamma', 'beta']);
    // Values never become SQL.
    expect(await q(`Name -eq "x' OR 1=1 --"`)).toEqual([]);
  });

  it('tells which role ids exist', async () => {
    const a = await store.createRole(role('A'));
    const b = await store.createRole(role('B'));
    expect(await store.existingRoleIds([a.id, b.id, 999, a.id])).toEqual(new Set([a.id, b.id]));
    expect(await store.existingRoleIds([])).toEqual(new Set());
    const many = Array.from({ length: 1200 }, (_, i) => i + 1);
    expect(await store.existingRoleIds(many)).toEqual(new Set([a.id, b.id]));
  });

  it('deletes roles with their members and claims', async () => {
    const a = await store.createIdentity(user('a'));
    const r = await store.createRole(role('R', { identityIds: [a.id], claims: [{ claimType: 0, claimValue: 'a', providerScheme: 'x', description: '' }] }));
    expect(await store.deleteRole(r.id)).toBe(true);
    expect(await store.getRole(r.id)).toBeNull();
    expect(await store.rolesOfIdentity(a)).toEqual([]);
    expect(await store.setRoleIdentities(r.id, [a.id])).toBeNull();
  });

  it('runs a guard on a snapshot inside the write: every role, the identities User claims name; a veto writes nothing', async () => {
    const alice = await store.createIdentity(user('CORP\\alice'));
    const bob = await store.createIdentity(user('bob'));
    const r = await store.createRole(role('R', { identityIds: [bob.id], claims: [{ claimType: 0, claimValue: 'corp\\ALICE', providerScheme: 'Countersign', description: '' }] }));
    let seen: SecuritySnapshot | null = null;
    const g = await store.securityGeneration();
    const veto = (snap: SecuritySnapshot) => {
      seen = snap;
      throw new CountersignError('Conflict', 'no');
    };
    expect((await errorOf(store.deleteRole(r.id, veto))).errorName).toBe('Conflict');
    expect(seen!.roles.map((x) => x.id)).toEqual([r.id]);
    expect(seen!.identities).toEqual([{ id: alice.id, accountName: 'CORP\\alice' }]);
    expect((await errorOf(store.updateRole(r.id, role('R'), veto))).errorName).toBe('Conflict');
    expect((await errorOf(store.deleteIdentity(bob.id, veto))).errorName).toBe('Conflict');
    expect((await errorOf(store.createRole(role('S', { claims: [{ claimType: 0, claimValue: 'BOB', providerScheme: 'x', description: '' }] }), veto))).errorName).toBe('Conflict');
    expect(seen!.identities.map((i) => i.id).sort()).toEqual([alice.id, bob.id].sort());
    expect(await store.getRole(r.id)).toEqual(r);
    expect(await store.getIdentity(bob.id)).toEqual(bob);
    expect(await store.securityGeneration()).toBe(g);
  });

  it('serialises guarded writes: two concurrent removals that each leave one member, exactly one succeeds', async () => {
    const a = await store.createIdentity(user('a'));
    const b = await store.createIdentity(user('b'));
    const r = await store.createRole(role('Pair', { identityIds: [a.id, b.id] }));
    const keepOne = (snap: SecuritySnapshot) => {
      if (snap.roles.find((x) => x.id === r.id)!.identityIds.length < 2) throw new CountersignError('Conflict', 'last member');
    };
    const results = await Promise.allSettled([store.deleteIdentity(a.id, keepOne), store.deleteIdentity(b.id, keepOne)]);
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    expect((await store.getRole(r.id))!.identityIds).toHaveLength(1);
  });
});
