import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { CountersignError, ERRORS, fail } from '../domain/errors.ts';
import type { Authenticator, Principal } from '../security/principal.ts';
import type { Services } from '../service/services.ts';
import { isStoreUnavailable } from '../store/unavailable.ts';
import { definitionRoutes } from './definitions.ts';
import { instanceRoutes } from './instances.ts';
import { myRoutes } from './my-routes.ts';
import { securityRoutes } from './security-routes.ts';
import { statusRoutes } from './status.ts';
import type { Query } from './wire.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** x-keyfactor-api-version: 2 selects the v2 shapes where they exist. */
    apiVersion: 1 | 2;
    q: Query;
  }
}

export interface AppOptions {
  services: Services;
  authenticator: Authenticator;
  logger?: boolean | object;
  /** More API route plugins, mounted under the base path behind authentication (certificates). */
  apiRoutes?: FastifyPluginAsync[];
  /** Extra plugins mounted beside the API (the portal). */
  extra?: (app: FastifyInstance) => Promise<void> | void;
}

export const API_BASE = '/KeyfactorAPI';

/** Query names arrive bare, or prefixed as the v10 SDKs send them (pq.x, query.x, instanceQuery.x). */
const PREFIX = /^(pq|query|instancequery|pagedquery)\./;

export function normaliseQuery(raw: Record<string, unknown>): Query {
  const q: Query = {};
  for (const [k, v] of Object.entries(raw)) {
    const name = k.toLowerCase().replace(PREFIX, '');
    q[name] = Array.isArray(v) ? String(v[v.length - 1]) : v === undefined ? undefined : String(v);
  }
  return q;
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    // maxParamLength: one-click link tokens are path parameters of a few hundred characters.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 2048 },
    bodyLimit: 4 * 1024 * 1024,
    // Secrets travel in Authorization headers and step configuration: no per-request log lines.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.decorateRequest('principal', null);
  app.decorateRequest('apiVersion', 1);
  app.decorateRequest('q', null as unknown as Query);

  installJsonParser(app);
  app.setErrorHandler((err, req, reply) => sendError(err as Error, req, reply));
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(new CountersignError('RouteNotFound', `No operation ${req.method} ${req.url.split('?')[0]}.`).toJSON());
  });

  await app.register(
    async (api) => {
      api.addHook('onRequest', async (req, reply) => {
        const requestedWith = req.headers['x-keyfactor-requested-with'];
        if (typeof requestedWith !== 'string' || !/^(APIClient|XMLHttpRequest)$/i.test(requestedWith.trim()))
          fail('MissingRequestedWithHeader', "The header 'x-keyfactor-requested-with' is required, with the value APIClient or XMLHttpRequest.");
        req.q = normaliseQuery(req.query as Record<string, unknown>);
        req.apiVersion = /^\s*2(\.0)?\s*$/.test(String(req.headers['x-keyfactor-api-version'] ?? '')) ? 2 : 1;
        const principal = await opts.authenticator.authenticate(req.headers.authorization, req.ip);
        if (!principal) {
          reply.header('WWW-Authenticate', opts.authenticator.challenge);
          fail('Unauthenticated', 'Authentication is required: send HTTP Basic credentials of a Countersign identity (DOMAIN\\user or user).');
        }
        req.principal = principal;
      });
      await api.register(statusRoutes(opts.services));
      await api.register(definitionRoutes(opts.services));
      await api.register(instanceRoutes(opts.services));
      await api.register(securityRoutes(opts.services));
      await api.register(myRoutes(opts.services));
      for (const routes of opts.apiRoutes ?? []) await api.register(routes);
    },
    { prefix: API_BASE },
  );
  if (opts.extra) await opts.extra(app);
  return app;
}

/** JSON only; an empty body is allowed (and read as undefined) so each route can say what it needs. */
function installJsonParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parse = (_req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => {
    if (body.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (e) {
      return done(new CountersignError('InvalidJson', `The request body is not valid JSON: ${(e as Error).message}`));
    }
    // PostgreSQL cannot store U+0000 in text; refusing it here keeps both stores alike.
    if ((body.includes('\\u0000') || body.includes('\0')) && hasNul(value))
      return done(new CountersignError('ValidationFailed', 'Text in the request must not contain the NUL character (U+0000).'));
    done(null, value);
  };
  app.addContentTypeParser(['application/json', 'text/json', 'application/json-patch+json'], { parseAs: 'string' }, parse);
  app.addContentTypeParser(/^application\/[\w.+-]+\+json$/, { parseAs: 'string' }, parse);
  // Keyfactor's SDKs send bodiless POSTs (Stop, Publish) with or without a content type.
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    done(new CountersignError('UnsupportedMediaType', `Content-Type '${req.headers['content-type']}' is not supported; send application/json.`));
  });
}

const hasNul = (v: unknown): boolean =>
  typeof v === 'string' ? v.includes('\0') : Array.isArray(v) ? v.some(hasNul) : v !== null && typeof v === 'object' ? Object.entries(v).some(([k, x]) => k.includes('\0') || hasNul(x)) : false;

function sendError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof CountersignError) {
    reply.code(err.status).send(err.toJSON());
    return;
  }
  if (isStoreUnavailable(err)) {
    req.log.warn({ err }, 'store unavailable');
    reply.code(503).header('Retry-After', '5').send(new CountersignError('StoreUnavailable', 'The database is not reachable right now; nothing was changed. Try again in a few seconds.').toJSON());
    return;
  }
  const fe = err as FastifyError;
  const mapped = mapFrameworkError(fe);
  if (mapped) {
    reply.code(mapped.status).send(mapped.toJSON());
    return;
  }
  req.log.error({ err }, 'unhandled error');
  reply.code(500).send({ ErrorCode: ERRORS.Internal.code, Message: 'An unexpected error occurred; it has been logged.' });
}

function mapFrameworkError(fe: FastifyError): CountersignError | null {
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new CountersignError('PayloadTooLarge', 'The request body is too large.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new CountersignError('UnsupportedMediaType', 'Send the request body as application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new CountersignError('InvalidJson', 'The request body is not valid JSON.');
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return new CountersignError('ValidationFailed', fe.message);
  return null;
}
