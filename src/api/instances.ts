import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { fail } from '../domain/errors.ts';
import type { JsonObject } from '../domain/types.ts';
import { P } from '../security/permissions.ts';
import type { Services } from '../service/services.ts';
import type { WorkflowService } from '../service/workflow.ts';
import type { ApprovalService } from '../service/approvals.ts';
import { prefersRepresentation, signalOutcomeWire } from './approval-routes.ts';
import { principalOf, requirePermission } from './guard.ts';
import { listQuery } from './listing.ts';
import { INSTANCE_FIELDS } from '../store/query-fields.ts';
import { asObject, field, guid, int, intParam, queryBool, str } from './wire.ts';
import { instanceQuery, instanceV1 } from './workflow-wire.ts';

/** /Workflow/Instances*: queries, reading, signals, stop, restart, delete, and our start extension. */
export const instanceRoutes =
  (s: Services, wf: WorkflowService, approvals?: ApprovalService): FastifyPluginAsync =>
  async (app) => {
    app.get('/Workflow/Instances', async (req) => {
      requirePermission(req, P.instancesReadAll);
      const rows = await s.store.queryInstances(listQuery(req, INSTANCE_FIELDS, 'CurrentStepDisplayName'));
      return rows.map(instanceQuery);
    });

    app.get('/Workflow/Instances/My', async (req) => {
      const p = requirePermission(req, P.instancesReadAll, P.instancesReadMine);
      const rows = await s.store.queryInstances({ ...listQuery(req, INSTANCE_FIELDS, 'CurrentStepDisplayName'), initiatorId: p.identity.id });
      return rows.map(instanceQuery);
    });

    app.get('/Workflow/Instances/AssignedToMe', async (req) => {
      const p = requirePermission(req, P.instancesReadAll, P.instancesReadPending);
      const rows = await s.store.queryInstances({
        ...listQuery(req, INSTANCE_FIELDS, 'CurrentStepDisplayName'),
        // Delegates see their delegators' waiting items too (docs/approvals.md#delegation).
        assignedTo: { identityId: p.identity.id, roleIds: await wf.assignedRoleIds(p) },
      });
      return rows.map(instanceQuery);
    });

    app.post('/Workflow/Instances', async (req, reply) => {
      const p = requirePermission(req, P.instancesStart);
      const body = asObject(req.body ?? {});
      const definitionId = str(body, 'DefinitionId');
      const initialData = field(body, 'InitialData') ?? {};
      const instance = await wf.start(
        {
          definitionId: definitionId === null ? null : guid(definitionId, 'DefinitionId'),
          workflowType: str(body, 'WorkflowType'),
          key: str(body, 'Key'),
          title: str(body, 'Title', { max: 1000 }),
          initialData: asObject(initialData, 'InitialData'),
        },
        p,
      );
      reply.code(201).header('Location', `/KeyfactorAPI/Workflow/Instances/${instance.id}`);
      return instanceV1(instance, await wf.version(instance.definitionId, instance.definitionVersion));
    });

    // Per-instance routes: the service decides who may see the instance (canRead); anyone else gets
    // the 404 of an unknown id, so a GUID alone reveals nothing (docs/security/trust.md).
    app.get<{ Params: { id: string } }>('/Workflow/Instances/:id', async (req) => {
      const p = principalOf(req);
      const instance = await wf.readInstance(guid(req.params.id, 'Instance id'), p);
      const version = await wf.version(instance.definitionId, instance.definitionVersion).catch(() => null);
      const history = queryBool(req.q, 'includeHistory') ? await s.store.getHistory(instance.id) : undefined;
      return instanceV1(instance, version, history);
    });

    app.delete<{ Params: { id: string } }>('/Workflow/Instances/:id', async (req, reply) => {
      await wf.deleteInstance(guid(req.params.id, 'Instance id'), principalOf(req));
      reply.code(204).send();
    });

    app.post<{ Params: { id: string } }>('/Workflow/Instances/:id/Signals', async (req, reply) => {
      const p = principalOf(req);
      const id = guid(req.params.id, 'Instance id');
      const { key, data } = readSignal(req.body);
      const actingFor = req.body && typeof req.body === 'object' ? str(req.body as JsonObject, 'ActingFor', { max: 400 }) : null;
      // Extension: the outcome decided in the same transaction, instead of Keyfactor's bare 204.
      if (approvals && prefersRepresentation(req)) {
        reply.header('Preference-Applied', 'return=representation');
        return signalOutcomeWire(await approvals.signal(id, key, data, p, actingFor));
      }
      await wf.signal(id, key, data, p, actingFor);
      return reply.code(204).send();
    });

    app.post<{ Params: { id: string } }>('/Workflow/Instances/:id/Stop', async (req, reply) => {
      await wf.stop(guid(req.params.id, 'Instance id'), principalOf(req));
      reply.code(204).send();
    });

    app.post<{ Params: { id: string } }>('/Workflow/Instances/:id/Restart', async (req, reply) => {
      const id = guid(req.params.id, 'Instance id');
      const newId = await wf.restart(id, restartVersion(req), principalOf(req));
      reply.code(204).header('Location', `/KeyfactorAPI/Workflow/Instances/${newId}`).send();
    });
  };

export function readSignal(body: unknown): { key: string; data: JsonObject } {
  if (body === undefined || body === null) fail('SignalInvalid', 'The request body is required: {"SignalKey": "<StepUniqueName>.<SignalName>", "Data": {...}}.');
  const o = asObject(body);
  const key = field(o, 'SignalKey');
  if (typeof key !== 'string' || key.trim() === '') fail('SignalInvalid', 'SignalKey is required, as "<StepUniqueName>.<SignalName>", e.g. "RequireApproval1.ApprovalStatus".');
  const data = field(o, 'Data');
  if (data !== undefined && data !== null && (typeof data !== 'object' || Array.isArray(data)))
    fail('SignalInvalid', 'Data must be a JSON object, e.g. {"Approved": true, "Comment": "..."}.');
  return { key: (key as string).trim(), data: (data ?? {}) as JsonObject };
}

/** ?version= is primary; a JSON body {"version": n} or a bare number is accepted too (api-notes 6.3). */
function restartVersion(req: FastifyRequest): number | null {
  const q = req.q.version;
  if (q !== undefined && q !== '') return intParam(q, 'version');
  const b = req.body;
  if (b === undefined || b === null) return null;
  if (typeof b === 'number') return intParam(String(b), 'version');
  return int(asObject(b), 'version', { min: 1 });
}
