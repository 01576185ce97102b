import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { readSteps } from '../src/api/workflow-wire.ts';
import { hashPassword } from '../src/security/password.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../src/security/permission-set.ts';
import { P } from '../src/security/permissions.ts';
import type { WorkflowService } from '../src/service/workflow.ts';
import type { Store } from '../src/store/store.ts';
import type { Workload } from './setup.ts';

/*
 * The scale phase's history (bench/scale.ts), built in the server process through the workflow
 * service, the code the API runs: instances of a second definition whose approval needs one
 * signal, 90 % of them approved to Complete (each with its full history: started, steps entered,
 * signal, approved, completed) and 10 % left waiting (in AssignedToMe). Titles vary, so
 * -contains and title sorts have something to do. Not timed as part of any measurement.
 */

const CONCURRENCY = 32;

export interface Populated {
  count: number;
  ms: number;
  /** The requester (owner of every populated instance) for /My, with the given password. */
  requester: string;
  /** A Complete instance, for GET with history. */
  sampleId: string;
}

export async function populate(store: Store, wf: WorkflowService, w: Workload, count: number, password: string): Promise<Populated> {
  const t0 = performance.now();
  await store.updateIdentity(w.requester.identity.id, { passwordHash: await hashPassword(password) });
  await store.createRole({
    name: 'Bench requesters',
    description: 'May list their own instances',
    email: null,
    enabled: true,
    private: false,
    immutable: false,
    permissions: [P.instancesReadMine, P.instancesStart],
    permissionSetId: GLOBAL_PERMISSION_SET_ID,
    identityIds: [w.requester.identity.id],
    claims: [],
  });
  const def = await wf.createDefinition({
    displayName: `Scale ${randomUUID().slice(0, 8)}`,
    description: 'scale benchmark history',
    workflowType: 'Enrollment',
    keys: [{ value: `scale-${randomUUID()}`, displayName: 'scale' }],
    enabled: true,
  });
  const steps = [
    {
      ExtensionName: 'NOOPStep',
      UniqueName: 'StartNOOP',
      DisplayName: 'Start',
      Enabled: true,
      ConfigurationParameters: {},
      Signals: [],
      Conditions: [],
      Outputs: { continue: 'Approve' },
    },
    {
      ExtensionName: 'RequireApproval',
      UniqueName: 'Approve',
      DisplayName: 'Manager approval',
      Enabled: true,
      ConfigurationParameters: { MinimumApprovals: 1, DenialsToReject: 1 },
      Signals: [{ SignalName: 'ApprovalStatus', RoleIds: [w.roleId], RoleTokens: [] }],
      Conditions: [],
      Outputs: { continue: 'EndNOOP' },
    },
    { ExtensionName: 'NOOPStep', UniqueName: 'EndNOOP', DisplayName: 'End', Enabled: true, ConfigurationParameters: {}, Signals: [], Conditions: [], Outputs: {} },
  ];
  await wf.putSteps(def.id, readSteps(steps, randomUUID));
  await wf.publish(def.id);
  const approver = w.approvers[0]!.principal;
  let next = 0;
  let sampleId = '';
  const one = async (i: number) => {
    const inst = await wf.start(
      { definitionId: def.id, workflowType: null, key: null, title: `Certificate for host${i}.example.com`, initialData: { cn: `host${i}.example.com` } },
      w.requester,
    );
    if (i % 10 !== 0) {
      await wf.signal(inst.id, 'Approve.ApprovalStatus', { Approved: true, Comment: 'ok' }, approver);
      sampleId ||= inst.id;
    }
  };
  // Several at once: they share commits (group commit), as concurrent requests do.
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await one(next++);
    }),
  );
  return { count, ms: performance.now() - t0, requester: w.requester.identity.accountName, sampleId };
}
