import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { fail } from '../../domain/errors.ts';
import { evaluateQuery, type BoundAst, type FieldSpec } from '../../domain/query/index.ts';
import { GLOBAL_PERMISSION_SET_ID, GLOBAL_PERMISSION_SET_NAME, PERMISSION_CATALOGUE, isGlobalPermissionSet } from '../../security/permission-set.ts';
import { P, toCanonical } from '../../security/permissions.ts';
import type { SecurityService } from '../../service/security.ts';
import { principalOf, requirePermission } from '../guard.ts';
import { listQuery } from '../listing.ts';
import { GUID } from '../wire.ts';

/** /PermissionSets (one fixed, global set), /PermissionSets/My and the /Permissions catalogue. */
export const permissionSetRoutes =
  (security: SecurityService): FastifyPluginAsync =>
  async (app) => {
    const globalSet = () => ({ Id: GLOBAL_PERMISSION_SET_ID, Name: GLOBAL_PERMISSION_SET_NAME, Permissions: [...PERMISSION_CATALOGUE] });

    app.get('/PermissionSets', async (req) => {
      requirePermission(req, P.securityRead);
      const q = listQuery(req, PERMISSION_SET_FIELDS, 'Name');
      const sets = matchesGlobalSet(q.filter) ? [globalSet()] : [];
      return sets.slice(q.offset, q.offset + q.limit);
    });

    app.get('/PermissionSets/My', async (req) => {
      const p = principalOf(req);
      const acs = req.q.accesscontrolstring;
      const roles = await security.myRoles(p, acs === undefined || acs.trim() === '' ? null : toCanonical(acs));
      if (roles.length === 0) return [];
      return [{ ...globalSet(), SecurityRoles: roles.map((r) => ({ Id: r.id, Name: r.name })) }];
    });

    app.get('/PermissionSets/:id', async (req) => {
      requirePermission(req, P.securityRead);
      const id = (req.params as { id?: string }).id;
      if (!id || !GUID.test(id)) fail('InvalidId', `Permission set id '${id ?? ''}' is not a GUID.`);
      if (!isGlobalPermissionSet(id!)) fail('NotFound', `Permission set ${id} does not exist; Countersign has one, ${GLOBAL_PERMISSION_SET_ID} (${GLOBAL_PERMISSION_SET_NAME}).`);
      return globalSet();
    });

    const fixedSets = async (req: FastifyRequest): Promise<never> => {
      requirePermission(req, P.securityModify);
      return fail(
        'MethodNotAllowed',
        `Countersign has one permission set, ${GLOBAL_PERMISSION_SET_ID} (${GLOBAL_PERMISSION_SET_NAME}), holding every permission; it cannot be created, changed or deleted.`,
      );
    };
    app.post('/PermissionSets', fixedSets);
    app.put('/PermissionSets', fixedSets);
    app.delete('/PermissionSets/:id', fixedSets);

    app.get('/Permissions', async (req) => {
      requirePermission(req, P.securityRead);
      return [...PERMISSION_CATALOGUE];
    });
  };

/** The one set is a record in memory, so its QueryString is evaluated in memory (no columns). */
const PERMISSION_SET_FIELDS: FieldSpec[] = [
  { name: 'Name', type: 'string', column: 'Name' },
  { name: 'Id', type: 'uuid', column: 'Id' },
];

const matchesGlobalSet = (filter: BoundAst | null): boolean => evaluateQuery(filter, { Name: GLOBAL_PERMISSION_SET_NAME, Id: GLOBAL_PERMISSION_SET_ID });
