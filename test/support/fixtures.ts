import { hashPassword } from '../../src/security/password.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import type { NewRole, Store } from '../../src/store/store.ts';
import { basic, type TestApp } from './server.ts';

/** Creates an identity with a password directly in the store; returns its id and Basic header. */
export async function createUser(store: Store, accountName: string, password = `${accountName}-pw-123`): Promise<{ id: number; auth: string }> {
  const identity = await store.createIdentity({
    accountName,
    identityType: 'User',
    sid: null,
    email: null,
    passwordHash: await hashPassword(password),
    createdAt: new Date().toISOString(),
  });
  return { id: identity.id, auth: basic(accountName, password) };
}

/** A role as the store takes it: enabled, global permission set, no claims; `over` changes any field. */
export const newRole = (name: string, permissions: string[], identityIds: number[], over: Partial<NewRole> = {}): NewRole => ({
  name,
  description: name,
  email: null,
  enabled: true,
  private: false,
  immutable: false,
  permissions,
  permissionSetId: GLOBAL_PERMISSION_SET_ID,
  identityIds,
  claims: [],
  ...over,
});

export async function createRole(store: Store, name: string, permissions: string[], identityIds: number[]): Promise<number> {
  const role = await store.createRole(newRole(name, permissions, identityIds));
  return role.id;
}

export const noop = (uniqueName: string, next?: string) => ({
  ExtensionName: 'NOOPStep',
  UniqueName: uniqueName,
  DisplayName: uniqueName,
  Enabled: true,
  ConfigurationParameters: {},
  Signals: [],
  Conditions: [],
  Outputs: next ? { continue: next } : {},
});

export const approval = (uniqueName: string, next: string, roleIds: number[], config: Record<string, unknown> = {}, conditions: string[] = []) => ({
  ExtensionName: 'RequireApproval',
  UniqueName: uniqueName,
  DisplayName: `Approval ${uniqueName}`,
  Enabled: true,
  ConfigurationParameters: config,
  Signals: [{ SignalName: 'ApprovalStatus', RoleIds: roleIds, RoleTokens: [] }],
  Conditions: conditions.map((Value) => ({ Value })),
  Outputs: { continue: next },
});

/** Creates, fills and publishes a definition; returns its id. */
export async function publishedDefinition(t: TestApp, steps: unknown[], opts: { name?: string; type?: string; key?: string } = {}): Promise<string> {
  const created = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', {
    body: {
      DisplayName: opts.name ?? `Definition ${Math.random().toString(36).slice(2)}`,
      Description: 'test',
      WorkflowType: opts.type ?? 'Enrollment',
      Key: opts.key ?? Math.random().toString(36).slice(2),
    },
  });
  if (created.status !== 200) throw new Error(`create: ${created.status} ${created.text}`);
  const id = created.body.Id as string;
  const put = await t.call('PUT', `/KeyfactorAPI/Workflow/Definitions/${id}/Steps`, { body: steps });
  if (put.status !== 200) throw new Error(`steps: ${put.status} ${put.text}`);
  const pub = await t.call('POST', `/KeyfactorAPI/Workflow/Definitions/${id}/Publish`);
  if (pub.status !== 200) throw new Error(`publish: ${pub.status} ${pub.text}`);
  return id;
}

export async function startInstance(t: TestApp, definitionId: string, extra: Record<string, unknown> = {}, auth?: string): Promise<string> {
  const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', {
    body: { DefinitionId: definitionId, Title: 'test request', InitialData: { cn: 'www.example.com' }, ...extra },
    auth,
  });
  if (res.status !== 201) throw new Error(`start: ${res.status} ${res.text}`);
  return res.body.Id as string;
}
