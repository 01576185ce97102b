import { randomUUID } from 'node:crypto';
import { hashPassword } from '../security/password.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../security/permission-set.ts';
import { P } from '../security/permissions.ts';
import type { Principal } from '../security/principal.ts';
import type { WorkflowService } from '../service/workflow.ts';
import type { Store } from '../store/store.ts';

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

/**
 * Loads the demo on an empty store: approvers alice and bob, requester carol, an Enrollment
 * definition whose RequireApproval step needs both approvers, and three requests waiting.
 * Does nothing when definitions already exist.
 */
export async function loadDemo(store: Store, wf: WorkflowService, log: (m: string) => void): Promise<void> {
  const existing = await store.listDefinitions({ filter: null, limit: 1, offset: 0, sortColumn: 'id', ascending: true });
  if (existing.length > 0) return;
  const ids: Record<string, number> = {};
  for (const u of DEMO_USERS) {
    const found = await store.findIdentityByName(u.accountName);
    const identity = found ?? (await store.createIdentity({ accountName: u.accountName, identityType: 'User', sid: null, email: u.email, passwordHash: await hashPassword(u.password), createdAt: new Date().toISOString() }));
    ids[u.accountName] = identity.id;
  }
  const role = (name: string, description: string, permissions: string[], members: number[]) =>
    store.createRole({ name, description, email: null, enabled: true, private: false, immutable: false, permissions, permissionSetId: GLOBAL_PERMISSION_SET_ID, identityIds: members, claims: [] });
  const approvers = await role('PKI Approvers', 'Approve certificate requests', [P.instancesReadAll, P.instancesReadPending, P.definitionsRead], [ids['CORP\\alice'], ids['CORP\\bob']]);
  await role('Requesters', 'Request certificates', [P.instancesStart, P.instancesReadMine], [ids['CORP\\carol']]);

  const def = await wf.createDefinition({ displayName: 'Web Server Enrollment', description: 'Two PKI approvers approve every web server certificate.', workflowType: 'Enrollment', keys: [{ value: '1', displayName: 'WebServer' }], enabled: true });
  await wf.putSteps(def.id, [
    step('NOOPStep', 'StartNOOP', 'Start-NOOP', {}, [], { continue: 'RequireApproval1' }),
    step('RequireApproval', 'RequireApproval1', 'PKI approval', { MinimumApprovals: 2, DenialsToReject: 1 }, [approvers.id], { continue: 'EndNOOP' }),
    step('NOOPStep', 'EndNOOP', 'End-NOOP', {}, [], {}),
  ]);
  await wf.publish(def.id);

  const carol = await store.findIdentityByName('CORP\\carol');
  const principal: Principal = { identity: carol!, roleIds: [], permissions: [P.instancesStart] };
  for (const r of REQUESTS) {
    await wf.start({ definitionId: def.id, workflowType: null, key: null, title: r.title, initialData: { Subject: `CN=${r.cn},O=Corp,C=US`, 'CSR:Raw': `-----BEGIN CERTIFICATE REQUEST-----\n(demo CSR for ${r.cn})\n-----END CERTIFICATE REQUEST-----`, cn: r.cn, requester: 'CORP\\carol', Template: 'WebServer' } }, principal);
  }
  log(`Demo loaded: definition "Web Server Enrollment" (${def.id}) with ${REQUESTS.length} requests waiting for two approvals from CORP\\alice and CORP\\bob.`);
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
