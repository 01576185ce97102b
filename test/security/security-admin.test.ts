import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, startTestApp, type CallOptions, type TestApp } from '../support/server.ts';

/*
 * Security:Modify must not be a path to more: no granting what the caller does not hold, and no
 * change that leaves nobody able to administer security. Real HTTP, both stores.
 */

const PW = 'a-long-enough-password';
const v2 = (o: CallOptions = {}): CallOptions => ({ ...o, headers: { 'x-keyfactor-api-version': '2', ...o.headers } });

async function identity(app: TestApp, name: string): Promise<{ id: number; auth: string }> {
  const res = await app.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: name, Password: PW } });
  expect(res.status).toBe(200);
  return { id: res.body.Id, auth: basic(name, PW) };
}

async function roleId(app: TestApp, name: string): Promise<number> {
  const res = await app.call('GET', '/KeyfactorAPI/Security/Roles');
  return res.body.find((r: { Name: string }) => r.Name === name).Id;
}

async function members(app: TestApp, id: number): Promise<number[]> {
  return (await app.call('GET', `/KeyfactorAPI/Security/Roles/${id}/Identities`)).body.map((i: { Id: number }) => i.Id).sort();
}

const refused = (res: { status: number; body: any }, status: number, text: RegExp): void => {
  expect(res.status).toBe(status);
  expect(res.body.ErrorCode).toBe(status === 403 ? '0xA5C00011' : '0xA5C00030');
  expect(res.body.Message).toMatch(text);
};

describe('no escalation through Security:Modify', () => {
  let app: TestApp;
  let sec: { id: number; auth: string };
  let mallory: { id: number; auth: string };
  let admins: number;
  let secOps: number;

  beforeAll(async () => {
    app = await startTestApp();
    sec = await identity(app, 'CORP\\sec');
    mallory = await identity(app, 'CORP\\mallory');
    const res = await app.call('POST', '/KeyfactorAPI/Security/Roles', {
      body: { Name: 'SecOps', Description: 'Security only', Permissions: ['Security:Read', 'Security:Modify'], Identities: [{ AccountName: 'CORP\\sec' }] },
    });
    expect(res.status).toBe(200);
    secOps = res.body.Id;
    admins = await roleId(app, 'Administrators');
  });
  afterAll(() => app.close());

  it('cannot add itself (or anyone) to a role that grants more (PUT /Roles/{id}/Identities, v1 PUT, v2 PUT claims)', async () => {
    const before = await members(app, admins);
    refused(
      await app.call('PUT', `/KeyfactorAPI/Security/Roles/${admins}/Identities`, { auth: sec.auth, body: { Add: [sec.id] } }),
      403,
      /cannot add members to role 'Administrators'.*'\/'/,
    );
    refused(await app.call('PUT', `/KeyfactorAPI/Security/Roles/${admins}/Identities`, { auth: sec.auth, body: { Ids: [...before, mallory.id] } }), 403, /do not hold/);
    refused(
      await app.call('PUT', '/KeyfactorAPI/Security/Roles', {
        auth: sec.auth,
        body: { Id: admins, Name: 'Administrators', Description: 'x', Identities: [{ AccountName: 'admin' }, { AccountName: 'CORP\\sec' }] },
      }),
      403,
      /do not hold/,
    );
    refused(
      await app.call(
        'PUT',
        '/KeyfactorAPI/Security/Roles',
        v2({
          auth: sec.auth,
          body: {
            Id: admins,
            Name: 'Administrators',
            Description: 'x',
            PermissionSetId: (await app.call('GET', '/KeyfactorAPI/PermissionSets')).body[0].Id,
            Claims: [
              { ClaimType: 'User', ClaimValue: 'admin' },
              { ClaimType: 'User', ClaimValue: 'CORP\\sec' },
            ],
          },
        }),
      ),
      403,
      /do not hold/,
    );
    expect(await members(app, admins)).toEqual(before);
    // Still only security rights.
    expect((await app.call('GET', '/KeyfactorAPI/Workflow/Definitions', { auth: sec.auth, unchecked: true })).status).toBe(403);
  });

  it('cannot add a permission it lacks to a role, nor create or enable a role granting one (v1 and v2)', async () => {
    refused(
      await app.call('PUT', '/KeyfactorAPI/Security/Roles', {
        auth: sec.auth,
        body: { Id: secOps, Name: 'SecOps', Description: 'x', Permissions: ['Security:Read', 'Security:Modify', 'WorkflowDefinitions:Modify'] },
      }),
      403,
      /cannot grant '\/workflows\/definitions\/modify\/'/,
    );
    refused(
      await app.call('POST', '/KeyfactorAPI/Security/Roles', { auth: sec.auth, body: { Name: 'Sneaky', Description: 'x', Permissions: ['WorkflowInstances:Manage'] } }),
      403,
      /do not hold/,
    );
    const setId = (await app.call('GET', '/KeyfactorAPI/PermissionSets')).body[0].Id;
    refused(
      await app.call('POST', '/KeyfactorAPI/Security/Roles', v2({ auth: sec.auth, body: { Name: 'Root', Description: 'x', PermissionSetId: setId, Permissions: ['/'] } })),
      403,
      /cannot grant '\/'/,
    );
    // A disabled role with more rights, made by an administrator, cannot be switched on by sec.
    const off = await app.call('POST', '/KeyfactorAPI/Security/Roles', {
      body: { Name: 'Dormant', Description: 'x', Enabled: false, Permissions: ['WorkflowInstances:Manage'], Identities: [{ AccountName: 'CORP\\sec' }] },
    });
    expect(off.status).toBe(200);
    refused(
      await app.call('PUT', '/KeyfactorAPI/Security/Roles', { auth: sec.auth, body: { Id: off.body.Id, Name: 'Dormant', Description: 'x', Enabled: true } }),
      403,
      /do not hold/,
    );
    const roles = (await app.call('GET', '/KeyfactorAPI/Security/Roles')).body.map((r: { Name: string }) => r.Name);
    expect(roles).not.toContain('Sneaky');
    expect(roles).not.toContain('Root');
  });

  it('may grant what it holds: a role with security rights, and members for it', async () => {
    const res = await app.call('POST', '/KeyfactorAPI/Security/Roles', {
      auth: sec.auth,
      body: { Name: 'Auditors', Description: 'x', Permissions: ['Security:Read'], Identities: [{ AccountName: 'CORP\\mallory' }] },
    });
    expect(res.status).toBe(200);
    expect((await app.call('PUT', `/KeyfactorAPI/Security/Roles/${secOps}/Identities`, { auth: sec.auth, body: { Add: [mallory.id] } })).status).toBe(200);
    // An administrator (holding "/") may still do everything.
    expect((await app.call('PUT', `/KeyfactorAPI/Security/Roles/${admins}/Identities`, { body: { Add: [sec.id] } })).status).toBe(200);
  });
});

describe('the last security administrator stays', () => {
  let app: TestApp;
  let admins: number;
  let adminId: number;

  beforeAll(async () => {
    app = await startTestApp();
    admins = await roleId(app, 'Administrators');
    adminId = (await members(app, admins))[0]!;
  });
  afterAll(() => app.close());

  const LAST = /leave no identity able to administer security/;

  it('refuses deleting, disabling, emptying or stripping the only role that administers security', async () => {
    refused(await app.call('DELETE', `/KeyfactorAPI/Security/Roles/${admins}`), 409, LAST);
    refused(await app.call('PUT', '/KeyfactorAPI/Security/Roles', { body: { Id: admins, Name: 'Administrators', Description: 'x', Enabled: false } }), 409, LAST);
    refused(await app.call('PUT', `/KeyfactorAPI/Security/Roles/${admins}/Identities`, { body: { Remove: [adminId] } }), 409, LAST);
    refused(await app.call('PUT', `/KeyfactorAPI/Security/Roles/${admins}/Identities`, { body: { Ids: [] } }), 409, LAST);
    refused(await app.call('PUT', '/KeyfactorAPI/Security/Roles', { body: { Id: admins, Name: 'Administrators', Description: 'x', Identities: [] } }), 409, LAST);
    refused(
      await app.call('PUT', '/KeyfactorAPI/Security/Roles', {
        body: { Id: admins, Name: 'Administrators', Description: 'x', Permissions: ['Security:Read', 'WorkflowDefinitions:Modify'] },
      }),
      409,
      LAST,
    );
    const setId = (await app.call('GET', '/KeyfactorAPI/PermissionSets')).body[0].Id;
    refused(
      await app.call(
        'PUT',
        '/KeyfactorAPI/Security/Roles',
        v2({ body: { Id: admins, Name: 'Administrators', Description: 'x', PermissionSetId: setId, Permissions: ['/workflows/'] } }),
      ),
      409,
      LAST,
    );
    refused(
      await app.call('PUT', '/KeyfactorAPI/Security/Roles', v2({ body: { Id: admins, Name: 'Administrators', Description: 'x', PermissionSetId: setId, Claims: [] } })),
      409,
      LAST,
    );
    // Nothing changed.
    expect(await members(app, admins)).toEqual([adminId]);
    const role = await app.call('GET', `/KeyfactorAPI/Security/Roles/${admins}`);
    expect(role.body.Enabled).toBe(true);
    expect((await app.call('GET', `/KeyfactorAPI/Security/Roles/${admins}`, v2())).body.Permissions).toEqual(['/']);
  });

  it('allows the same changes while another identity keeps Security:Modify, then protects that one', async () => {
    const boss = await identity(app, 'CORP\\boss');
    const bosses = await app.call('POST', '/KeyfactorAPI/Security/Roles', {
      body: { Name: 'Bosses', Description: 'x', Permissions: ['Security:Read', 'Security:Modify'], Identities: [{ AccountName: 'CORP\\boss' }] },
    });
    expect(bosses.status).toBe(200);
    // The first administrator leaves the Administrators role: boss still administers security.
    expect((await app.call('PUT', `/KeyfactorAPI/Security/Roles/${admins}/Identities`, { auth: boss.auth, body: { Remove: [adminId] } })).status).toBe(200);
    // boss is now the last one: neither the role nor the membership can go.
    refused(await app.call('DELETE', `/KeyfactorAPI/Security/Roles/${bosses.body.Id}`, { auth: boss.auth }), 409, LAST);
    refused(await app.call('PUT', `/KeyfactorAPI/Security/Roles/${bosses.body.Id}/Identities`, { auth: boss.auth, body: { Remove: [boss.id] } }), 409, LAST);
    // Deleting the former administrator is fine (no longer one), deleting oneself never is.
    expect((await app.call('DELETE', `/KeyfactorAPI/Security/Identities/${adminId}`, { auth: boss.auth })).status).toBe(204);
    expect((await app.call('DELETE', `/KeyfactorAPI/Security/Identities/${boss.id}`, { auth: boss.auth })).status).toBe(400);
    expect((await app.call('GET', '/KeyfactorAPI/Security/Roles', { auth: boss.auth })).status).toBe(200);
  });
});
