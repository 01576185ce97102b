import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P, PERMISSIONS } from '../../src/security/permissions.ts';
import { createRole, createUser } from '../support/fixtures.ts';
import { expectValidResponse } from '../support/openapi.ts';
import { startTestApp, type ApiResponse, type TestApp } from '../support/server.ts';

let t: TestApp;
let approver: { id: number; auth: string };
let nobody: { id: number; auth: string };

const valid = (url: string, res: ApiResponse) =>
  expectValidResponse({ doc: 'security-v1', method: 'GET', url, status: res.status, body: res.body, contentType: res.headers.get('content-type') ?? undefined });

beforeAll(async () => {
  t = await startTestApp();
  const store = t.server.services.store;
  approver = await createUser(store, 'CORP\\approver');
  nobody = await createUser(store, 'CORP\\nobody');
  await createRole(store, 'Approvers', [P.instancesReadPending, P.definitionsRead], [approver.id]);
  await createRole(store, 'Readers', ['/workflows/instances/read/mine/'], [approver.id]);
  const off = await store.createRole({
    name: 'Switched off',
    description: 'disabled',
    email: null,
    enabled: false,
    private: false,
    immutable: false,
    permissions: [P.securityModify],
    permissionSetId: (await store.listRoles({ filter: null, limit: 1, offset: 0, sortColumn: 'id', ascending: true }))[0]!.permissionSetId,
    identityIds: [approver.id],
    claims: [],
  });
  expect(off.enabled).toBe(false);
});
afterAll(() => t.close());

describe('GET /Security/My/Permissions', () => {
  it("answers the caller's canonical permissions, per the contract", async () => {
    const url = '/KeyfactorAPI/Security/My/Permissions';
    const res = await t.call('GET', url, { auth: approver.auth, unchecked: true });
    expect(res.status).toBe(200);
    valid(url, res);
    expect(res.body).toEqual({ Permissions: [P.definitionsRead, P.instancesReadMine, P.instancesReadPending].sort() });
  });

  it('answers the administrator "/" (everything)', async () => {
    const res = await t.call('GET', '/KeyfactorAPI/Security/My/Permissions', { unchecked: true });
    valid('/KeyfactorAPI/Security/My/Permissions', res);
    expect(res.body.Permissions).toEqual(['/']);
  });

  it('answers an identity without roles an empty list, not 403', async () => {
    const res = await t.call('GET', '/KeyfactorAPI/Security/My/Permissions', { auth: nobody.auth, unchecked: true });
    expect(res.status).toBe(200);
    valid('/KeyfactorAPI/Security/My/Permissions', res);
    expect(res.body).toEqual({ Permissions: [] });
  });

  it('needs credentials', async () => {
    const res = await t.call('GET', '/KeyfactorAPI/Security/My/Permissions', { auth: null });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
  });
});

describe('GET /Security/My (deprecated)', () => {
  it('answers enabled role names and version-1 global permissions, per the contract', async () => {
    const url = '/KeyfactorAPI/Security/My';
    const res = await t.call('GET', url, { auth: approver.auth, unchecked: true });
    expect(res.status).toBe(200);
    valid(url, res);
    expect(res.body.Roles).toEqual(['Approvers', 'Readers']);
    expect(res.body.GlobalPermissions).toEqual(
      [
        { Area: 'WorkflowDefinitions', Permission: 'Read' },
        { Area: 'WorkflowInstances', Permission: 'ReadAssignedToMe' },
        { Area: 'WorkflowInstances', Permission: 'ReadMy' },
      ].sort((a, b) => `${a.Area}:${a.Permission}`.localeCompare(`${b.Area}:${b.Permission}`)),
    );
    expect(res.body.GranularPermissions).toEqual([]);
  });

  it('expands the administrator\'s "/" into every version-1 permission', async () => {
    const res = await t.call('GET', '/KeyfactorAPI/Security/My', { unchecked: true });
    valid('/KeyfactorAPI/Security/My', res);
    const perms = (res.body.GlobalPermissions as { Area: string; Permission: string }[]).map((g) => `${g.Area}:${g.Permission}`);
    expect(perms).toContain('Security:Modify');
    expect(perms).toContain('WorkflowInstances:Manage');
    expect(perms).toContain('CertificateEnrollment:EnrollCSR');
    expect(perms).toHaveLength(PERMISSIONS.length);
  });

  it('is also checked by the shared contract harness', async () => {
    expect((await t.call('GET', '/KeyfactorAPI/Security/My', { auth: nobody.auth })).body).toEqual({ Roles: [], GlobalPermissions: [], GranularPermissions: [] });
    expect((await t.call('GET', '/KeyfactorAPI/Security/My/Permissions', { auth: approver.auth })).status).toBe(200);
  });
});
