import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, startTestApp, type TestApp } from '../support/server.ts';

/*
 * The "last security administrator" rule runs inside the store's write transaction: two
 * administrators removing each other at the same instant are checked one after the other, so
 * exactly one succeeds and somebody can still administer security. Real HTTP, both stores.
 */

const PW = 'a-long-enough-password';

describe('two administrators removing each other at once', () => {
  let app: TestApp;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    app = await startTestApp();
    for (const name of ['CORP\\alice', 'CORP\\bob', 'CORP\\carol', 'CORP\\dave']) {
      const res = await app.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: name, Password: PW } });
      expect(res.status).toBe(200);
      ids[name] = res.body.Id;
    }
    for (const [role, members] of [
      ['Pair1', ['CORP\\alice', 'CORP\\bob']],
      ['Pair2', ['CORP\\carol', 'CORP\\dave']],
    ] as const) {
      const res = await app.call('POST', '/KeyfactorAPI/Security/Roles', {
        body: { Name: role, Description: 'Administrators too', Permissions: ['/'], Identities: members.map((m) => ({ AccountName: m })) },
      });
      expect(res.status).toBe(200);
    }
    // The bootstrap administrator goes: alice, bob, carol and dave are the only administrators.
    const admin = (await app.call('GET', '/KeyfactorAPI/Security/Identities')).body.find((i: { AccountName: string }) => i.AccountName === 'admin');
    expect((await app.call('DELETE', `/KeyfactorAPI/Security/Identities/${admin.Id}`, { auth: basic('CORP\\alice', PW) })).status).toBe(204);
  });
  afterAll(() => app.close());

  const auth = (name: string) => basic(name, PW);
  /** Both credentials verified and cached, so both requests reach the service at the same instant. */
  const warm = async (names: string[]) => {
    for (const n of names) expect((await app.call('GET', '/KeyfactorAPI/Security/My/Permissions', { auth: auth(n), unchecked: true })).status).toBe(200);
  };

  it('deleting each other: exactly one succeeds', async () => {
    // Leave alice and bob as the only administrators first (carol removes dave, then alice removes carol).
    expect((await app.call('DELETE', `/KeyfactorAPI/Security/Identities/${ids['CORP\\dave']}`, { auth: auth('CORP\\carol') })).status).toBe(204);
    expect((await app.call('DELETE', `/KeyfactorAPI/Security/Identities/${ids['CORP\\carol']}`, { auth: auth('CORP\\alice') })).status).toBe(204);
    await warm(['CORP\\alice', 'CORP\\bob']);
    const [a, b] = await Promise.all([
      app.call('DELETE', `/KeyfactorAPI/Security/Identities/${ids['CORP\\bob']}`, { auth: auth('CORP\\alice') }),
      app.call('DELETE', `/KeyfactorAPI/Security/Identities/${ids['CORP\\alice']}`, { auth: auth('CORP\\bob') }),
    ]);
    // The loser is refused: 409 when both reached the check together, else 401/403 (its caller is gone).
    expect([a.status, b.status].filter((s) => s === 204)).toHaveLength(1);
    expect([401, 403, 409]).toContain(a.status === 204 ? b.status : a.status);
    const left = (await app.call('GET', '/KeyfactorAPI/Security/Identities', { auth: a.status === 204 ? auth('CORP\\alice') : auth('CORP\\bob') })).body;
    expect(left.map((i: { AccountName: string }) => i.AccountName)).toEqual([a.status === 204 ? 'CORP\\alice' : 'CORP\\bob']);
  });

  it('removing each other from the one administrators role: exactly one succeeds', async () => {
    const survivor = (await app.call('GET', '/KeyfactorAPI/Security/Identities', { auth: auth('CORP\\alice') })).status === 200 ? 'CORP\\alice' : 'CORP\\bob';
    const other = 'CORP\\erin';
    // A second administrator for the survivor, in the same role.
    const created = await app.call('POST', '/KeyfactorAPI/Security/Identities', { auth: auth(survivor), body: { AccountName: other, Password: PW } });
    expect(created.status).toBe(200);
    const role = (await app.call('GET', '/KeyfactorAPI/Security/Roles', { auth: auth(survivor) })).body.find((r: { Name: string }) => r.Name === 'Pair1');
    const survivorId = ids[survivor]!;
    expect((await app.call('PUT', `/KeyfactorAPI/Security/Roles/${role.Id}/Identities`, { auth: auth(survivor), body: { Add: [created.body.Id] } })).status).toBe(200);
    await warm([survivor, other]);
    const [a, b] = await Promise.all([
      app.call('PUT', `/KeyfactorAPI/Security/Roles/${role.Id}/Identities`, { auth: auth(survivor), body: { Remove: [created.body.Id] } }),
      app.call('PUT', `/KeyfactorAPI/Security/Roles/${role.Id}/Identities`, { auth: auth(other), body: { Remove: [survivorId] } }),
    ]);
    expect([a.status, b.status].filter((s) => s === 200)).toHaveLength(1);
    expect([403, 409]).toContain(a.status === 200 ? b.status : a.status);
    const members = (await app.call('GET', `/KeyfactorAPI/Security/Roles/${role.Id}/Identities`, { auth: auth(a.status === 200 ? survivor : other) })).body;
    expect(members).toHaveLength(1);
  });
});
