import { randomUUID } from 'node:crypto';
import { hashPassword } from '../security/password.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../security/permission-set.ts';
import { P } from '../security/permissions.ts';
import type { Principal } from '../security/principal.ts';
import type { WorkflowService } from '../service/workflow.ts';
import type { Role, Store } from '../store/store.ts';

/** Demo identities. Their passwords are public (README): for trying Countersign, never for production. */
export const DEMO_USERS = [
  { accountName: 'CORP\\alice', password: 'alice-demo-1', email: 'alice@corp.example' },
  { accountName: 'CORP\\bob', password: 'bob-demo-1', email: 'bob@corp.example' },
  { accountName: 'CORP\\carol', password: 'carol-demo-1', email: 'carol@corp.example' },
];

const REQUESTS = [
  { cn: 'appsrvr12.corp.example', title: 'CORP\\carol is enrolling for a certificate with CN=appsrvr12.corp.example.' },
  { cn: 'payments.corp.example', title: 'CORP\\carol is enrolling for a certificate with CN=payments.corp.example.' },
  { cn: 'vpn-gw01.corp.example', title: 'CORP\\carol is enrolling for a certificate with CN=vpn-gw01.corp.example.' },
];

const DEMO_DEFINITION = 'Web Server Enrollment';

/**
 * Loads the demo on an empty store: approvers alice and bob, requester carol, an Enrollment
 * definition whose RequireApproval step needs both approvers, and three requests waiting.
 * Does nothing when definitions already exist.
 */
export async function loadDemo(store: Store, wf: WorkflowService, log: (m: string) => void): Promise<void> {
  if (await hasDefinitions(store)) return;
  const { approvers } = await ensureUsersAndRoles(store);
  const def = await wf.createDefinition({ displayName: DEMO_DEFINITION, description: 'Two PKI approvers approve every web server certificate.', workflowType: 'Enrollment', keys: [{ value: '1', displayName: 'WebServer' }], enabled: true });
  await wf.putSteps(def.id, [
    step('NOOPStep', 'StartNOOP', 'Start-NOOP', {}, [], { continue: 'RequireApproval1' }),
    step('RequireApproval', 'RequireApproval1', 'PKI approval', { MinimumApprovals: 2, DenialsToReject: 1 }, [approvers.id], { continue: 'EndNOOP' }),
    step('NOOPStep', 'EndNOOP', 'End-NOOP', {}, [], {}),
  ]);
  await wf.publish(def.id);
  await startRequests(store, wf, def.id, '');
  log(`Demo loaded: definition "${DEMO_DEFINITION}" (${def.id}) with ${REQUESTS.length} requests waiting for two approvals from CORP\\alice and CORP\\bob.`);
}

/**
 * `serve --demo --reseed`: on a store that has the demo, starts three more waiting requests on its
 * definition, so the walkthrough can be repeated. Users and roles are created only where missing;
 * nothing is deleted or overwritten. On an empty store it loads the demo as usual.
 */
export async function reseedDemo(store: Store, wf: WorkflowService, log: (m: string) => void): Promise<void> {
  if (!(await hasDefinitions(store))) return loadDemo(store, wf, log);
  const defs = await store.listDefinitions({ filter: null, limit: 10_000, offset: 0, sortColumn: 'id', ascending: true });
  const def = defs.find((d) => d.displayName === DEMO_DEFINITION && d.workflowType === 'Enrollment');
  if (!def) {
    log(`Demo not reseeded: this store has definitions but none named "${DEMO_DEFINITION}" (the demo loads only on an empty store).`);
    return;
  }
  const { created } = await ensureUsersAndRoles(store);
  const tag = ` (reseeded ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`;
  await startRequests(store, wf, def.id, tag);
  log(
    `Demo reseeded: ${REQUESTS.length} new requests by CORP\\carol wait on "${DEMO_DEFINITION}" (${def.id}) for CORP\\alice and CORP\\bob` +
      (created.length ? `; created ${created.join(', ')}.` : '; demo users and roles were already there.'),
  );
}

async function hasDefinitions(store: Store): Promise<boolean> {
  return (await store.listDefinitions({ filter: null, limit: 1, offset: 0, sortColumn: 'id', ascending: true })).length > 0;
}

/** The demo users and their two roles; existing ones are kept, missing members added. */
async function ensureUsersAndRoles(store: Store): Promise<{ approvers: Role; created: string[] }> {
  const created: string[] = [];
  const ids: Record<string, number> = {};
  for (const u of DEMO_USERS) {
    let identity = await store.findIdentityByName(u.accountName);
    if (!identity) {
      identity = await store.createIdentity({ accountName: u.accountName, identityType: 'User', sid: null, email: u.email, passwordHash: await hashPassword(u.password), createdAt: new Date().toISOString() });
      created.push(`user ${u.accountName}`);
    }
    ids[u.accountName] = identity.id;
  }
  const roles = await store.listRoles({ filter: null, limit: 10_000, offset: 0, sortColumn: 'id', ascending: true });
  const role = async (name: string, description: string, permissions: string[], members: number[]): Promise<Role> => {
    const existing = roles.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (!existing) {
      created.push(`role ${name}`);
      return store.createRole({ name, description, email: null, enabled: true, private: false, immutable: false, permissions, permissionSetId: GLOBAL_PERMISSION_SET_ID, identityIds: members, claims: [] });
    }
    const missing = members.filter((m) => !existing.identityIds.includes(m));
    if (missing.length === 0) return existing;
    created.push(`membership of ${name}`);
    return (await store.setRoleIdentities(existing.id, [...existing.identityIds, ...missing])) ?? existing;
  };
  const approvers = await role('PKI Approvers', 'Approve certificate requests', [P.instancesReadAll, P.instancesReadPending, P.definitionsRead], [ids['CORP\\alice']!, ids['CORP\\bob']!]);
  await role('Requesters', 'Request certificates', [P.instancesStart, P.instancesReadMine], [ids['CORP\\carol']!]);
  return { approvers, created };
}

/** Three requests by carol, as a requester starts them through the API. */
async function startRequests(store: Store, wf: WorkflowService, definitionId: string, titleTag: string): Promise<void> {
  const carol = await store.findIdentityByName('CORP\\carol');
  const principal: Principal = { identity: carol!, roleIds: [], permissions: [P.instancesStart] };
  for (const r of REQUESTS) {
    await wf.start({ definitionId, workflowType: null, key: null, title: r.title + titleTag, initialData: { Subject: `CN=${r.cn},O=Corp,C=US`, 'CSR:Raw': `-----BEGIN CERTIFICATE REQUEST-----\n(demo CSR for ${r.cn})\n-----END CERTIFICATE REQUEST-----`, cn: r.cn, requester: 'CORP\\carol', Template: 'WebServer' } }, principal);
  }
}

function step(extensionName: string, uniqueName: string, displayName: string, config: Record<string, number>, roleIds: number[], outputs: Record<string, string>) {
  return {
    id: randomUUID(),
    extensionName,
    uniqueName,
    displayName,
    enabled: true,
    config,
    signals: roleIds.length ? [{ name: 'ApprovalStatus', roleIds, roleTokens: [] }] : [],
    conditions: [],
    outputs,
  };
}
