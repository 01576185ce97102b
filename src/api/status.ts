import type { FastifyPluginAsync } from 'fastify';
import { fail } from '../domain/errors.ts';
import type { Services } from '../service/services.ts';

export const PRODUCT_VERSION = '25.1.0-countersign.0.1.0';

/** /Status: Keyfactor's clients call Endpoints before anything else, as a sign-in check. */
export const statusRoutes =
  (s: Services): FastifyPluginAsync =>
  async (app) => {
    app.get('/Status/Endpoints', async (_req, reply) => {
      reply.header('x-keyfactor-product-version', PRODUCT_VERSION);
      return ENDPOINTS;
    });
    // "The API's ability to connect to the database": 204 when the store answers, 503 when not.
    app.get('/Status/HealthCheck', async (_req, reply) => {
      try {
        await s.store.securityGeneration();
      } catch {
        fail('StoreUnavailable', 'The database is not reachable right now. Try again in a few seconds.');
      }
      reply.code(204).send();
    });
  };

/** The operations this server answers, as "METHOD /Path" strings. */
export const ENDPOINTS = [
  'GET /Status/Endpoints',
  'GET /Status/HealthCheck',
  'GET /Workflow/Definitions',
  'POST /Workflow/Definitions',
  'GET /Workflow/Definitions/{definitionId}',
  'PUT /Workflow/Definitions/{definitionId}',
  'DELETE /Workflow/Definitions/{definitionId}',
  'PUT /Workflow/Definitions/{definitionId}/Steps',
  'POST /Workflow/Definitions/{definitionId}/Publish',
  'POST /Workflow/Definitions/{definitionId}/Publish/{version}',
  'PUT /Workflow/Definitions/{definitionId}/Status',
  'GET /Workflow/Definitions/Steps',
  'GET /Workflow/Definitions/Steps/{extensionName}',
  'GET /Workflow/Definitions/Types',
  'GET /Workflow/Instances',
  'POST /Workflow/Instances',
  'GET /Workflow/Instances/My',
  'GET /Workflow/Instances/AssignedToMe',
  'GET /Workflow/Instances/{instanceId}',
  'DELETE /Workflow/Instances/{instanceId}',
  'POST /Workflow/Instances/{instanceId}/Signals',
  'POST /Workflow/Instances/{instanceId}/Stop',
  'POST /Workflow/Instances/{instanceId}/Restart',
  'GET /Security/Identities',
  'POST /Security/Identities',
  'GET /Security/Identities/{id}',
  'DELETE /Security/Identities/{id}',
  'GET /Security/Roles',
  'POST /Security/Roles',
  'PUT /Security/Roles',
  'GET /Security/Roles/{id}',
  'DELETE /Security/Roles/{id}',
  'PUT /Security/Roles/{id}/Identities',
  'GET /Security/Roles/{id}/Identities',
  'GET /Security/Identities/Lookup',
  'GET /Security/My',
  'GET /Security/My/Permissions',
  'GET /PermissionSets',
  'GET /PermissionSets/{id}',
  'GET /PermissionSets/My',
  'GET /Permissions',
];
