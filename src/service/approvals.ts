import { CountersignError } from '../domain/errors.ts';
import { type Explanation, type SignalOutcome, explainInstance, signalOutcome } from '../domain/explain.ts';
import type { JsonObject } from '../domain/types.ts';
import type { Principal } from '../security/principal.ts';
import type { SecurityService } from './security.ts';
import type { Services } from './services.ts';
import type { WorkflowService } from './workflow.ts';

/*
 * Approvals beyond Keyfactor (docs/approvals.md): decisive signal answers, Explain and bulk
 * decisions. Each goes through WorkflowService, so every rule of a single signal applies.
 */

export interface BulkItem {
  instanceId: string;
  key: string;
  data: JsonObject;
  /** The delegator this decision is made for (docs/approvals.md#delegation), as on a single signal. */
  actingFor?: string | null;
}

export type BulkResult = { instanceId: string; ok: true; outcome: SignalOutcome } | { instanceId: string; ok: false; error: CountersignError };

/** At most this many decisions in one bulk call: each is its own transaction. */
export const BULK_MAX = 200;

export class ApprovalService {
  constructor(
    private readonly s: Services,
    private readonly wf: WorkflowService,
    private readonly security: SecurityService,
  ) {}

  /** Records a signal and says what it did (the answer to Prefer: return=representation). */
  async signal(id: string, key: string, data: JsonObject, principal: Principal, actingFor?: string | null): Promise<SignalOutcome> {
    const r = await this.wf.signal(id, key, data, principal, actingFor);
    const version = await this.wf.version(r.instance.definitionId, r.instance.definitionVersion);
    return signalOutcome(key.slice(0, key.lastIndexOf('.')), r.instance, r.duplicate, version, this.wf.engineContext());
  }

  /** One decision per item, each checked as if signalled alone; a refusal is that item's result. */
  async bulk(items: BulkItem[], principal: Principal): Promise<BulkResult[]> {
    const out: BulkResult[] = [];
    for (const item of items) {
      try {
        out.push({ instanceId: item.instanceId, ok: true, outcome: await this.signal(item.instanceId, item.key, item.data, principal, item.actingFor) });
      } catch (e) {
        if (!(e instanceof CountersignError)) throw e;
        out.push({ instanceId: item.instanceId, ok: false, error: e });
      }
    }
    return out;
  }

  /** Why the instance waits or stopped; readable by whoever may read the instance. */
  async explain(id: string, principal: Principal): Promise<Explanation> {
    const instance = await this.wf.readInstance(id, principal);
    const version = await this.wf.version(instance.definitionId, instance.definitionVersion).catch(() => null);
    const [history, jobs] = await Promise.all([this.s.store.getHistory(id), this.s.store.jobsOf(id)]);
    const roles = [];
    if (instance.status === 'Suspended') {
      for (const roleId of instance.pendingRoleIds) {
        const role = await this.s.store.getRole(roleId);
        if (!role) continue;
        const members = role.enabled ? (await this.security.withMembers(role)).members.map((m) => ({ id: m.id, accountName: m.accountName })) : [];
        roles.push({ id: role.id, name: role.name, members });
      }
    }
    const queued = jobs.map((j) => ({ kind: j.effect.type, step: j.effect.step, runAt: j.runAt, attempts: j.attempts, lastError: j.lastError }));
    return explainInstance({ instance, version, history, roles, queued }, this.wf.engineContext());
  }
}
