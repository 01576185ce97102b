import type { FastifyPluginAsync } from 'fastify';
import type { PortalProvider } from '../security/bearer-authenticator.ts';

/*
 * GET /KeyfactorPortal/sign-in/providers: the identity providers the portal offers (authorization
 * code + PKCE), read before anyone is signed in. Public by design: issuer, client id (a public
 * client, no secret), scopes and endpoints are what any browser sees in the redirect anyway.
 */

export const SIGN_IN_PROVIDERS_PATH = '/KeyfactorPortal/sign-in/providers';

export const signInRoutes =
  (providers: () => Promise<PortalProvider[]>): FastifyPluginAsync =>
  async (app) => {
    app.get(SIGN_IN_PROVIDERS_PATH, async (_req, reply) => {
      const list = await providers();
      reply.header('Cache-Control', 'no-store');
      return {
        Providers: list.map((p) => ({
          Name: p.name,
          Issuer: p.issuer,
          ClientId: p.clientId,
          Scopes: p.scopes,
          AccountDomain: p.accountDomain,
          AuthorizationEndpoint: p.authorizationEndpoint,
          TokenEndpoint: p.tokenEndpoint,
        })),
      };
    });
  };
