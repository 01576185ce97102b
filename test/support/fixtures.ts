import { hashPassword } from '../../src/security/password.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import { P } from '../../src/security/permissions.ts';
import type { NewRole, Store } from '../../src/store/store.ts';
import { basic, startTestApp, type TestApp } from './server.ts';
import { json, startHttp, type HttpStandIn } from './stand-ins/http.ts';

export interface TestUser {
  id: number;
  /** Basic authorization header. */
  auth: string;
}

/** Creates an identity with a password directly in the store; returns its id and Basic header. */
export async function createUser(store: Store, accountName: string, password = `${accountName}-pw-123`): Promise<TestUser> {
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

/** Any step type, in the wire shape; `extra` overrides fields (Conditions, ConfigurationParameters...). */
export const step = (UniqueName: string, ExtensionName: string, next?: string, extra: Record<string, unknown> = {}) => ({
  UniqueName,
  DisplayName: UniqueName,
  ExtensionName,
  Enabled: true,
  ConfigurationParameters: {},
  Signals: [],
  Conditions: [],
  Outputs: next ? { continue: next } : {},
  ...extra,
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

export interface EnrollmentApp<U extends string> {
  t: TestApp;
  /** Answers every request 200 `{ ok: true }` and records it: the endpoint the REST steps call. */
  api: HttpStandIn;
  users: Record<U, TestUser>;
  /** Id of the Approvers role, for approval steps. */
  approvers: number;
  close: () => Promise<void>;
}

/**
 * The setup of the certificate workflow tests: a server, the REST stand-in, the users (created in
 * the order given), then the roles in this order: Requesters (may enroll by CSR and PFX), `roles`,
 * Approvers (may read pending instances).
 */
export async function startEnrollmentApp<U extends string>(opts: {
  users: readonly U[];
  requesters: readonly U[];
  roles?: readonly { name: string; permissions: string[]; members: readonly U[] }[];
  approvers: readonly U[];
}): Promise<EnrollmentApp<U>> {
  const t = await startTestApp();
  let api: HttpStandIn | undefined;
  const close = async () => {
    await t.close();
    await api?.close();
  };
  try {
    api = await startHttp((_req, res) => json(res, 200, { ok: true }));
    const s = t.server.services.store;
    const users = {} as Record<U, TestUser>;
    for (const name of opts.users) users[name] = await createUser(s, name);
    const ids = (names: readonly U[]) => names.map((name) => users[name].id);
    await createRole(s, 'Requesters', [P.enrollCsr, P.enrollPfx], ids(opts.requesters));
    for (const role of opts.roles ?? []) await createRole(s, role.name, role.permissions, ids(role.members));
    const approvers = await createRole(s, 'Approvers', [P.instancesReadPending], ids(opts.approvers));
    return { t, api, users, approvers, close };
  } catch (e) {
    // The caller gets no handle to close: nothing may be left running.
    await close();
    throw e;
  }
}
