import { Type } from '@sinclair/typebox';
import { extension, NoContent } from './schema/routes.ts';
import type { FastifyPluginAsync } from 'fastify';
import { toLegacy } from '../security/permissions.ts';
import type { SecurityService } from '../service/security.ts';
import { principalOf } from './guard.ts';
import { asObject, str } from './wire.ts';

/*
 * What the caller may do, for any authenticated identity (no permission needed: everyone may ask
 * about themselves). The portal reads these once after sign-in to decide what to show; the API
 * still refuses what the caller may not do.
 *
 *  - GET /Security/My/Permissions  SecurityMyPermissionsResponse {Permissions: string[]}: the
 *    canonical access-control strings the caller's enabled roles grant ("/" grants everything,
 *    a shorter string everything below it).
 *  - GET /Security/My (deprecated in the contract)  SecurityMyResponse {Roles, GlobalPermissions,
 *    GranularPermissions}: role names, and each permission as {Area, Permission} in the
 *    version-1 "Area:Permission" spelling (a grouping expands to what it contains). Countersign
 *    has no collection or container permissions, so GranularPermissions is empty.
 *  - PUT /Security/My/Password  {CurrentPassword, NewPassword} -> 204: the caller changes their
 *    own password (an extension, not in Keyfactor's API; docs/compatibility.md).
 */
export const myRoutes =
  (security: SecurityService): FastifyPluginAsync =>
  async (app) => {
    app.get('/Security/My/Permissions', async (req) => {
      const p = principalOf(req);
      return { Permissions: [...new Set(p.permissions)].sort() };
    });

    app.put(
      '/Security/My/Password',
      {
        schema: extension({
          summary: 'Change the caller’s own password',
          body: Type.Object({ CurrentPassword: Type.String(), NewPassword: Type.String() }),
          response: { 204: NoContent('Changed; the old password no longer works.') },
        }),
      },
      async (req, reply) => {
        const p = principalOf(req);
        const body = asObject(req.body);
        const current = str(body, 'CurrentPassword', { required: true }) as string;
        const next = str(body, 'NewPassword', { required: true }) as string;
        await security.changeOwnPassword(p, current, next);
        return reply.code(204).send();
      },
    );

    app.get('/Security/My', async (req) => {
      const p = principalOf(req);
      const held = new Set(p.roleIds);
      const roles = (await security.rolesOf(p.identity)).filter((r) => r.enabled && held.has(r.id));
      const legacy = [...new Set(p.permissions.flatMap(toLegacy))].sort();
      return {
        Roles: roles.map((r) => r.name),
        GlobalPermissions: legacy.map((l) => {
          const [Area, Permission] = l.split(':');
          return { Area: Area ?? l, Permission: Permission ?? null };
        }),
        GranularPermissions: [],
      };
    });
  };
