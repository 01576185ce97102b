import { describe, expect, it, beforeAll } from 'vitest';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import { P } from '../../src/security/permissions.ts';
import { expectValidResponse } from '../support/openapi.ts';
import { BASE, v2, expect400, settle, securityApi } from './security-api.ts';

/*
 * /Security/Roles under version 2, /PermissionSets and /Permissions over real HTTP (see security.test.ts). Every response goes through
 * t.call, which validates it against Keyfactor's v25 contract (security-v1, or security-v2 for
 * /Security/Roles under x-keyfactor-api-version: 2); the few calls made unchecked (an operation
 * that exists only in the other document) are validated here explicitly with expectValidResponse.
 */

const { call, createIdentity } = securityApi();

describe('/Security/Roles, version 2 (claims, access-control strings)', () => {
  let erin: { id: number; auth: string };
  let approvers: number;

  beforeAll(async () => {
    erin = await createIdentity('CORP\\erin', 'erin-password');
  });

  it('finds the permission set, then creates a role with claims', async () => {
    const sets = await call('GET', '/PermissionSets');
    expect(sets.body).toEqual([{ Id: GLOBAL_PERMISSION_SET_ID, Name: 'Global', Permissions: expect.arrayContaining(['/', P.instancesReadPending]) }]);
    const res = await call(
      'POST',
      '/Security/Roles',
      v2({
        body: {
          Name: 'Approvers',
          Description: 'Approve requests',
          PermissionSetId: sets.body[0].Id,
          Permissions: ['/workflows/instances/read/pending/', '/security/read'],
          Claims: [
            { ClaimType: 0, ClaimValue: 'corp\\ERIN', ProviderAuthenticationScheme: 'Countersign', Description: 'Erin' },
            { ClaimType: 4, ClaimValue: 'approver', ProviderAuthenticationScheme: 'https://idp.example.com', Description: 'OIDC role' },
          ],
        },
      }),
    );
    expect(res.status, res.text).toBe(200);
    approvers = res.body.Id;
    expect(res.body).toEqual({
      Id: expect.any(Number),
      Name: 'Approvers',
      Description: 'Approve requests',
      EmailAddress: null,
      Immutable: false,
      PermissionSetId: GLOBAL_PERMISSION_SET_ID,
      Permissions: [P.instancesReadPending, P.securityRead],
      Claims: [
        {
          Id: expect.any(Number),
          Description: 'Erin',
          ClaimType: 'User',
          ClaimValue: 'corp\\ERIN',
          Provider: { Id: expect.any(String), AuthenticationScheme: 'Countersign', DisplayName: 'Countersign' },
        },
        {
          Id: expect.any(Number),
          Description: 'OIDC role',
          ClaimType: 'OAuthRole',
          ClaimValue: 'approver',
          Provider: expect.objectContaining({ AuthenticationScheme: 'https://idp.example.com' }),
        },
      ],
    });
    // The User claim binds erin: she may read roles now.
    expect((await call('GET', '/Security/Roles', { auth: erin.auth })).status).toBe(200);
    // Version 1 shows erin as a member, with the permissions in the Area:Permission spelling.
    const v1 = await call('GET', `/Security/Roles/${approvers}`);
    expect(v1.body.Identities.map((i: { Id: number }) => i.Id)).toEqual([erin.id]);
    expect(v1.body.Permissions).toEqual(['WorkflowInstances:ReadAssignedToMe', 'Security:Read']);
    // And erin's identity lists the role.
    const mine = (await call('GET', '/Security/Identities?ReturnLimit=100')).body.find((i: { Id: number }) => i.Id === erin.id);
    expect(mine.Roles.map((r: { Name: string }) => r.Name)).toEqual(['Approvers']);
  });

  it('requires PermissionSetId (the global one) and valid claims and permissions', async () => {
    const base = { Name: 'V2 bad', Description: '' };
    expect400(await call('POST', '/Security/Roles', v2({ body: base })), 'PermissionSetId', GLOBAL_PERMISSION_SET_ID);
    expect400(await call('POST', '/Security/Roles', v2({ body: { ...base, PermissionSetId: '11111111-1111-1111-1111-111111111111' } })), 'PermissionSetId');
    const ok = { ...base, PermissionSetId: GLOBAL_PERMISSION_SET_ID };
    expect400(await call('POST', '/Security/Roles', v2({ body: { ...ok, Permissions: ['/workflows/unknown/'] } })), '/workflows/unknown/');
    expect400(await call('POST', '/Security/Roles', v2({ body: { ...ok, Claims: [{ ClaimType: 9, ClaimValue: 'x' }] } })), 'Claims[0].ClaimType');
    expect400(await call('POST', '/Security/Roles', v2({ body: { ...ok, Claims: [{ ClaimType: 0 }] } })), 'ClaimValue');
    expect400(await call('POST', '/Security/Roles', v2({ body: { ...ok, Claims: [{ ClaimType: 0, ClaimValue: 'a:b' }] } })), 'ClaimValue');
    expect400(await call('POST', '/Security/Roles', v2({ body: { ...ok, Claims: 'x' } })), 'Claims');
    expect400(await call('POST', '/Security/Roles', v2({ body: { ...ok, Name: 'x'.repeat(129) } })), 'Name');
  });

  it('lists in the SecurityRoleQueryResponse shape, and shows direct members as User claims', async () => {
    const list = await call('GET', '/Security/Roles?SortField=Name', v2());
    expect(list.status).toBe(200);
    const row = list.body.find((r: { Id: number }) => r.Id === approvers);
    expect(row).toEqual({ Id: approvers, Name: 'Approvers', EmailAddress: null, Immutable: false, PermissionSetId: GLOBAL_PERMISSION_SET_ID, ClaimsCount: 2 });
    const admins = list.body.find((r: { Name: string }) => r.Name === 'Administrators');
    const full = await call('GET', `/Security/Roles/${admins.Id}`, v2());
    expect(full.body.Permissions).toEqual(['/']);
    expect(full.body.Claims).toEqual([{ Id: expect.any(Number), Description: 'Direct member', ClaimType: 'User', ClaimValue: 'admin', Provider: expect.any(Object) }]);
    expect(full.body.Claims[0].Id).toBeLessThan(0);
    expect(admins.ClaimsCount).toBe(1);
    expect((await call('GET', '/Security/Roles/424242', v2())).status).toBe(404);
  });

  it('PUT replaces permissions and claims (the complete lists)', async () => {
    const res = await call(
      'PUT',
      '/Security/Roles',
      v2({
        body: {
          Id: approvers,
          Name: 'Approvers',
          Description: 'Only OIDC now',
          PermissionSetId: GLOBAL_PERMISSION_SET_ID,
          Permissions: ['/workflows/'],
          Claims: [{ ClaimType: 4, ClaimValue: 'approver', ProviderAuthenticationScheme: 'https://idp.example.com', Description: 'kept' }],
        },
      }),
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.Permissions).toEqual(['/workflows/']);
    expect(res.body.Claims).toHaveLength(1);
    expect(res.body.Claims[0]).toMatchObject({ ClaimType: 'OAuthRole', Description: 'kept' });
    await settle();
    expect((await call('GET', '/Security/Roles', { auth: erin.auth })).status).toBe(403);
    expect400(await call('PUT', '/Security/Roles', v2({ body: { Id: approvers, Name: 'Approvers', Description: '' } })), 'PermissionSetId');
    expect((await call('PUT', '/Security/Roles', v2({ body: { Id: 424242, Name: 'x', Description: '', PermissionSetId: GLOBAL_PERMISSION_SET_ID } }))).status).toBe(404);
  });

  it('a version-2 PUT with Claims turns direct members into claims', async () => {
    const r = await call('POST', '/Security/Roles', { body: { Name: 'Mixed', Description: 'm', Identities: [{ AccountName: 'CORP\\erin' }] } });
    const seen = await call('GET', `/Security/Roles/${r.body.Id}`, v2());
    const claims = seen.body.Claims.map((c: { ClaimType: string; ClaimValue: string; Description: string }) => ({
      ClaimType: 0,
      ClaimValue: c.ClaimValue,
      ProviderAuthenticationScheme: 'Countersign',
      Description: c.Description,
    }));
    const put = await call('PUT', '/Security/Roles', v2({ body: { Id: r.body.Id, Name: 'Mixed', Description: 'm', PermissionSetId: GLOBAL_PERMISSION_SET_ID, Claims: claims } }));
    expect(put.body.Claims).toHaveLength(1);
    expect(put.body.Claims[0].Id).toBeGreaterThan(0);
    expect((await call('GET', `/Security/Roles/${r.body.Id}`)).body.Identities.map((i: { Id: number }) => i.Id)).toEqual([erin.id]);
    // Version-1 PUT with an empty Identities list removes her, claim included.
    const v1 = await call('PUT', '/Security/Roles', { body: { Id: r.body.Id, Name: 'Mixed', Description: 'm', Identities: [] } });
    expect(v1.body.Identities).toEqual([]);
    expect((await call('GET', `/Security/Roles/${r.body.Id}`, v2())).body.Claims).toEqual([]);
  });

  it('DELETE works under version 2 too (204, the v1 operation)', async () => {
    const r = await call('POST', '/Security/Roles', v2({ body: { Name: 'Short-lived', Description: '', PermissionSetId: GLOBAL_PERMISSION_SET_ID } }));
    const path = `/Security/Roles/${r.body.Id}`;
    const del = await call('DELETE', path, v2({ unchecked: true }));
    expect(del.status).toBe(204);
    expectValidResponse({ doc: 'security-v1', method: 'DELETE', url: BASE + path, status: del.status, body: del.text });
    const again = await call('DELETE', path, v2({ unchecked: true }));
    expect(again.status).toBe(404);
    expectValidResponse({ doc: 'security-v1', method: 'DELETE', url: BASE + path, status: again.status, body: again.body });
  });
});

describe('/PermissionSets and /Permissions', () => {
  it('has one global set, by id; other ids are 404, non-GUIDs 400', async () => {
    const one = await call('GET', `/PermissionSets/${GLOBAL_PERMISSION_SET_ID.toUpperCase()}`);
    expect(one.body).toEqual({ Id: GLOBAL_PERMISSION_SET_ID, Name: 'Global', Permissions: expect.arrayContaining(['/workflows/']) });
    expect((await call('GET', '/PermissionSets/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await call('GET', '/PermissionSets/abc')).status).toBe(400);
    expect((await call('GET', '/PermissionSets?QueryString=Name%20-eq%20%22Other%22')).body).toEqual([]);
    expect((await call('POST', '/PermissionSets', { body: { Name: 'x', Permissions: [] } })).status).toBe(405);
  });

  it('/PermissionSets/My lists the caller’s roles in the set', async () => {
    const res = await call('GET', '/PermissionSets/My');
    expect(res.body).toEqual([
      { Id: GLOBAL_PERMISSION_SET_ID, Name: 'Global', Permissions: expect.any(Array), SecurityRoles: [{ Id: expect.any(Number), Name: 'Administrators' }] },
    ]);
    const frank = await createIdentity('frank', 'frank-password');
    expect((await call('GET', '/PermissionSets/My', { auth: frank.auth })).body).toEqual([]);
  });

  it('/Permissions lists the catalogue we enforce', async () => {
    const res = await call('GET', '/Permissions');
    expect(res.body).toEqual(expect.arrayContaining(['/', '/workflows/', '/security/', ...Object.values(P)]));
  });

  it('needs Security:Read', async () => {
    const gina = await createIdentity('gina', 'gina-password');
    for (const path of ['/Permissions', '/PermissionSets', `/PermissionSets/${GLOBAL_PERMISSION_SET_ID}`, '/Security/Identities'])
      expect((await call('GET', path, { auth: gina.auth })).status).toBe(403);
    expect((await call('POST', '/Security/Identities', { auth: gina.auth, body: { AccountName: 'x' } })).status).toBe(403);
  });
});
