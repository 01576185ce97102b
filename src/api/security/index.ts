import type { FastifyPluginAsync } from 'fastify';
import type { SecurityService } from '../../service/security.ts';
import { identityRoutes } from './identities.ts';
import { permissionSetRoutes } from './permission-sets.ts';
import { roleRoutes } from './roles.ts';

/** The security resources, one plugin each, over one SecurityService. */
export const securityRoutes =
  (security: SecurityService): FastifyPluginAsync =>
  async (app) => {
    await app.register(identityRoutes(security));
    await app.register(roleRoutes(security));
    await app.register(permissionSetRoutes(security));
  };
