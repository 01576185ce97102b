import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { extension, FreeObject, NoContent } from './schema/routes.ts';
import { Nullable } from './schema/typebox.ts';
import type { Explanation, SignalOutcome } from '../domain/explain.ts';
import { fail } from '../domain/errors.ts';
import { InstanceStatus } from '../domain/status.ts';
import { type ApprovalService, BULK_MAX } from '../service/approvals.ts';
import { principalOf } from './guard.ts';
import { asArray, asObject, bool, field, guid, int, intParam, queryBool, str } from './wire.ts';
import type { MigrationOutcome, MigrationRequest, WorkflowService } from '../service/workflow.ts';
import type { JsonObject } from '../domain/types.ts';
import type { DelegationService, DelegationView } from '../service/delegations.ts';
import { readSignal } from './instances.ts';

/*
 * Extensions beyond Keyfactor for approvers (docs/approvals.md): Explain and bulk decisions. The
 * decisive answer to a single signal (Prefer: return=representation) is on the Signals route.
 */
export const approvalRoutes =
  (approvals: ApprovalService, wf: WorkflowService, delegations?: DelegationService): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Params: { id: string } }>('/Workflow/Instances/:id/Reassign', { schema: S.reassign }, async (req, reply) => {
      const body = asObject(req.body ?? null);
      const raw = asArray(field(body, 'RoleIds') ?? null, 'RoleIds');
      const roleIds = raw.map((r, i) =>
        Number.isInteger(r) && (r as number) > 0 ? (r as number) : fail('ValidationFailed', `RoleIds[${i}] must be a role id (a positive whole number).`),
      );
      await wf.reassign(guid(req.params.id, 'Instance id'), roleIds, principalOf(req));
      return reply.code(204).send();
    });

    app.post<{ Params: { id: string } }>('/Workflow/Instances/:id/Migrate', { schema: S.migrate }, async (req) => {
      const body = asObject(req.body ?? {});
      return migrationWire(await wf.migrate(guid(req.params.id, 'Instance id'), migrationRequest(body, 'Version'), principalOf(req)));
    });

    app.post<{ Params: { id: string } }>('/Workflow/Definitions/:id/MigrateInstances', { schema: S.migrateAll }, async (req) => {
      const body = asObject(req.body ?? {});
      const fromVersion = int(body, 'FromVersion', { min: 1 });
      const results = await wf.migrateAll(guid(req.params.id, 'Definition id'), { ...migrationRequest(body, 'ToVersion'), fromVersion }, principalOf(req));
      return {
        Results: results.map((r) =>
          'error' in r ? { InstanceId: r.instanceId, Succeeded: false, Error: r.error.toJSON(), HttpStatus: r.error.status } : { Succeeded: true, ...migrationWire(r) },
        ),
      };
    });

    if (delegations) {
      app.get('/Workflow/Delegations', { schema: S.listDelegations }, async (req) => (await delegations.list(principalOf(req), queryBool(req.q, 'all'))).map(delegationWire));

      app.post('/Workflow/Delegations', { schema: S.delegate }, async (req, reply) => {
        const body = asObject(req.body ?? null);
        const created = await delegations.create(principalOf(req), {
          delegator: str(body, 'Delegator', { max: 400 }),
          delegate: str(body, 'Delegate', { required: true, nonEmpty: true, max: 400 }) as string,
          startsAt: str(body, 'Start', { max: 100 }),
          endsAt: str(body, 'End', { required: true, nonEmpty: true, max: 100 }) as string,
          comment: str(body, 'Comment', { max: 500 }),
        });
        reply.code(201).header('Location', `/KeyfactorAPI/Workflow/Delegations/${created.id}`);
        return delegationWire(created);
      });

      app.delete<{ Params: { id: string } }>('/Workflow/Delegations/:id', { schema: S.revokeDelegation }, async (req, reply) => {
        await delegations.revoke(principalOf(req), intParam(req.params.id, 'Delegation id'));
        return reply.code(204).send();
      });
    }

    app.get<{ Params: { id: string } }>('/Workflow/Instances/:id/Explain', { schema: S.explain }, async (req) => {
      return explanationWire(await approvals.explain(guid(req.params.id, 'Instance id'), principalOf(req)));
    });

    app.post('/Workflow/Instances/BulkSignals', { schema: S.bulk }, async (req) => {
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
        const actingFor = field(o, 'ActingFor') ?? null;
        if (actingFor !== null && (typeof actingFor !== 'string' || actingFor.length > 400))
          fail('ValidationFailed', `Items[${i}].ActingFor must be an account name (a string of at most 400 characters).`);
        return { instanceId: guid(id as string, `Items[${i}].InstanceId`), key, data, actingFor: actingFor as string | null };
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

// Wire schemas of the extensions (documentation and type checks; the handlers check the rest).
const Id = Type.Object({ id: Type.String() });
const IntId = Type.Object({ id: Type.Integer() });
const Outcome = Type.Object(
  {
    Outcome: Type.String({ enum: ['Recorded', 'Advanced', 'Repeated'] }),
    SignalledStep: Type.String(),
    Status: Type.Integer(),
    StatusName: Type.String(),
    StatusMessage: Nullable(Type.String()),
    CurrentStepUniqueName: Nullable(Type.String()),
    CurrentStepDisplayName: Nullable(Type.String()),
    Counts: Nullable(Type.Array(Type.Object({ Name: Type.String(), Required: Type.Integer(), Received: Type.Integer() }))),
  },
  { description: 'What a signal decided in the transaction that recorded it.' },
);
const Migration = Type.Object({
  InstanceId: Type.String(),
  DryRun: Type.Boolean(),
  FromVersion: Type.Integer(),
  ToVersion: Type.Integer(),
  FromStep: Nullable(Type.String()),
  ToStep: Nullable(Type.String()),
  Status: Type.Integer(),
  StatusName: Type.String(),
  StatusMessage: Nullable(Type.String()),
  DecisionsCarried: Type.Integer(),
});
const MigrationBody = Type.Object({
  StepMapping: Type.Optional(Nullable(FreeObject('Old step UniqueName -> new step UniqueName.'))),
  DryRun: Type.Optional(Nullable(Type.Boolean())),
});
const DelegationWire = Type.Object({
  Id: Type.Integer(),
  Delegator: Type.String(),
  DelegatorId: Type.Integer(),
  Delegate: Type.String(),
  DelegateId: Type.Integer(),
  Start: Type.String({ format: 'date-time' }),
  End: Type.String({ format: 'date-time' }),
  Comment: Nullable(Type.String()),
  Created: Type.String({ format: 'date-time' }),
  CreatedBy: Type.String(),
});
const S = {
  explain: extension({
    summary: 'Why an instance waits or stopped',
    description: 'The waiting step, approvals and denials required and received and from whom, who may still act, deadlines, and for a failed step the last error and next retry.',
    params: Id,
    response: { 200: FreeObject('The explanation (docs/approvals.md#explain).') },
  }),
  bulk: extension({
    summary: 'Decide many instances in one call',
    description: 'Each item is checked and recorded as if signalled alone; a result per item.',
    body: Type.Object({
      Items: Type.Array(
        Type.Object({ InstanceId: Type.String(), SignalKey: Type.String(), Data: Type.Optional(Nullable(FreeObject())), ActingFor: Type.Optional(Nullable(Type.String())) }),
      ),
    }),
    response: { 200: Type.Object({ Results: Type.Array(FreeObject('{InstanceId, Succeeded, Outcome} or {InstanceId, Succeeded: false, HttpStatus, Error}')) }) },
  }),
  reassign: extension({
    summary: 'Hand a waiting step to other roles',
    params: Id,
    body: Type.Object({ RoleIds: Type.Array(Type.Integer()) }),
    response: { 204: NoContent('Reassigned; recorded in the history.') },
  }),
  migrate: extension({
    summary: 'Move a waiting instance to a newer published version',
    params: Id,
    body: Type.Object({ Version: Type.Optional(Nullable(Type.Integer())), ...MigrationBody.properties }),
    response: { 200: Migration },
  }),
  migrateAll: extension({
    summary: 'Move every waiting instance of a definition to a newer published version',
    params: Id,
    body: Type.Object({ FromVersion: Type.Optional(Nullable(Type.Integer())), ToVersion: Type.Optional(Nullable(Type.Integer())), ...MigrationBody.properties }),
    response: { 200: Type.Object({ Results: Type.Array(FreeObject('A migration result, or {InstanceId, Succeeded: false, Error}')) }) },
  }),
  listDelegations: extension({
    summary: "The caller's delegations, given and received (all=true: every one, with Security:Read)",
    response: { 200: Type.Array(DelegationWire) },
  }),
  delegate: extension({
    summary: "Delegate the caller's approvals for a time window",
    body: Type.Object({
      Delegator: Type.Optional(Nullable(Type.String())),
      Delegate: Type.String(),
      Start: Type.Optional(Nullable(Type.String())),
      End: Type.String(),
      Comment: Type.Optional(Nullable(Type.String())),
    }),
    response: { 201: DelegationWire },
  }),
  revokeDelegation: extension({ summary: 'Revoke a delegation (the delegator or an administrator)', params: IntId, response: { 204: NoContent('Revoked.') } }),
};

/** Whether the caller asked for the outcome instead of 204 (RFC 7240). */
export function prefersRepresentation(req: FastifyRequest): boolean {
  const prefer = req.headers.prefer;
  const values = Array.isArray(prefer) ? prefer : prefer ? [prefer] : [];
  return values.some((v) => v.split(',').some((p) => p.trim().toLowerCase().replace(/\s+/g, '') === 'return=representation'));
}

function migrationRequest(body: JsonObject, versionField: string): MigrationRequest {
  const rawMap = field(body, 'StepMapping');
  const mapping: Record<string, string> = {};
  if (rawMap !== undefined && rawMap !== null) {
    for (const [k, v] of Object.entries(asObject(rawMap, 'StepMapping'))) {
      if (typeof v !== 'string' || v.trim() === '') fail('ValidationFailed', `StepMapping.${k} must name a step (its UniqueName).`);
      mapping[k] = (v as string).trim();
    }
  }
  return { toVersion: int(body, versionField, { min: 1 }), mapping, dryRun: bool(body, 'DryRun') ?? false };
}

const migrationWire = (m: MigrationOutcome) => ({
  InstanceId: m.instanceId,
  DryRun: m.dryRun,
  FromVersion: m.fromVersion,
  ToVersion: m.toVersion,
  FromStep: m.fromStep,
  ToStep: m.toStep,
  Status: InstanceStatus[m.status],
  StatusName: m.status,
  StatusMessage: m.statusMessage,
  DecisionsCarried: m.carried,
});

const delegationWire = (d: DelegationView) => ({
  Id: d.id,
  Delegator: d.delegatorName,
  DelegatorId: d.delegatorId,
  Delegate: d.delegateName,
  DelegateId: d.delegateId,
  Start: d.startsAt,
  End: d.endsAt,
  Comment: d.comment,
  Created: d.createdAt,
  CreatedBy: d.createdBy,
});

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
