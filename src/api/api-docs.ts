import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { PORTAL_BASE } from '../portal/serve.ts';
import { ACTION_PATH } from '../security/action-links.ts';
import { API_PREFIX, apiPath, EXTENSION_MARK, KEYFACTOR_HEADERS, keyfactorOperation, keyfactorRouteSchema } from './schema/routes.ts';
import { KEYFACTOR_COMPONENTS } from './schema/keyfactor.generated.ts';
import { bodyValidator, canonicalise } from './schema/validation.ts';

/*
 * "Wire schemas live at the edge" (docs/architecture.md): every route's request and response
 * shapes are TypeBox schemas; Fastify validates bodies with them and @fastify/swagger writes the
 * OpenAPI document from them. See docs/api-reference.md.
 */

export const SWAGGER_UI_PATH = `${API_PREFIX}/swagger`;
/** Where Keyfactor Command serves its document; Swagger UI reads the same one at ${SWAGGER_UI_PATH}/json. */
export const SWAGGER_JSON_PATH = `${API_PREFIX}/swagger/v1/swagger.json`;

/** Pages for people (HTML), not API operations: left out of the document. */
const PAGES = [PORTAL_BASE, ACTION_PATH];
const isPage = (url: string): boolean => url === '/' || PAGES.some((p) => url.toLowerCase() === p.toLowerCase() || url.toLowerCase().startsWith(`${p.toLowerCase()}/`));

/**
 * Bodies whose handler checks more than the schema can say: the step list's checks
 * (src/domain/definition.ts) name the step by position and unique name, e.g. "Steps[1] ('A')
 * .Signals[0].RoleIds must be a list of integer role ids". Documented, key casing applied, not
 * schema-validated.
 */
const CHECKED_BY_HANDLER = new Set(['PUT /Workflow/Definitions/{definitionId}/Steps']);

interface RouteApiConfig {
  /** Keyfactor's v2 body shape, for requests that ask for v2. */
  v2Body?: unknown;
  /** The handler's own checks say more than the schema could (CHECKED_BY_HANDLER). */
  handlerValidates?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    api?: RouteApiConfig;
  }
}

export interface ServedRoute {
  method: string;
  url: string;
  /** Left out of the document (pages for people, HEAD twins, Swagger UI's own files). */
  hidden: boolean;
}

const SERVED = new WeakMap<FastifyInstance, ServedRoute[]>();

/** Every route the app registered after installApiDocs, for the test that nothing is undocumented. */
export function servedRoutes(app: FastifyInstance): ServedRoute[] {
  return [...(SERVED.get(app) ?? [])];
}

export interface ApiDocsOptions {
  version: string;
}

/**
 * Installs, on the root instance and before any route: the schema lookup for every route, the
 * body validation (key casing first), JSON.stringify for answers (response schemas document, they
 * never filter what is sent), and the OpenAPI document with Swagger UI, readable without signing in.
 */
export async function installApiDocs(app: FastifyInstance, opts: ApiDocsOptions): Promise<void> {
  const served: ServedRoute[] = [];
  SERVED.set(app, served);
  app.addHook('onRoute', (route) => {
    attachSchema(route);
    // Read when asked: a plugin's own onRoute hook (run after this one) may still hide its routes.
    const hide = () => (route.schema as { hide?: boolean } | undefined)?.hide === true;
    for (const method of [route.method].flat())
      served.push({
        method,
        url: route.url,
        get hidden() {
          return hide() || method === 'HEAD';
        },
      });
  });

  // Routes with Keyfactor's schemas or extension() ones (attachSchema) are validated in the
  // preValidation hook below, where the API version of the request is known (v1 and v2 bodies
  // differ), and answered with JSON.stringify; a route declaring a plain Fastify schema keeps
  // Fastify's own validation and serialisation.
  app.addHook('preValidation', async (req: FastifyRequest) => {
    const api = req.routeOptions.config.api;
    const body = req.routeOptions.schema?.body;
    if (!api || !body || req.body === undefined || req.body === null) return;
    const schema = api?.v2Body && req.apiVersion === 2 ? api.v2Body : body;
    canonicalise(req.body, schema);
    if (api?.handlerValidates) return;
    const result = bodyValidator(schema)(req.body);
    if (result !== true) throw result.error;
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.4',
      info: {
        title: 'Countersign API (Keyfactor Command Workflow and Certificates API)',
        version: opts.version,
        description:
          "Keyfactor Command's operations as Countersign serves them, with Keyfactor's schemas, plus Countersign's own extensions (tag 'Countersign extensions', marked x-countersign-extension: true). Every call under /KeyfactorAPI needs HTTP Basic credentials and the header x-keyfactor-requested-with: APIClient.",
      },
      components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } }, schemas: KEYFACTOR_COMPONENTS as Record<string, never> },
      security: [{ basic: [] }],
    },
    transform: ({ schema, url, route }) => {
      // Probes outside /KeyfactorAPI are open: no credentials in the document either.
      const open = apiPath(url) === null || url === SWAGGER_JSON_PATH;
      const s = schema as Record<string, unknown> | undefined;
      return { schema: (open && s && !s.hide ? { ...s, security: [] } : s) as typeof schema, url: route.url ?? url };
    },
  });
  await app.register(swaggerUi, {
    routePrefix: SWAGGER_UI_PATH,
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false },
  });
  app.get(SWAGGER_JSON_PATH, { schema: { hide: true } }, async () => app.swagger());
}

function attachSchema(route: RouteOptions): void {
  const s = route.schema as Record<string, unknown> | undefined;
  if (s) {
    if (s[EXTENSION_MARK] !== true) return;
    // An extension under /KeyfactorAPI needs the same headers as Keyfactor's operations.
    if (!s.headers && apiPath(route.url) !== null) route.schema = { ...s, headers: KEYFACTOR_HEADERS } as RouteOptions['schema'];
    ours(route, {});
    return;
  }
  const url = route.url;
  if (route.method === 'HEAD' || (Array.isArray(route.method) && route.method.every((m) => m === 'HEAD')) || isPage(url)) {
    route.schema = { hide: true } as RouteOptions['schema'];
    return;
  }
  const method = Array.isArray(route.method) ? route.method[0]! : route.method;
  const op = keyfactorOperation(method, url);
  if (!op) return;
  route.schema = keyfactorRouteSchema(op, url) as RouteOptions['schema'];
  ours(route, { v2Body: op.v2?.body, handlerValidates: CHECKED_BY_HANDLER.has(`${op.method} ${op.path}`) });
}

/**
 * Query strings, path parameters and headers are documented; the handlers parse them, since
 * Keyfactor's SDKs send query names in several spellings (app.ts normaliseQuery) and a malformed
 * identifier answers InvalidId. Bodies are checked by the preValidation hook. Answers are sent as
 * the handler made them: response schemas document, they never filter.
 */
function ours(route: RouteOptions, api: RouteApiConfig): void {
  route.config = { ...(route.config as object), api } as RouteOptions['config'];
  route.validatorCompiler = () => () => true;
  route.serializerCompiler = () => (data) => JSON.stringify(data);
}
