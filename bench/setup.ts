import { randomUUID } from 'node:crypto';
import { readSteps } from '../src/api/workflow-wire.ts';
import type { Identity, Store } from '../src/store/store.ts';
import { hashPassword } from '../src/security/password.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../src/security/permission-set.ts';
import { P } from '../src/security/permissions.ts';
import type { Principal } from '../src/security/principal.ts';
import type { WorkflowService } from '../src/service/workflow.ts';

/*
 * The benchmark workload, prepared through the store and the workflow service (not timed):
 * N approver identities in one role, a definition StartNOOP -> RequireApproval1 -> EndNOOP whose
 * thresholds are never reached (so every signal is a full record + evaluate transaction that leaves
 * the instance Suspended), and M instances waiting at RequireApproval1.
 */

export const SIGNAL_KEY = 'RequireApproval1.ApprovalStatus';
export const SIGNAL_BODY = JSON.stringify({ SignalKey: SIGNAL_KEY, Data: { Approved: true, Comment: 'bench' } });
/** Far above the number of approvers: no signal ever completes or rejects an instance. */
export const THRESHOLD = 1000;

export const approverName = (i: number): string => `BENCH\\approver${String(i + 1).padStart(2, '0')}`;

export const wireSteps = (roleId: number) => [
  {
    ExtensionName: 'NOOPStep',
    UniqueName: 'StartNOOP',
    DisplayName: 'StartNOOP',
    Enabled: true,
    ConfigurationParameters: {},
    Signals: [],
    Conditions: [],
    Outputs: { continue: 'RequireApproval1' },
  },
  {
    ExtensionName: 'RequireApproval',
    UniqueName: 'RequireApproval1',
    DisplayName: 'Require Approval',
    Enabled: true,
    ConfigurationParameters: { MinimumApprovals: THRESHOLD, DenialsToReject: THRESHOLD },
    Signals: [{ SignalName: 'ApprovalStatus', RoleIds: [roleId], RoleTokens: [] }],
    Conditions: [],
    Outputs: { continue: 'EndNOOP' },
  },
  { ExtensionName: 'NOOPStep', UniqueName: 'EndNOOP', DisplayName: 'EndNOOP', Enabled: true, ConfigurationParameters: {}, Signals: [], Conditions: [], Outputs: {} },
];

export interface Workload {
  approvers: { identity: Identity; principal: Principal }[];
  roleId: number;
  definitionId: string;
  requester: Principal;
}

/** Identities, role and published definition. `password` null: identities without a password (in-process phases). */
export async function prepareWorkload(store: Store, wf: WorkflowService, opts: { approvers: number; password: string | null }): Promise<Workload> {
  // One scrypt hash shared by all approvers (same password): setup stays fast, each login is still verified.
  const passwordHash = opts.password === null ? null : await hashPassword(opts.password);
  const now = new Date().toISOString();
  const identities: Identity[] = [];
  for (let i = 0; i < opts.approvers; i++) {
    identities.push(await store.createIdentity({ accountName: approverName(i), identityType: 'User', sid: null, email: null, passwordHash, createdAt: now }));
  }
  const requesterIdentity = await store.createIdentity({ accountName: 'BENCH\\requester', identityType: 'User', sid: null, email: null, passwordHash: null, createdAt: now });
  const role = await store.createRole({
    name: 'Bench approvers',
    description: 'Benchmark approvers',
    email: null,
    enabled: true,
    private: false,
    immutable: false,
    permissions: [P.instancesReadPending],
    permissionSetId: GLOBAL_PERMISSION_SET_ID,
    identityIds: identities.map((i) => i.id),
    claims: [],
  });
  const def = await wf.createDefinition({
    displayName: `Bench ${randomUUID().slice(0, 8)}`,
    description: 'benchmark',
    workflowType: 'Enrollment',
    keys: [{ value: `bench-${randomUUID()}`, displayName: 'bench' }],
    enabled: true,
  });
  await wf.putSteps(def.id, readSteps(wireSteps(role.id), randomUUID));
  await wf.publish(def.id);
  return {
    approvers: identities.map((identity) => ({ identity, principal: { identity, roleIds: [role.id], permissions: [P.instancesReadPending] } })),
    roleId: role.id,
    definitionId: def.id,
    requester: { identity: requesterIdentity, roleIds: [], permissions: [P.instancesStart] },
  };
}

/** Starts `count` instances of the workload's definition; each ends Suspended at RequireApproval1. */
export async function startInstances(wf: WorkflowService, w: Workload, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const inst = await wf.start({ definitionId: w.definitionId, workflowType: null, key: null, title: 'bench request', initialData: { cn: 'www.example.com' } }, w.requester);
    if (inst.status !== 'Suspended' || inst.currentStep !== 'RequireApproval1')
      throw new Error(`bench instance is ${inst.status} at ${inst.currentStep}, expected Suspended at RequireApproval1`);
    ids.push(inst.id);
  }
  return ids;
}
