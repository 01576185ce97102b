import { describe, expect, it, beforeAll } from 'vitest';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import { P } from '../../src/security/permissions.ts';
import { basic } from '../support/server.ts';
import { expect400, settle, securityApi } from './security-api.ts';

/*
 * /Security/*, /PermissionSets and /Permissions over real HTTP. Every response goes through
 * t.call, which validates it against Keyfactor's v25 contract (security-v1, or security-v2 for
 * /Security/Roles under x-keyfactor-api-version: 2); the few calls made unchecked (an operation
 * that exists only in the other document) are validated here explicitly with expectValidResponse.
 */

const { call, createIdentity } = securityApi();

describe('authentication', () => {
  it('answers 401 with a Basic challenge without or with wrong credentials', async () => {
    for (const auth of [null, basic('admin', 'wrong-password'), basic('nobody', 'x'), 'Basic %%%']) {
      const res = await call('GET', '/Security/Roles', { auth });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="Countersign", charset="UTF-8"');
    }
  });
});

describe('/Security/Identities', () => {
  it('creates an identity in the v25 SecurityIdentityResponse shape, without any secret', async () => {
    const res = await call('POST', '/Security/Identities', {
      body: { accountName: 'CORP\\alice', Password: 'alice-password', Email: 'alice@example.com', IdentityType: 'user' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ Id: expect.any(Number), AccountName: 'CORP\\alice', IdentityType: 'User', Roles: [], Valid: true, SID: null });
    const group = await call('POST', '/Security/Identities', { body: { AccountName: 'CORP\\PKI Admins', IdentityType: 'Group', SID: 'S-1-5-21-1' } });
    expect(group.body).toMatchObject({ IdentityType: 'Group', SID: 'S-1-5-21-1' });
  });

  it('lets a new user sign in, with no permissions yet', async () => {
    const bob = await createIdentity('bob', 'bob-password');
    const res = await call('GET', '/Security/Roles', { auth: bob.auth });
    expect(res.status).toBe(403);
    expect(res.body.Message).toContain(P.securityRead);
  });

  it('refuses a taken name (409) and bad bodies (400, naming the field)', async () => {
    expect((await call('POST', '/Security/Identities', { body: { AccountName: 'corp\\ALICE' } })).status).toBe(409);
    expect400(await call('POST', '/Security/Identities', { body: {} }), 'AccountName');
    expect400(await call('POST', '/Security/Identities'), 'body');
    expect400(await call('POST', '/Security/Identities', { body: ['x'] }), 'body');
    for (const bad of ['', '   ', 'a\\b\\c', '\\user', 'DOMAIN\\', 'us:er', 'tab\tname'])
      expect400(await call('POST', '/Security/Identities', { body: { AccountName: bad } }), 'AccountName');
    expect400(await call('POST', '/Security/Identities', { body: { AccountName: 42 } }), 'AccountName');
    expect400(await call('POST', '/Security/Identities', { body: { AccountName: 'short', Password: 'short' } }), 'Password', '8');
    expect400(await call('POST', '/Security/Identities', { body: { AccountName: 'g2', IdentityType: 'Group', Password: 'long-enough' } }), 'Password');
    expect400(await call('POST', '/Security/Identities', { body: { AccountName: 'r2', IdentityType: 'Robot' } }), 'IdentityType');
    expect400(await call('POST', '/Security/Identities', { body: { AccountName: 'e2', Email: 'not-an-email' } }), 'Email');
  });

  it('lists with paging and sorting (SortAscending 0 ascending, 1 descending)', async () => {
    const all = await call('GET', '/Security/Identities?ReturnLimit=100');
    expect(all.status).toBe(200);
    const names = all.body.map((i: { AccountName: string }) => i.AccountName);
    expect(names).toEqual([...names].sort((a: string, b: string) => a.toLowerCase().localeCompare(b.toLowerCase())));
    expect(names).toEqual(expect.arrayContaining(['admin', 'CORP\\alice', 'bob']));
    const admin = all.body.find((i: { AccountName: string }) => i.AccountName === 'admin');
    expect(admin.Roles.map((r: { Name: string }) => r.Name)).toEqual(['Administrators']);
    expect(admin.Roles[0].Identities).toBeNull();

    const desc = await call('GET', '/Security/Identities?SortField=Id&SortAscending=1&ReturnLimit=2&PageReturned=1');
    expect(desc.body).toHaveLength(2);
    expect(desc.body[0].Id).toBeGreaterThan(desc.body[1].Id);
    const page2 = await call('GET', '/Security/Identities?pq.sortField=Id&pq.sortAscending=0&pq.returnLimit=1&pq.pageReturned=2');
    expect(page2.body).toHaveLength(1);
    expect(page2.body[0].Id).toBe(Math.min(...all.body.map((i: { Id: number }) => i.Id)) + 1);
    expect400(await call('GET', '/Security/Identities?SortField=Password'), 'Password');
    expect400(await call('GET', '/Security/Identities?ReturnLimit=abc'), 'ReturnLimit');
    expect400(await call('GET', '/Security/Identities?QueryString=AccountName%20-eq%20%22bob%22'), 'QueryString');
  });

  it('GET /{id} answers the identity permissions shape; 404 unknown, 400 bad id', async () => {
    const admin = (await call('GET', '/Security/Identities')).body.find((i: { AccountName: string }) => i.AccountName === 'admin');
    const res = await call('GET', `/Security/Identities/${admin.Id}`);
    expect(res.status).toBe(200);
    expect(res.body.Identity).toBe('admin');
    expect(res.body.Claim).toMatchObject({ Id: admin.Id, ClaimType: 'User', ClaimValue: 'admin' });
    expect(res.body.SecuredAreaPermissions).toContainEqual({ Permission: P.securityModify, GrantedByRoles: ['Administrators'] });
    expect((await call('GET', '/Security/Identities/999999')).status).toBe(404);
    expect((await call('GET', '/Security/Identities/abc')).status).toBe(400);
    expect((await call('GET', '/Security/Identities/-1')).status).toBe(400);
  });

  it('Lookup tells whether an account name exists', async () => {
    expect((await call('GET', '/Security/Identities/Lookup?accountName=corp%5CALICE')).body).toEqual({ Valid: true });
    expect((await call('GET', '/Security/Identities/Lookup?accountName=nobody')).body).toEqual({ Valid: false });
    expect((await call('GET', '/Security/Identities/Lookup')).status).toBe(400);
  });

  it('DELETE answers 204, then 404; the caller cannot delete itself', async () => {
    const doomed = await createIdentity('CORP\\doomed');
    const del = await call('DELETE', `/Security/Identities/${doomed.id}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await call('DELETE', `/Security/Identities/${doomed.id}`)).status).toBe(404);
    const admin = (await call('GET', '/Security/Identities')).body.find((i: { AccountName: string }) => i.AccountName === 'admin');
    expect400(await call('DELETE', `/Security/Identities/${admin.Id}`), 'signed in');
  });
});

describe('/Security/Roles, version 1', () => {
  let carol: { id: number; auth: string };
  let dave: { id: number; auth: string };
  let readers: number;

  beforeAll(async () => {
    carol = await createIdentity('CORP\\carol', 'carol-password');
    dave = await createIdentity('CORP\\dave', 'dave-password');
  });

  it('creates a role with Area:Permission strings and identities', async () => {
    const res = await call('POST', '/Security/Roles', {
      body: {
        Name: 'Readers',
        Description: 'Read security and all instances',
        EmailAddress: 'readers@example.com',
        Permissions: ['WorkflowInstances:ReadAll', 'security:read'],
        Identities: [{ AccountName: 'corp\\CAROL', SID: null }],
      },
    });
    expect(res.status, res.text).toBe(200);
    readers = res.body.Id;
    expect(res.body).toEqual({
      Id: expect.any(Number),
      Description: 'Read security and all instances',
      EmailAddress: 'readers@example.com',
      Enabled: true,
      Immutable: false,
      Valid: true,
      Private: false,
      PermissionSetId: GLOBAL_PERMISSION_SET_ID,
      Identities: [{ Id: carol.id, AccountName: 'CORP\\carol', IdentityType: 'User', Roles: null, Valid: true, SID: null }],
      Name: 'Readers',
      Permissions: ['WorkflowInstances:ReadAll', 'Security:Read'],
    });
    // The member can now read roles, but not change them.
    expect((await call('GET', '/Security/Roles', { auth: carol.auth })).status).toBe(200);
    expect((await call('POST', '/Security/Roles', { auth: carol.auth, body: { Name: 'x', Description: 'x' } })).status).toBe(403);
  });

  it('shows a "/" role as every legacy permission', async () => {
    const list = await call('GET', '/Security/Roles?QueryString=Name%20-eq%20%22administrators%22');
    expect(list.body).toHaveLength(1);
    expect(list.body[0].Permissions).toEqual(expect.arrayContaining(['WorkflowDefinitions:Modify', 'WorkflowInstances:Manage', 'Security:Modify']));
    expect(list.body[0].Identities.map((i: { AccountName: string }) => i.AccountName)).toEqual(['admin']);
  });

  it('refuses bad role bodies with 400 naming the problem, and taken names with 409', async () => {
    expect400(await call('POST', '/Security/Roles', { body: { Description: 'd' } }), 'Name');
    expect400(await call('POST', '/Security/Roles', { body: { Name: 'n' } }), 'Description');
    expect400(await call('POST', '/Security/Roles', { body: { Name: 'n', Description: 'd', Permissions: ['Certificates:Juggle'] } }), 'Certificates:Juggle');
    expect400(await call('POST', '/Security/Roles', { body: { Name: 'n', Description: 'd', Permissions: 'Security:Read' } }), 'Permissions');
    expect400(await call('POST', '/Security/Roles', { body: { Name: 'n', Description: 'd', Permissions: [7] } }), 'Permissions[0]');
    expect400(
      await call('POST', '/Security/Roles', { body: { Name: 'n', Description: 'd', Identities: [{ AccountName: 'CORP\\ghost' }, { AccountName: 'CORP\\carol' }] } }),
      'CORP\\ghost',
    );
    expect400(await call('POST', '/Security/Roles', { body: { Name: 'n', Description: 'd', Identities: [{}] } }), 'Identities[0].AccountName');
    expect400(await call('POST', '/Security/Roles', { body: { Name: 'n', Description: 'd', Enabled: 'maybe' } }), 'Enabled');
    expect400(await call('POST', '/Security/Roles', { body: { Name: 'n', Description: 'd', PermissionSetId: 'nope' } }), 'PermissionSetId');
    expect400(await call('POST', '/Security/Roles', { body: { Name: 'n', Description: 'd', PermissionSetId: '00000000-0000-0000-0000-000000000000' } }), 'PermissionSetId');
    expect((await call('POST', '/Security/Roles', { body: { Name: 'READERS', Description: 'd' } })).status).toBe(409);
    // Nothing half-made was left behind.
    expect((await call('GET', '/Security/Roles?QueryString=Name%20-eq%20%22n%22')).body).toEqual([]);
  });

  it('lists with QueryString (bare or pq.-prefixed), sorting and paging; a bad query is 400', async () => {
    await call('POST', '/Security/Roles', { body: { Name: 'auditors', Description: 'Audit', Enabled: false } });
    const byName = await call('GET', '/Security/Roles?SortField=Name');
    const names = byName.body.map((r: { Name: string }) => r.Name);
    expect(names).toEqual(['Administrators', 'auditors', 'Readers']);
    expect((await call('GET', '/Security/Roles?pq.queryString=Enabled%20-eq%20false')).body.map((r: { Name: string }) => r.Name)).toEqual(['auditors']);
    expect((await call('GET', '/Security/Roles?QueryString=Name%20-contains%20%22ead%22')).body.map((r: { Name: string }) => r.Name)).toEqual(['Readers']);
    expect((await call('GET', '/Security/Roles?SortField=Name&SortAscending=1&ReturnLimit=1&PageReturned=2')).body[0].Name).toBe('auditors');
    expect((await call('GET', '/Security/Roles?QueryString=Nope%20-eq%201')).status).toBe(400);
    expect((await call('GET', '/Security/Roles?QueryString=Name%20-eq')).status).toBe(400);
    expect((await call('GET', '/Security/Roles?SortField=Password')).status).toBe(400);
  });

  it('GET /{id}: 200, 404 unknown, 400 non-integer', async () => {
    const res = await call('GET', `/Security/Roles/${readers}`);
    expect(res.body.Name).toBe('Readers');
    expect((await call('GET', '/Security/Roles/424242')).status).toBe(404);
    expect((await call('GET', '/Security/Roles/1.5')).status).toBe(400);
    expect((await call('GET', '/Security/Roles/x')).status).toBe(400);
  });

  it('PUT replaces fields, keeps what is not sent, and takes effect for members', async () => {
    const res = await call('PUT', '/Security/Roles', {
      body: { Id: readers, Name: 'Readers', Description: 'Now read-only for definitions', Permissions: ['WorkflowDefinitions:Read'], Identities: [{ AccountName: 'CORP\\dave' }] },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ Description: 'Now read-only for definitions', Permissions: ['WorkflowDefinitions:Read'], EmailAddress: null, Enabled: true });
    expect(res.body.Identities.map((i: { Id: number }) => i.Id)).toEqual([dave.id]);
    await settle();
    expect((await call('GET', '/Security/Roles', { auth: carol.auth })).status).toBe(403);
    expect((await call('GET', '/Security/Roles', { auth: dave.auth })).status).toBe(403); // no Security:Read any more
    // Without Identities/Permissions the members and permissions stay.
    const kept = await call('PUT', '/Security/Roles', { body: { Id: readers, Name: 'Readers', Description: 'd2' } });
    expect(kept.body.Identities.map((i: { Id: number }) => i.Id)).toEqual([dave.id]);
    expect(kept.body.Permissions).toEqual(['WorkflowDefinitions:Read']);
    expect((await call('PUT', '/Security/Roles', { body: { Id: 424242, Name: 'x', Description: 'x' } })).status).toBe(404);
    expect400(await call('PUT', '/Security/Roles', { body: { Name: 'x', Description: 'x' } }), 'Id');
    expect((await call('PUT', '/Security/Roles', { body: { Id: readers, Name: 'administrators', Description: 'x' } })).status).toBe(409);
  });

  it('PUT /{id}/Identities takes Ids (the complete list), or Add/Remove; GET lists members', async () => {
    const url = `/Security/Roles/${readers}/Identities`;
    const set = await call('PUT', url, { body: { Ids: [carol.id, dave.id] } });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toEqual([
      { Id: carol.id, Name: 'CORP\\carol' },
      { Id: dave.id, Name: 'CORP\\dave' },
    ]);
    expect((await call('PUT', url, { body: { Remove: [carol.id] } })).body).toEqual([{ Id: dave.id, Name: 'CORP\\dave' }]);
    expect((await call('PUT', url, { body: { Add: [carol.id] } })).body.map((i: { Id: number }) => i.Id).sort()).toEqual([carol.id, dave.id].sort());
    expect((await call('GET', url)).body).toHaveLength(2);
    expect400(await call('PUT', url, { body: { Ids: [carol.id, 999999] } }), '999999');
    expect400(await call('PUT', url, { body: { Ids: ['x'] } }), 'Ids[0]');
    expect400(await call('PUT', url, { body: {} }), 'Ids');
    expect((await call('PUT', '/Security/Roles/424242/Identities', { body: { Ids: [] } })).status).toBe(404);
    expect((await call('PUT', url, { body: { Ids: [] } })).body).toEqual([]);
  });

  it('DELETE answers 204 then 404', async () => {
    const r = await call('POST', '/Security/Roles', { body: { Name: 'Temporary', Description: 't' } });
    const del = await call('DELETE', `/Security/Roles/${r.body.Id}`);
    expect(del.status).toBe(204);
    expect((await call('DELETE', `/Security/Roles/${r.body.Id}`)).status).toBe(404);
    expect((await call('DELETE', '/Security/Roles/abc')).status).toBe(400);
  });
});
