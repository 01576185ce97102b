import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BasicAuthenticator } from '../../src/security/basic-authenticator.ts';
import { ADMIN_ROLE_NAME, ensureAdministrator, generatePassword } from '../../src/security/bootstrap.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import { Passwords } from '../../src/security/passwords.ts';
import { P, grants } from '../../src/security/permissions.ts';
import { openTestStore } from '../support/stores.ts';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('ensureAdministrator', () => {
  it('creates admin in Administrators (every permission) with a generated password shown once', async () => {
    const store = await openTestStore();
    const logs: string[] = [];
    const shown: [string, string][] = [];
    await ensureAdministrator(
      store,
      {},
      (m) => logs.push(m),
      (account, pw) => shown.push([account, pw]),
    );
    expect(logs).toHaveLength(1);
    expect(shown).toHaveLength(1);
    const [account, password] = shown[0]!;
    expect(account).toBe('admin');
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    // The password goes to the operator's terminal only, never into the log.
    expect(logs[0]).toContain("'admin'");
    expect(logs[0]).not.toContain(password);

    const admin = await store.findIdentityByName('admin');
    expect(admin).toMatchObject({ identityType: 'User' });
    expect(admin!.passwordHash).not.toContain(password!);
    const roles = await store.rolesOfIdentity(admin!);
    expect(roles.map((r) => [r.name, r.permissions, r.permissionSetId, r.enabled])).toEqual([[ADMIN_ROLE_NAME, ['/'], GLOBAL_PERMISSION_SET_ID, true]]);

    const p = await new BasicAuthenticator({ store, ttlMs: 1000 }).authenticate(basic('admin', password!), '127.0.0.1');
    expect(p && grants(p.permissions, P.securityModify) && grants(p.permissions, P.instancesManage)).toBe(true);

    // Second start: nothing happens, nothing is logged.
    await ensureAdministrator(
      store,
      {},
      (m) => logs.push(m),
      (account, pw) => shown.push([account, pw]),
    );
    expect(logs).toHaveLength(1);
    expect(shown).toHaveLength(1);
    expect(await store.countIdentities()).toBe(1);
  });

  it('uses COUNTERSIGN_ADMIN_USER / COUNTERSIGN_ADMIN_PASSWORD without printing the password', async () => {
    const store = await openTestStore();
    const logs: string[] = [];
    await ensureAdministrator(store, { user: 'CORP\\root', password: 'a-long-password' }, (m) => logs.push(m));
    expect(logs.join('\n')).not.toContain('a-long-password');
    const p = await new BasicAuthenticator({ store, ttlMs: 1000 }).authenticate(basic('root', 'a-long-password'), '127.0.0.1');
    expect(p?.identity.accountName).toBe('CORP\\root');
  });

  it('refuses a short configured password and a name with a colon', async () => {
    await expect(ensureAdministrator(await openTestStore(), { password: 'short' }, () => {})).rejects.toThrow(/at least 8/);
    await expect(ensureAdministrator(await openTestStore(), { user: 'a:b', password: 'long-enough' }, () => {})).rejects.toThrow(/not a valid account name/);
  });

  it('holds the configured password to the policy: length, breached list; hashes with the configured parameters', async () => {
    const passwords = new Passwords(
      { policy: { minLength: 16, maxLength: 64 }, hashing: { memoryKiB: 9216, timeCost: 1, parallelism: 1 } },
      new Set([createHash('sha1').update('correct-horse-battery').digest('hex').toUpperCase()]),
    );
    const reveal = () => {};
    await expect(ensureAdministrator(await openTestStore(), { password: 'only-15-letters' }, () => {}, reveal, passwords)).rejects.toThrow(
      /COUNTERSIGN_ADMIN_PASSWORD must be at least 16/,
    );
    await expect(ensureAdministrator(await openTestStore(), { password: 'correct-horse-battery' }, () => {}, reveal, passwords)).rejects.toThrow(/breaches/);
    const store = await openTestStore();
    await ensureAdministrator(store, { password: 'a-sixteen-letter-password' }, () => {}, reveal, passwords);
    expect((await store.findIdentityByName('admin'))?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=9216,t=1,p=1\$/);
  });

  it('does nothing when identities exist', async () => {
    const store = await openTestStore();
    await store.createIdentity({ accountName: 'someone', identityType: 'User', sid: null, email: null, passwordHash: null, createdAt: '2025-01-01T00:00:00Z' });
    const logs: string[] = [];
    await ensureAdministrator(store, {}, (m) => logs.push(m));
    expect(logs).toEqual([]);
    expect(await store.findIdentityByName('admin')).toBeNull();
  });

  it('reuses a surviving Administrators role', async () => {
    const store = await openTestStore();
    const old = await store.createRole({
      name: 'administrators',
      description: 'old',
      email: null,
      enabled: false,
      private: false,
      immutable: false,
      permissions: [P.securityRead],
      permissionSetId: GLOBAL_PERMISSION_SET_ID,
      identityIds: [],
      claims: [{ claimType: 4, claimValue: 'admins', providerScheme: 'oidc', description: '' }],
    });
    await ensureAdministrator(store, { password: 'long-enough' }, () => {});
    const r = await store.getRole(old.id);
    expect(r).toMatchObject({ enabled: true, permissions: ['/'] });
    expect(r!.claims).toHaveLength(1);
    expect(r!.identityIds).toEqual([(await store.findIdentityByName('admin'))!.id]);
  });

  it('generates passwords from an unambiguous alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const p = generatePassword();
      expect(p).toMatch(/^[A-HJ-NP-Za-km-z2-9]{20}$/);
      seen.add(p);
    }
    expect(seen.size).toBe(50);
  });
});
