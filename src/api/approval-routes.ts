import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Explanation, SignalOutcome } from '../domain/explain.ts';
import { fail } from '../domain/errors.ts';
import { InstanceStatus } from '../domain/status.ts';
import { type ApprovalService, BULK_MAX } from '../service/approvals.ts';
import { principalOf } from './guard.ts';
import { asArray, asObject, field, guid } from './wire.ts';
import { readSignal } from './instances.ts';

/*
 * Extensions beyond Keyfactor for approvers (docs/approvals.md): Explain and bulk decisions. The
 * decisive answer to a single signal (Prefer: return=representation) is on the Signals route.
 */
export const approvalRoutes =
  (approvals: ApprovalService): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { id: string } }>('/Workflow/Instances/:id/Explain', async (req) => {
      return explanationWire(await approvals.explain(guid(req.params.id, 'Instance id'), principalOf(req)));
    });

    app.post('/Workflow/Instances/BulkSignals', async (req) => {
      const p = principalOf(req);
      const items = asArray(field(asObject(req.body ?? null), 'Items') ?? null, 'Items');
      if (items.length === 0) fail('ValidationFailed', 'Items must hold at least one decision.');
      if (items.length > BULK_MAX) fail('ValidationFailed', `Items holds ${items.length} decisions; at most ${BULK_MAX} are taken in one call.`);
      // Every item is read before any is acted on: a malformed item refuses the whole call and changes nothing.
      const parsed = items.map((raw, i) => {
        const o = asObject(raw, `Items[${i}]`);
        const id = field(o, 'InstanceId');
        if (typeof id !== 'string') fail('ValidationFailed', `Items[${i}].InstanceId is required.`);
        const { key, data } = readSignal(o);
        return { instanceId: guid(id as string, `Items[${i}].InstanceId`), key, data };
      });
      const results = await approvals.bulk(parsed, p);
      return {
        Results: results.map((r) =>
          r.ok
            ? { InstanceId: r.instanceId, Succeeded: true, Outcome: signalOutcomeWire(r.outcome) }
            : { InstanceId: r.instanceId, Succeeded: false, Error: r.error.toJSON(), HttpStatus: r.error.status },
        ),
      };
    });
  };

/** Whether the caller asked for the outcome instead of 204 (RFC 7240). */
export function prefersRepresentation(req: FastifyRequest): boolean {
  const prefer = req.headers.prefer;
  const values = Array.isArray(prefer) ? prefer : prefer ? [prefer] : [];
  return values.some((v) => v.split(',').some((p) => p.trim().toLowerCase().replace(/\s+/g, '') === 'return=representation'));
}

export const signalOutcomeWire = (o: SignalOutcome) => ({
  Outcome: o.outcome,
  SignalledStep: o.decidedStep,
  Status: InstanceStatus[o.status],
  StatusName: o.status,
  StatusMessage: o.statusMessage,
  CurrentStepUniqueName: o.step?.uniqueName ?? null,
  CurrentStepDisplayName: o.step?.displayName ?? null,
  Counts: o.counts?.map((c) => ({ Name: c.name, Required: c.required, Received: c.received })) ?? null,
});

const explanationWire = (e: Explanation) => ({
  InstanceId: e.instanceId,
  Status: InstanceStatus[e.status],
  StatusName: e.status,
  StatusMessage: e.statusMessage,
  Reason: e.reason,
  Step: e.step ? { UniqueName: e.step.uniqueName, DisplayName: e.step.displayName, ExtensionName: e.step.type } : null,
  Wait: e.wait
    ? {
        Summary: e.wait.summary,
        Counts: e.wait.counts.map((c) => ({ Name: c.name, Required: c.required, Received: c.received })),
        Decisions: e.wait.decisions.map((d) => ({ AccountName: d.accountName, Signal: d.signal, Decision: d.decision, Comment: d.comment, At: d.at })),
        Barred: e.wait.barred ? { IdentityIds: e.wait.barred.identityIds, Reason: e.wait.barred.reason } : null,
        Deadlines: e.wait.deadlines.map((d) => ({ Kind: d.kind, At: d.at, Action: d.action })),
      }
    : null,
  MayAct: e.mayAct
    ? { Roles: e.mayAct.roles.map((r) => ({ Id: r.id, Name: r.name })), Identities: e.mayAct.identities.map((i) => ({ Id: i.id, AccountName: i.accountName })) }
    : null,
  Failure: e.failure ? { Step: e.failure.step, LastError: e.failure.lastError, At: e.failure.at, NextRetry: e.failure.nextRetry, Attempts: e.failure.attempts } : null,
});
