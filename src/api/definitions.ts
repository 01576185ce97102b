import type { FastifyPluginAsync } from 'fastify';
import { fail } from '../domain/errors.ts';
import type { Definition, DefinitionKey, DefinitionVersion } from '../domain/types.ts';
import { P } from '../security/permissions.ts';
import type { Services } from '../service/services.ts';
import { WORKFLOW_TYPES, type WorkflowService } from '../service/workflow.ts';
import { requirePermission } from './guard.ts';
import { listInMemory, listQuery } from './listing.ts';
import { DEFINITION_FIELDS, STEP_FIELDS, TYPE_FIELDS } from '../store/query-fields.ts';
import { asObject, bool, field, guid, intParam, queryBool, str } from './wire.ts';
import { availableStep, availableStepQuery, definitionQueryV1, definitionQueryV2, definitionV1, definitionV2, readSteps } from './workflow-wire.ts';

const TYPE_NAMES = WORKFLOW_TYPES.map((t) => t.name);

/** /Workflow/Definitions*: definitions, versions, publishing, the step and type catalogues. */
export const definitionRoutes =
  (s: Services, wf: WorkflowService): FastifyPluginAsync =>
  async (app) => {
    const respond = async (apiVersion: 1 | 2, def: Definition, version?: DefinitionVersion, exportable = false) => {
      const v = version ?? (await wf.getDefinition(def.id)).version;
      const shown = exportable ? { ...v, steps: v.steps.map((st) => ({ ...st, signals: st.signals.map((g) => ({ ...g, roleIds: [] })) })) } : v;
      if (apiVersion === 2) {
        const roles = await s.store.listRoles({ filter: null, limit: 10_000, offset: 0, sortColumn: 'id', ascending: true });
        return definitionV2(def, shown, s.registry, new Map(roles.map((r) => [r.id, r.name])));
      }
      return definitionV1(def, shown, s.registry);
    };

    app.get('/Workflow/Definitions', async (req) => {
      requirePermission(req, P.definitionsRead);
      const defs = await s.store.listDefinitions(listQuery(req, DEFINITION_FIELDS, 'DisplayName'));
      return defs.map((d) => (req.apiVersion === 2 ? definitionQueryV2(d) : definitionQueryV1(d)));
    });

    app.post('/Workflow/Definitions', async (req) => {
      const by = requirePermission(req, P.definitionsModify).identity.accountName;
      const body = asObject(req.body);
      const v2 = req.apiVersion === 2;
      const def = await wf.createDefinition(
        {
          displayName: str(body, 'DisplayName', { required: true, nonEmpty: true, max: 400 }) as string,
          description: str(body, 'Description', { required: v2, nonEmpty: v2, max: 2000 }),
          workflowType: str(body, 'WorkflowType', { required: true, nonEmpty: true }) as string,
          keys: v2 ? readKeys(body) : keyOf(str(body, 'Key', { max: 400 })),
          enabled: bool(body, 'Enabled') ?? true,
        },
        by,
      );
      return respond(req.apiVersion, def);
    });

    app.get('/Workflow/Definitions/Steps', async (req) => {
      requirePermission(req, P.definitionsRead);
      const items = s.registry.all().map((t) => availableStepQuery(t, TYPE_NAMES));
      return listInMemory(items, listQuery(req, STEP_FIELDS, 'DisplayName'), STEP_FIELDS);
    });

    app.get<{ Params: { extensionName: string } }>('/Workflow/Definitions/Steps/:extensionName', async (req) => {
      requirePermission(req, P.definitionsRead);
      const name = req.params.extensionName;
      const t = s.registry.get(name) ?? s.registry.all().find((x) => x.extensionName.toLowerCase() === name.toLowerCase());
      if (!t) fail('NotFound', `No step type has ExtensionName '${name}'.`);
      return availableStep(t!);
    });

    app.get('/Workflow/Definitions/Types', async (req) => {
      requirePermission(req, P.definitionsRead);
      const builtIn = s.registry
        .all()
        .filter((t) => t.extensionName === 'NOOPStep')
        .map(availableStep);
      const items = WORKFLOW_TYPES.map((t) => ({ WorkflowType: t.name, KeyType: t.keyType, ContextParameters: [...t.context], BuiltInSteps: builtIn }));
      return listInMemory(items, listQuery(req, TYPE_FIELDS, 'WorkflowType'), TYPE_FIELDS);
    });

    app.get<{ Params: { id: string } }>('/Workflow/Definitions/:id', async (req) => {
      requirePermission(req, P.definitionsRead);
      const id = guid(req.params.id, 'Definition id');
      const rawVersion = req.q.definitionversion;
      const version = rawVersion === undefined || rawVersion === '' ? undefined : intParam(rawVersion, 'definitionVersion');
      const { definition, version: v } = await wf.getDefinition(id, version);
      return respond(req.apiVersion, definition, v, queryBool(req.q, 'exportable'));
    });

    app.put<{ Params: { id: string } }>('/Workflow/Definitions/:id', async (req) => {
      const by = requirePermission(req, P.definitionsModify).identity.accountName;
      const id = guid(req.params.id, 'Definition id');
      const body = asObject(req.body);
      const v2 = req.apiVersion === 2;
      const keys = v2 && field(body, 'Keys') !== undefined && field(body, 'Keys') !== null ? readKeys(body) : undefined;
      const def = await wf.updateDefinition(
        id,
        {
          displayName: str(body, 'DisplayName', { required: true, nonEmpty: true, max: 400 }) as string,
          description: str(body, 'Description', { max: 2000 }),
          enabled: bool(body, 'Enabled') ?? undefined,
          keys,
        },
        by,
      );
      return respond(req.apiVersion, def);
    });

    app.delete<{ Params: { id: string } }>('/Workflow/Definitions/:id', async (req, reply) => {
      const by = requirePermission(req, P.definitionsModify).identity.accountName;
      await wf.deleteDefinition(guid(req.params.id, 'Definition id'), by);
      reply.code(204).send();
    });

    app.put<{ Params: { id: string } }>('/Workflow/Definitions/:id/Steps', async (req) => {
      const by = requirePermission(req, P.definitionsModify).identity.accountName;
      const id = guid(req.params.id, 'Definition id');
      const def = await wf.putSteps(id, readSteps(req.body, s.newId), by);
      return respond(1, def);
    });

    app.post<{ Params: { id: string } }>('/Workflow/Definitions/:id/Publish', async (req) => {
      const by = requirePermission(req, P.definitionsModify).identity.accountName;
      const def = await wf.publish(guid(req.params.id, 'Definition id'), undefined, by);
      return respond(1, def);
    });

    app.post<{ Params: { id: string; version: string } }>('/Workflow/Definitions/:id/Publish/:version', async (req) => {
      const by = requirePermission(req, P.definitionsModify).identity.accountName;
      const def = await wf.publish(guid(req.params.id, 'Definition id'), intParam(req.params.version, 'version'), by);
      return respond(1, def);
    });

    app.put<{ Params: { id: string } }>('/Workflow/Definitions/:id/Status', async (req, reply) => {
      const by = requirePermission(req, P.definitionsModify).identity.accountName;
      const id = guid(req.params.id, 'Definition id');
      const raw = req.body;
      const enabled =
        typeof raw === 'boolean'
          ? raw
          : typeof raw === 'string' && /^(true|false)$/i.test(raw)
            ? raw.toLowerCase() === 'true'
            : fail('ValidationFailed', 'The body must be the JSON boolean true (enable) or false (disable).');
      await wf.setEnabled(id, enabled as boolean, by);
      reply.code(204).send();
    });
  };

const keyOf = (key: string | null): DefinitionKey[] => (key === null || key === '' ? [] : [{ value: key, displayName: key }]);

function readKeys(body: Record<string, unknown>): DefinitionKey[] {
  const raw = field(body as never, 'Keys');
  if (!Array.isArray(raw) || !raw.every((k) => typeof k === 'string')) fail('ValidationFailed', 'Keys must be a list of strings.');
  return [...new Set(raw as string[])].filter((k) => k !== '').map((k) => ({ value: k, displayName: k }));
}
