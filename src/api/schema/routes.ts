import { type TObject, type TSchema, Type } from '@sinclair/typebox';
import { KEYFACTOR_OPERATIONS } from './keyfactor.generated.ts';
import type { KeyfactorOperation, OperationSchemas } from './operation.ts';

/*
 * Which wire schemas a route has. A route at a path Keyfactor documents takes Keyfactor's
 * operation (keyfactor.generated.ts) unless it declares its own `schema`; anything else declares
 * `schema: extension({...})`, or `{ hide: true }` for pages meant for people. The OpenAPI document
 * test fails for a route that does neither.
 */

export const API_PREFIX = '/KeyfactorAPI';

/** The tag and marker every Countersign extension carries in the OpenAPI document. */
export const EXTENSION_TAG = 'Countersign extensions';
export const EXTENSION_MARK = 'x-countersign-extension';

export interface ExtensionSchema extends OperationSchemas {
  summary: string;
  description?: string;
  /** Media types of the answers when not JSON (e.g. text/plain). */
  produces?: string[];
  tags?: string[];
}

/** The schema of a route Keyfactor does not document: marked as Countersign's own in the document. */
export function extension(s: ExtensionSchema): ExtensionSchema & { [EXTENSION_MARK]: true } {
  return { ...s, tags: [...(s.tags ?? []), EXTENSION_TAG], [EXTENSION_MARK]: true };
}

interface Indexed {
  op: KeyfactorOperation;
  segments: string[];
}

const BY_METHOD = new Map<string, Indexed[]>();
for (const op of Object.values(KEYFACTOR_OPERATIONS)) {
  const list = BY_METHOD.get(op.method) ?? [];
  list.push({ op, segments: op.path.split('/').filter(Boolean) });
  BY_METHOD.set(op.method, list);
}

const isParam = (segment: string): boolean => segment.startsWith(':') || segment.startsWith('{');

/** The API path of a route URL (Fastify's syntax, with or without the /KeyfactorAPI prefix), or null outside the API. */
export function apiPath(url: string): string | null {
  const m = /^\/keyfactorapi(\/.*)?$/i.exec(url);
  if (!m) return null;
  return m[1] ?? '/';
}

/**
 * Keyfactor's operation for a route, matched as ASP.NET routes: literal segments
 * case-insensitively, parameters by position whatever their names.
 */
export function keyfactorOperation(method: string, url: string): KeyfactorOperation | undefined {
  const p = apiPath(url);
  if (p === null) return undefined;
  const segments = p.split('/').filter(Boolean);
  return BY_METHOD.get(method.toUpperCase())?.find(
    (c) => c.segments.length === segments.length && c.segments.every((s, i) => (isParam(s) ? isParam(segments[i]!) : s.toLowerCase() === segments[i]!.toLowerCase())),
  )?.op;
}

/** The tag an API path is listed under: its first segment, or two for /Workflow/… and /Security/…. */
export function tagOf(path: string): string {
  const s = path.split('/').filter(Boolean);
  if ((s[0] === 'Workflow' || s[0] === 'Security') && s[1] && !isParam(s[1])) return `${s[0]} ${s[1]}`;
  return s[0] ?? 'API';
}

/** The route-level `schema` for a Keyfactor operation, path parameters renamed to the route's own names (by position). */
export function keyfactorRouteSchema(op: KeyfactorOperation, url: string): Record<string, unknown> {
  const routeParams = url
    .split('/')
    .filter((s) => s.startsWith(':'))
    .map((s) => s.slice(1));
  const schema: Record<string, unknown> = {
    tags: [tagOf(op.path)],
    summary: `${op.method} ${op.path}`,
    ...(op.deprecated ? { deprecated: true } : {}),
    ...(op.querystring ? { querystring: op.querystring } : {}),
    ...(op.body ? { body: op.body } : {}),
    ...(op.response ? { response: op.response } : {}),
    'x-keyfactor-path': op.path,
  };
  if (op.headers) schema.headers = withHeaderDefaults(op.headers);
  if (op.params) {
    const kfNames = Object.keys(op.params.properties);
    const props: Record<string, TSchema> = {};
    kfNames.forEach((name, i) => {
      props[routeParams[i] ?? name] = op.params!.properties[name]!;
    });
    schema.params = { ...op.params, properties: props, required: Object.keys(props) };
  }
  if (op.v2) schema.description = `x-keyfactor-api-version: 2 selects Keyfactor's v2 shapes for this operation (see ${op.source} v2 in Keyfactor's reference).`;
  return schema;
}

/** The schema Keyfactor documents for one answer of an operation, for extensions that answer a Keyfactor shape. */
export function keyfactorShape(operation: string, status = 200): TSchema {
  const s = KEYFACTOR_OPERATIONS[operation]?.response?.[status];
  if (!s) throw new Error(`Keyfactor documents no ${status} answer for ${operation}`);
  return s;
}

/** A documented answer without a body (204, or statuses an extension wants listed). */
export const NoContent = (description = 'No Content'): TSchema => Type.Null({ description });

/** An object whose properties are free-form (InitialData, SANs maps). */
export const FreeObject = (description?: string): TSchema => Type.Object({}, { additionalProperties: true, ...(description ? { description } : {}) });

/** The request body Keyfactor documents for an operation, for extensions that take the same shape. */
export function keyfactorBody(operation: string): TSchema {
  const s = KEYFACTOR_OPERATIONS[operation]?.body;
  if (!s) throw new Error(`Keyfactor documents no request body for ${operation}`);
  return s;
}

/**
 * The headers every call under /KeyfactorAPI sends, as Keyfactor documents them; the default
 * fills Swagger UI's form with the value Keyfactor's SDKs send.
 */
export const KEYFACTOR_HEADERS = Type.Object({
  'x-keyfactor-requested-with': Type.String({ default: 'APIClient', description: 'APIClient or XMLHttpRequest' }),
  'x-keyfactor-api-version': Type.Optional(Type.String({ description: '2 selects the v2 shapes where Keyfactor has them' })),
});

function withHeaderDefaults(headers: TObject): TObject {
  const props = { ...headers.properties };
  const rw = props['x-keyfactor-requested-with'];
  if (rw) props['x-keyfactor-requested-with'] = { ...rw, default: 'APIClient' };
  return { ...headers, properties: props };
}
