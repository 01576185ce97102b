import type { FastifyPluginAsync } from 'fastify';
import type { ChallengeResponder } from '../ca/acme-upstream/challenges.ts';

/**
 * The built-in http-01 responder of ACME upstream CAs (RFC 8555 8.3): public, outside the API's
 * authentication, answering only the tokens of challenges being validated right now (by any node).
 */
export const acmeChallengeRoutes =
  (challenges: ChallengeResponder): FastifyPluginAsync =>
  async (app) => {
    // For an upstream ACME CA's validator, not for API clients: kept out of the OpenAPI document.
    app.get<{ Params: { token: string } }>('/.well-known/acme-challenge/:token', { schema: { hide: true } }, async (req, reply) => {
      const answer = await challenges.answer(req.params.token);
      if (answer === null) return reply.code(404).type('text/plain').send('Not found');
      return reply.type('application/octet-stream').send(answer);
    });
  };
