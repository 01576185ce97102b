import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { fail } from '../../domain/errors.ts';
import type { Json } from '../../domain/types.ts';
import { P } from '../../security/permissions.ts';
import { SecurityService } from '../../service/security.ts';
import { ROLE_FIELDS } from '../../store/query-fields.ts';
import type { NewRole } from '../../store/store.ts';
import { requirePermission } from '../guard.ts';
import { listQuery } from '../listing.ts';
import { asObject, bool, int, intParam } from '../wire.ts';
import { readClaims, readIdList, readIdentityNamesV1, readPermissions, readRoleCommonV1, readRoleCommonV2 } from './requests.ts';
import { memberList, roleQueryV2, roleV1, roleV2 } from './views.ts';

/*
 * /Security/Roles, version 1 ("Area:Permission" strings and identity members) and version 2
 * (access-control strings and claims). A version-2 PUT with Claims makes the claims the whole
 * membership (direct members become claims); a version-1 PUT with Identities makes those the
 * whole user membership (src/domain/security/roles.ts membershipV1).
 */
export const roleRoutes =
  (security: SecurityService): FastifyPluginAsync =>
  async (app) => {
    app.get('/Security/Roles', async (req) => {
      requirePermission(req, P.securityRead);
      const out: Json[] = [];
      for (const r of await security.listRoles(listQuery(req, ROLE_FIELDS, 'Name'))) {
        const full = await security.withMembers(r);
        out.push(req.apiVersion === 2 ? roleQueryV2(full) : roleV1(full));
      }
      return out;
    });

    app.get('/Security/Roles/:id', async (req) => {
      requirePermission(req, P.securityRead);
      const full = await security.withMembers(await security.role(idParam(req)));
      return req.apiVersion === 2 ? roleV2(full) : roleV1(full);
    });

    app.post('/Security/Roles', async (req) => {
      const p = requirePermission(req, P.securityModify);
      const body = asObject(req.body);
      if (req.apiVersion === 2) {
        const role: NewRole = {
          ...readRoleCommonV2(body, true),
          enabled: true,
          private: false,
          immutable: false,
          permissions: readPermissions(body) ?? [],
          identityIds: [],
          claims: readClaims(body) ?? [],
        };
        return roleV2(await security.withMembers(await security.createRole(p, role)));
      }
      const names = readIdentityNamesV1(body);
      const members = names === null ? [] : await security.identitiesByName(names);
      const role: NewRole = {
        ...readRoleCommonV1(body),
        enabled: bool(body, 'Enabled') ?? true,
        private: bool(body, 'Private') ?? false,
        immutable: false,
        permissions: readPermissions(body) ?? [],
        identityIds: members.map((i) => i.id),
        claims: [],
      };
      return roleV1(await security.withMembers(await security.createRole(p, role)));
    });

    app.put('/Security/Roles', async (req) => {
      const p = requirePermission(req, P.securityModify);
      const body = asObject(req.body);
      const id = int(body, 'Id', { required: true, min: 1 }) as number;
      await security.mutableRole(id);
      if (req.apiVersion === 2) {
        const updated = await security.updateRole(p, id, (current) => {
          const claims = readClaims(body);
          return {
            ...SecurityService.asNew(current),
            ...readRoleCommonV2(body, true),
            permissions: readPermissions(body) ?? current.permissions,
            // The claims are the complete membership: direct members not listed again are dropped.
            ...(claims === null ? {} : { claims, identityIds: [] }),
          };
        });
        return roleV2(await security.withMembers(updated));
      }
      const names = readIdentityNamesV1(body);
      const members = names === null ? null : await security.identitiesByName(names);
      const updated = await security.updateRole(p, id, async (current) => ({
        ...SecurityService.asNew(current),
        ...readRoleCommonV1(body),
        enabled: bool(body, 'Enabled') ?? current.enabled,
        private: bool(body, 'Private') ?? current.private,
        permissions: readPermissions(body) ?? current.permissions,
        ...(members === null
          ? {}
          : await security.membershipV1(
              current,
              members.map((i) => i.id),
            )),
      }));
      return roleV1(await security.withMembers(updated));
    });

    app.delete('/Security/Roles/:id', async (req, reply) => {
      const p = requirePermission(req, P.securityModify);
      await security.deleteRole(p, idParam(req));
      return reply.code(204).send();
    });

    app.get('/Security/Roles/:id/Identities', async (req) => {
      requirePermission(req, P.securityRead);
      return memberList(await security.withMembers(await security.role(idParam(req))));
    });

    app.put('/Security/Roles/:id/Identities', async (req) => {
      const p = requirePermission(req, P.securityModify);
      const id = idParam(req);
      await security.mutableRole(id);
      const body = asObject(req.body);
      const ids = readIdList(body, 'Ids');
      const add = readIdList(body, 'Add');
      const remove = readIdList(body, 'Remove');
      if (ids === null && add === null && remove === null)
        fail('ValidationFailed', 'Send Ids (the complete list of identity ids), or Add and/or Remove (identity ids to add or remove).');
      if (ids !== null && (add !== null || remove !== null)) fail('ValidationFailed', 'Send either Ids, or Add/Remove, not both.');
      return memberList(await security.changeMembers(p, id, { ids, add, remove }));
    });
  };

const idParam = (req: FastifyRequest): number => intParam((req.params as { id?: string }).id, 'Role id');
