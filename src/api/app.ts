import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { hasUnstorableText, jsonProblem } from '../domain/bounded-json.ts';
import { CountersignError, ERRORS, RetryLaterError, fail } from '../domain/errors.ts';
import type { Authenticator, Principal } from '../security/principal.ts';
import type { Services } from '../service/services.ts';
import { isStoreUnavailable } from '../store/unavailable.ts';
import { NO_SECURITY_EVENTS, type SecurityEvents } from '../observability/logger.ts';
import { traceRequests } from '../observability/tracing.ts';
import { installApiDocs } from './api-docs.ts';
import { definitionRoutes } from './definitions.ts';
import { installIdempotency } from './idempotency.ts';
import { approvalRoutes } from './approval-routes.ts';
import { ApprovalService } from '../service/approvals.ts';
import type { DelegationService } from '../service/delegations.ts';
import { instanceRoutes } from './instances.ts';
import { myRoutes } from './my-routes.ts';
import { securityRoutes } from './security/index.ts';
import type { SecurityService } from '../service/security.ts';
import type { WorkflowService } from '../service/workflow.ts';
import { PRODUCT_VERSION, statusRoutes } from './status.ts';
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
  workflow: WorkflowService;
  security: SecurityService;
  authenticator: Authenticator;
  /** The server's logger (pino); none logs nothing. */
  logger?: FastifyBaseLogger;
  /** Failed log-ins go here (docs/operations.md "Logs"). */
  events?: SecurityEvents;
  /** Delegation of approvals (absent: the routes are not offered). */
  delegations?: DelegationService;
  /** More API route plugins, mounted under the base path behind authentication (certificates). */
  apiRoutes?: FastifyPluginAsync[];
  /** A span per request (the OTEL_* variables turned tracing on: observability/tracing.ts). */
  tracing?: boolean;
  /** Serve HTTPS with this key and certificate chain (PEM). */
  https?: { key: string; cert: string };
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
  const events = opts.events ?? NO_SECURITY_EVENTS;
  const app = Fastify({
    ...(opts.https ? { https: { key: opts.https.key, cert: opts.https.cert } } : {}),
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    // maxParamLength: one-click link tokens are path parameters of a few hundred characters.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 2048 },
    bodyLimit: 4 * 1024 * 1024,
    // Fastify's own request lines would carry the URL (one-click link tokens are path
    // parameters): the access log below writes the route pattern instead.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.addHook('onResponse', async (req, reply) => {
    req.log.info(
      {
        method: req.method,
        route: req.routeOptions.url ?? null,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        remoteAddress: req.ip,
        account: req.principal?.identity.accountName ?? null,
      },
      'request',
    );
  });
  // Before any route: every route registered from here on gets its wire schemas (api-docs.ts),
  // and its handler runs inside the request's span when tracing is on.
  if (opts.tracing) traceRequests(app, ['/healthz', '/readyz', '/metrics']);
  await installApiDocs(app, { version: PRODUCT_VERSION });
  app.decorateRequest('principal', null);
  app.decorateRequest('apiVersion', 1);
  app.decorateRequest('q', null as unknown as Query);

  app.addHook('onSend', async (req, reply, payload) => {
    securityHeaders(req, reply);
    return payload;
  });
  installJsonParser(app);
  app.setErrorHandler((err, req, reply) => sendError(err as Error, req, reply));
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(new CountersignError('RouteNotFound', `No operation ${req.method} ${req.url.split('?')[0]}.`).toJSON());
  });

  await app.register(
    async (api) => {
      api.addHook('onRequest', async (req, reply) => {
        checkSingleAuthorization(req);
        const requestedWith = req.headers['x-keyfactor-requested-with'];
        if (typeof requestedWith !== 'string' || !/^(APIClient|XMLHttpRequest)$/i.test(requestedWith.trim()))
          fail('MissingRequestedWithHeader', "The header 'x-keyfactor-requested-with' is required, with the value APIClient or XMLHttpRequest.");
        checkRequestText(req);
        req.q = normaliseQuery(req.query as Record<string, unknown>);
        req.apiVersion = /^\s*2(\.0)?\s*$/.test(String(req.headers['x-keyfactor-api-version'] ?? '')) ? 2 : 1;
        const principal = await opts.authenticator.authenticate(req.headers.authorization, req.ip).catch((e: unknown) => {
          if (e instanceof RetryLaterError) events.emit('login.locked', { ...loginAttempt(req), reason: e.message });
          throw e;
        });
        if (!principal) {
          if (req.headers.authorization) events.emit('login.failed', loginAttempt(req));
          reply.header('WWW-Authenticate', opts.authenticator.challenge);
          fail(
            'Unauthenticated',
            /\bBearer\b/.test(opts.authenticator.challenge)
              ? 'Authentication is required: send an OAuth bearer token of a trusted issuer, or HTTP Basic credentials of a Countersign identity (DOMAIN\\user or user).'
              : 'Authentication is required: send HTTP Basic credentials of a Countersign identity (DOMAIN\\user or user).',
          );
        }
        req.principal = principal;
      });
      installIdempotency(api, { store: opts.services.store, ttlMs: opts.services.config.idempotencyTtlMs, now: () => Date.parse(opts.services.now()) });
      await api.register(statusRoutes(opts.services));
      await api.register(definitionRoutes(opts.services, opts.workflow));
      const approvals = new ApprovalService(opts.services, opts.workflow, opts.security);
      await api.register(instanceRoutes(opts.services, opts.workflow, approvals));
      await api.register(approvalRoutes(approvals, opts.workflow, opts.delegations));
      await api.register(securityRoutes(opts.security));
      await api.register(myRoutes(opts.security));
      for (const routes of opts.apiRoutes ?? []) await api.register(routes);
    },
    { prefix: API_BASE },
  );
  if (opts.extra) await opts.extra(app);
  return app;
}

/** Who tried to sign in, from where: the Basic account name only, never the password. */
function loginAttempt(req: FastifyRequest): Record<string, unknown> {
  const m = /^\s*Basic\s+(\S+)/i.exec(req.headers.authorization ?? '');
  const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  return { reqId: req.id, remoteAddress: req.ip, accountName: colon > 0 ? decoded.slice(0, Math.min(colon, 200)) : null };
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
    // Depth, U+0000 and lone surrogates: what neither store can keep, refused before any handler (bounded-json.ts).
    const problem = jsonProblem(value);
    if (problem) return done(new CountersignError('ValidationFailed', `The request body is not accepted: ${problem}`));
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

/**
 * Query values and path parameters reach store lookups: text PostgreSQL cannot take (U+0000, a
 * lone surrogate) is refused here, so both stores answer alike and neither answers 500.
 */
function checkRequestText(req: FastifyRequest): void {
  const parts: [string, unknown][] = [
    ...Object.entries((req.query ?? {}) as Record<string, unknown>).map(([k, v]) => [`Query parameter '${k}'`, [k, v]] as [string, unknown]),
    ...Object.entries((req.params ?? {}) as Record<string, unknown>).map(([k, v]) => [`Path parameter '${k}'`, v] as [string, unknown]),
  ];
  for (const [what, v] of parts) {
    const texts = (Array.isArray(v) ? v.flat() : [v]).filter((x): x is string => typeof x === 'string');
    if (texts.some(hasUnstorableText))
      fail('ValidationFailed', `${what.replace(/[^\x20-\x7e]/g, '\ufffd')} is not accepted: text must be valid Unicode without the NUL character (U+0000).`);
  }
}

/** Node keeps only the first of repeated Authorization headers; two different credentials in one request are refused instead. */
function checkSingleAuthorization(req: FastifyRequest): void {
  const raw = req.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'authorization') count++;
  if (count > 1) fail('ValidationFailed', `Send one Authorization header; this request has ${count}.`);
}

const API_PATH = /^\/keyfactorapi(\/|\?|$)/i;

/**
 * nosniff on every response; no-store on every API response, errors included: answers carry
 * workflow data and must not be kept by caches. The portal's assets keep their own caching.
 */
function securityHeaders(req: FastifyRequest, reply: FastifyReply): void {
  reply.header('X-Content-Type-Options', 'nosniff');
  if (API_PATH.test(req.url)) reply.header('Cache-Control', 'no-store');
}

function sendError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof CountersignError) {
    if (err instanceof RetryLaterError) reply.header('Retry-After', String(err.retryAfterSeconds));
    reply.code(err.status).send(err.toJSON());
    return;
  }
  if (isStoreUnavailable(err)) {
    req.log.warn({ err }, 'store unavailable');
    reply
      .code(503)
      .header('Retry-After', '5')
      .send(new CountersignError('StoreUnavailable', 'The database is not reachable right now; nothing was changed. Try again in a few seconds.').toJSON());
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
