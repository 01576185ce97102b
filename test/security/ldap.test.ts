import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authSettingsFrom } from '../../src/security/auth-config.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import { approval, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { basic, startTestApp, type TestApp } from '../support/server.ts';
import { SUFFIX, slapdMissing, startSlapd, type TestDirectory } from '../support/slapd.ts';

/*
 * HTTP Basic against a real OpenLDAP (slapd, started here): the password is checked by binding as
 * the user, groups become Group claims of v2 roles, disabled accounts and wrong passwords are
 * refused, and the log-in throttle still applies. Also over LDAPS and StartTLS.
 */

const missing = slapdMissing();
if (missing) console.warn(`Skipping the directory tests: ${missing}.`);

const PW = { alice: 'alice-Directory-pw', bob: 'bob-Directory-pw', carol: 'carol-Directory-pw', dave: 'dave-Directory-pw', star: 'star-Directory-pw' };

function ldapEnv(d: TestDirectory, over: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    COUNTERSIGN_LDAP_URL: d.url,
    COUNTERSIGN_LDAP_DOMAIN: 'CORP',
    COUNTERSIGN_LDAP_UPN_SUFFIX: 'example.test',
    COUNTERSIGN_LDAP_BIND_TEMPLATE: `uid={user},ou=people,${SUFFIX}`,
    COUNTERSIGN_LDAP_USER_BASE: `ou=people,${SUFFIX}`,
    COUNTERSIGN_LDAP_USER_FILTER: '(uid={user})',
    COUNTERSIGN_LDAP_GROUP_BASE: `ou=groups,${SUFFIX}`,
    COUNTERSIGN_LDAP_DISABLED_FILTER: '(employeeType=disabled)',
    COUNTERSIGN_LDAP_POOL_SIZE: '2',
    ...over,
  };
}

describe.skipIf(missing !== null)('directory accounts (LDAP)', () => {
  let d: TestDirectory;
  let t: TestApp;
  let approvers: number;

  beforeAll(async () => {
    d = await startSlapd();
    await d.addUser('alice', PW.alice);
    await d.addUser('bob', PW.bob);
    await d.addUser('carol', PW.carol, { employeeType: 'disabled' });
    await d.addUser('dave', PW.dave);
    await d.addUser('*', PW.star);
    await d.addGroup('PKI Approvers', ['alice', 'bob', 'carol']);
    await d.addGroup('PKI Admins', ['alice']);
    t = await startTestApp({ auth: authSettingsFrom(ldapEnv(d)) });
    const role = async (name: string, permissions: string[], claims: { ClaimType: number; ClaimValue: string; ProviderAuthenticationScheme?: string }[]) => {
      const res = await t.call('POST', '/KeyfactorAPI/Security/Roles', {
        headers: { 'x-keyfactor-api-version': '2' },
        body: {
          Name: name,
          Description: name,
          PermissionSetId: GLOBAL_PERMISSION_SET_ID,
          Permissions: permissions,
          Claims: claims.map((c) => ({ Description: '', ProviderAuthenticationScheme: '', ...c })),
        },
      });
      expect(res.status, res.text).toBe(200);
      return res.body.Id as number;
    };
    // Keyfactor writes AD groups as DOMAIN\Group; a DN works too; a scheme left empty matches the one directory.
    approvers = await role('Directory approvers', ['/workflows/instances/read/pending/'], [{ ClaimType: 1, ClaimValue: 'CORP\\PKI Approvers' }]);
    await role(
      'Directory admins',
      ['/workflows/instances/read/'],
      [{ ClaimType: 1, ClaimValue: `cn=PKI Admins,ou=groups,${SUFFIX}`, ProviderAuthenticationScheme: 'Active Directory' }],
    );
    await role('Other directory', ['/security/modify/'], [{ ClaimType: 1, ClaimValue: 'CORP\\PKI Admins', ProviderAuthenticationScheme: 'Some other forest' }]);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await d?.close();
  });

  const get = (path: string, auth: string) => t.call('GET', path, { auth });

  it('signs in as DOMAIN\\user and user@domain, one identity; groups grant roles by DOMAIN\\group or DN', async () => {
    for (const name of ['CORP\\alice', 'alice@example.test', 'corp\\alice', 'alice@EXAMPLE.TEST']) {
      expect((await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', basic(name, PW.alice))).status, name).toBe(200);
      expect((await get('/KeyfactorAPI/Workflow/Instances', basic(name, PW.alice))).status, name).toBe(200);
    }
    const identity = await t.server.services.store.findIdentityByName('CORP\\alice');
    expect(identity).toMatchObject({ accountName: 'CORP\\alice', passwordHash: null, email: 'alice@example.test' });
    expect((await t.call('GET', '/KeyfactorAPI/Security/Identities', { unchecked: true })).body.filter((i: { AccountName: string }) => /alice/i.test(i.AccountName))).toHaveLength(
      1,
    );
    // Bob is only an approver; the role written for another directory's scheme grants nothing.
    expect((await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', basic('CORP\\bob', PW.bob))).status).toBe(200);
    expect((await get('/KeyfactorAPI/Workflow/Instances', basic('CORP\\bob', PW.bob))).status).toBe(403);
    expect((await get('/KeyfactorAPI/Security/Roles', basic('CORP\\alice', PW.alice))).status).toBe(403);
    // Notifications to the approvers' role reach the directory users whose groups hold it (as of their last sign-in).
    const people = (await t.server.security.peopleIn([approvers])).map((i) => i.accountName);
    expect(people).toEqual(expect.arrayContaining(['CORP\\alice', 'CORP\\bob']));
    expect(people).not.toContain('CORP\\dave');
    // Dave is in no group: signed in, allowed nothing.
    const dave = await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', basic('CORP\\dave', PW.dave));
    expect(dave.status).toBe(403);
    expect(dave.body.Message).toContain('CORP\\dave');
  });

  it('runs the seed approval flow with two directory approvers', async () => {
    const definition = await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'End', [approvers], { MinimumApprovals: 2 }), noop('End')]);
    const id = await startInstance(t, definition);
    for (const [name, pw] of [
      ['CORP\\alice', PW.alice],
      ['bob@example.test', PW.bob],
    ] as const) {
      const r = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, {
        auth: basic(name, pw),
        body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: true, Comment: 'ok' } },
      });
      expect(r.status).toBe(204);
    }
    const done = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
    expect(done.body.Status).toBe(3);
    expect(done.body.CurrentStateData['approval signal cmnts']).toMatch(/CORP\\alice: ok[\s\S]*CORP\\bob: ok/);
  });

  it('refuses a wrong password, an unknown user, a disabled account, an empty password and filter or DN metacharacters (401)', async () => {
    const refused = async (name: string, pw: string) => {
      const res = await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', basic(name, pw));
      expect(res.status, name).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
    };
    await refused('CORP\\alice', 'wrong-password');
    await refused('CORP\\nobody', PW.alice);
    await refused('CORP\\carol', PW.carol); // the right password: the account is disabled
    await refused('CORP\\bob', '');
    await refused('CORP\\*', PW.alice);
    await refused('CORP\\alice)(uid=*', PW.alice);
    await refused('CORP\\alice,ou=people', PW.alice);
    // A name of another domain is a local account, not a directory one.
    await refused('OTHER\\alice', PW.alice);
  });

  it('the log-in throttle still counts: five wrong passwords lock the name, the right one included (429)', async () => {
    for (let i = 0; i < 5; i++) expect((await get('/KeyfactorAPI/Workflow/Instances', basic('CORP\\dave', `wrong-${i}`))).status).toBe(401);
    const locked = await get('/KeyfactorAPI/Workflow/Instances', basic('dave@example.test', PW.dave));
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('many log-ins at once through a pool of two connections all succeed', async () => {
    const names = [
      ['CORP\\alice', PW.alice],
      ['alice@example.test', PW.alice],
      ['CORP\\bob', PW.bob],
      ['bob@example.test', PW.bob],
      ['Corp\\Bob', PW.bob],
      ['CORP\\ALICE', PW.alice],
    ];
    const results = await Promise.all(names.map(([n, p]) => get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', basic(n!, p!))));
    expect(results.map((r) => r.status)).toEqual(names.map(() => 200));
  });

  describe('TLS and an unreachable directory', () => {
    const withApp = async (env: NodeJS.ProcessEnv, f: (app: TestApp) => Promise<void>) => {
      const app = await startTestApp({ auth: authSettingsFrom(env) });
      try {
        await f(app);
      } finally {
        await app.close();
      }
    };
    const alice = basic('CORP\\alice', PW.alice);
    /** Signed in: this fresh server's roles give the directory's groups nothing, so 403 (not 401 or 503). */
    const signedIn = async (app: TestApp) => {
      const res = await app.call('GET', '/KeyfactorAPI/Workflow/Instances', { auth: alice });
      expect(res.body.Message ?? '').toContain('CORP\\alice');
      return res.status === 403;
    };

    it('LDAPS verified against the configured CA; without it the certificate is refused (503, no plain-text fallback)', async () => {
      await withApp(ldapEnv(d, { COUNTERSIGN_LDAP_URL: d.ldapsUrl, COUNTERSIGN_LDAP_CA_FILE: d.caFile }), async (app) => {
        expect(await signedIn(app)).toBe(true);
      });
      await withApp(ldapEnv(d, { COUNTERSIGN_LDAP_URL: d.ldapsUrl }), async (app) => {
        const res = await app.call('GET', '/KeyfactorAPI/Workflow/Instances', { auth: alice });
        expect(res.status).toBe(503);
        expect(res.body.ErrorCode).toBe('0xA5C00091');
        expect(res.text).not.toContain(PW.alice);
      });
    });

    it('StartTLS on ldap:// with the CA', async () => {
      await withApp(ldapEnv(d, { COUNTERSIGN_LDAP_STARTTLS: 'true', COUNTERSIGN_LDAP_CA_FILE: d.caFile }), async (app) => {
        expect(await signedIn(app)).toBe(true);
      });
      await withApp(ldapEnv(d, { COUNTERSIGN_LDAP_STARTTLS: 'true' }), async (app) => {
        expect((await app.call('GET', '/KeyfactorAPI/Workflow/Instances', { auth: alice })).status).toBe(503);
      });
    });

    it('a directory that does not answer: 503 for its accounts, local accounts unaffected, nothing counted against the name', async () => {
      await withApp(ldapEnv(d, { COUNTERSIGN_LDAP_URL: 'ldap://127.0.0.1:1', COUNTERSIGN_LDAP_TIMEOUT_MS: '2000' }), async (app) => {
        for (let i = 0; i < 6; i++) expect((await app.call('GET', '/KeyfactorAPI/Workflow/Instances', { auth: alice })).status).toBe(503);
        expect((await app.call('GET', '/KeyfactorAPI/Workflow/Instances')).status).toBe(200);
      });
    });
  });
});
