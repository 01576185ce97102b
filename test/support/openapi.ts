/**
 * Contract harness: checks HTTP responses against Keyfactor Command's published OpenAPI
 * documents (shared/keyfactor/openapi-*.json, see shared/keyfactor/README.md).
 *
 * The documents are OpenAPI 3.0; they are converted to JSON Schema for ajv:
 *  - `nullable: true` beside a `type` becomes a type list with "null" (and null joins `enum`);
 *  - a bare `nullable` (no `type`, e.g. `additionalProperties: {nullable: true}`) is dropped;
 *  - `nullable: true` beside a `$ref` becomes `anyOf: [$ref, {type: null}]`;
 *  - `items` without `type` (the v10 Java-SDK document does this for every list) implies an array;
 *  - `$ref: '#/components/...'` is rewritten to an absolute URI of the converted document,
 *    which is registered with ajv once under its own `$id`.
 * On top of the schema, any property the schema does not declare is reported, so that
 * field-name typos (`DisplayNAme`) fail even where a schema lacks `additionalProperties: false`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

export type ContractDoc =
  | 'workflow-v1'
  | 'workflow-v2'
  | 'workflow-v10'
  | 'security-v1'
  | 'security-v2'
  | 'security-v10'
  | 'certificates-v1';

export interface ResponseUnderTest {
  doc: ContractDoc;
  method: string;
  /** The real request URL, e.g. `/KeyfactorAPI/Workflow/Instances/6f1c...?QueryString=x`. */
  url: string;
  status: number;
  /** The parsed body (undefined / null / '' for none). */
  body: unknown;
  /** The response's Content-Type header, if known; checked against the documented media types. */
  contentType?: string;
}

export interface MatchedOperation {
  /** The path template as written in the contract, e.g. `/Workflow/Definitions/{definitionId}`. */
  template: string;
  method: string;
  operation: OpenApiOperation;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface OpenApiResponse {
  description?: string;
  content?: Record<string, { schema?: JsonObject }>;
}
interface OpenApiOperation {
  operationId?: string;
  responses?: Record<string, OpenApiResponse>;
  [key: string]: unknown;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonObject> };
}

const DOCS: Record<ContractDoc, { file: string; key: string }> = {
  'workflow-v1': { file: 'openapi-workflow.json', key: 'command-v25-api-v1' },
  'workflow-v2': { file: 'openapi-workflow.json', key: 'command-v25-api-v2' },
  'workflow-v10': { file: 'openapi-workflow.json', key: 'command-v10-javasdk-normalized' },
  'security-v1': { file: 'openapi-security.json', key: 'command-v25-api-v1' },
  'security-v2': { file: 'openapi-security.json', key: 'command-v25-api-v2' },
  'security-v10': { file: 'openapi-security.json', key: 'command-v10-javasdk-normalized' },
  // The certificate side (enrollment, certificates, CAs, templates, metadata fields, patterns).
  'certificates-v1': { file: 'openapi-certificates.json', key: 'command-v25-api-v1' },
};

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
/** Preferred media types for the body schema, in order. */
const JSON_MEDIA_TYPES = ['application/json', 'text/json', 'text/plain'];
const ID_BASE = 'https://countersign.invalid/keyfactor-contract/';
const COMPONENT_PREFIX = '#/components/schemas/';

// ---------------------------------------------------------------------------------------------
// Locating and loading the contract

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Folder holding openapi-workflow.json etc.: $KEYFACTOR_CONTRACT_DIR, else ../shared/keyfactor beside the repo. */
export function contractDir(): string {
  const override = process.env.KEYFACTOR_CONTRACT_DIR;
  return override ? path.resolve(override) : path.resolve(REPO_ROOT, '../shared/keyfactor');
}

const fileCache = new Map<string, { documents: Record<string, OpenApiDocument> }>();

function loadDocument(doc: ContractDoc): OpenApiDocument {
  const spec = DOCS[doc];
  if (!spec) throw new Error(`unknown contract document '${String(doc)}'`);
  const file = path.join(contractDir(), spec.file);
  let parsed = fileCache.get(file);
  if (!parsed) {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as { documents: Record<string, OpenApiDocument> };
    fileCache.set(file, parsed);
  }
  const document = parsed.documents?.[spec.key];
  if (!document) throw new Error(`${file} has no documents['${spec.key}']`);
  return document;
}

// ---------------------------------------------------------------------------------------------
// OpenAPI 3.0 -> JSON Schema

const docId = (doc: ContractDoc): string => `${ID_BASE}${doc}.json`;

/** Keywords whose value is a schema / a map of schemas / a list of schemas. */
const SCHEMA_KEYWORDS = new Set(['items', 'additionalProperties', 'not']);
const SCHEMA_MAP_KEYWORDS = new Set(['properties']);
const SCHEMA_LIST_KEYWORDS = new Set(['allOf', 'anyOf', 'oneOf']);
/** OpenAPI-only or annotation keywords that are dropped. */
const DROPPED_KEYWORDS = new Set(['nullable', 'example', 'readOnly', 'writeOnly', 'xml', 'externalDocs', 'discriminator']);

function convertSchema(node: Json, doc: ContractDoc): Json {
  if (Array.isArray(node)) return node.map((n) => convertSchema(n, doc));
  if (node === null || typeof node !== 'object') return node;

  const nullable = node.nullable === true;
  if (typeof node.$ref === 'string') {
    // OpenAPI 3.0: siblings of $ref are ignored.
    const ref: Json = { $ref: node.$ref.startsWith('#') ? docId(doc) + node.$ref : node.$ref };
    return nullable ? { anyOf: [ref, { type: 'null' }] } : ref;
  }

  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYWORDS.has(key) || key.startsWith('x-')) continue;
    if (SCHEMA_KEYWORDS.has(key) && value !== null && typeof value === 'object') {
      out[key] = convertSchema(value, doc);
    } else if (SCHEMA_MAP_KEYWORDS.has(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convertSchema(v, doc)]));
    } else if (SCHEMA_LIST_KEYWORDS.has(key) && Array.isArray(value)) {
      out[key] = value.map((v) => convertSchema(v, doc));
    } else {
      out[key] = value;
    }
  }
  if (out.type === undefined && out.items !== undefined) out.type = 'array';
  if (nullable && out.type !== undefined) {
    const types = Array.isArray(out.type) ? out.type : [out.type];
    if (!types.includes('null')) out.type = [...types, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  }
  return out;
}

const convertedDocs = new Map<ContractDoc, JsonObject>();

function convertedDocument(doc: ContractDoc): JsonObject {
  let converted = convertedDocs.get(doc);
  if (!converted) {
    const schemas = loadDocument(doc).components?.schemas ?? {};
    converted = {
      $id: docId(doc),
      components: {
        schemas: Object.fromEntries(Object.entries(schemas).map(([name, s]) => [name, convertSchema(s, doc)])),
      },
    };
    convertedDocs.set(doc, converted);
  }
  return converted;
}

let ajvInstance: Ajv | undefined;
const registered = new Set<ContractDoc>();

function ajvFor(doc: ContractDoc): Ajv {
  if (!ajvInstance) {
    ajvInstance = new Ajv({ allErrors: true, strict: false });
    addFormatsModule.default(ajvInstance, ['uuid', 'date-time', 'date', 'time', 'uri', 'email']);
    ajvInstance.addFormat('int32', {
      type: 'number',
      validate: (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647,
    });
    ajvInstance.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    ajvInstance.addFormat('float', { type: 'number', validate: () => true });
    ajvInstance.addFormat('double', { type: 'number', validate: () => true });
  }
  if (!registered.has(doc)) {
    ajvInstance.addSchema(convertedDocument(doc));
    registered.add(doc);
  }
  return ajvInstance;
}

const validatorCache = new Map<string, ValidateFunction>();

function validatorFor(doc: ContractDoc, cacheKey: string, schema: () => Json): ValidateFunction {
  const key = `${doc}|${cacheKey}`;
  let validate = validatorCache.get(key);
  if (!validate) {
    const ajv = ajvFor(doc);
    validate = ajv.compile(schema() as object);
    validatorCache.set(key, validate);
  }
  return validate;
}

// ---------------------------------------------------------------------------------------------
// Undeclared properties

/** Resolves an absolute `$ref` produced by convertSchema. */
function resolveRef(ref: string): { schema: JsonObject; name: string } {
  const hash = ref.indexOf('#');
  const base = ref.slice(0, hash);
  const doc = (Object.keys(DOCS) as ContractDoc[]).find((d) => docId(d) === base);
  if (!doc) throw new Error(`unresolvable $ref ${ref}`);
  let node: Json = convertedDocument(doc);
  const pointer = decodeURIComponent(ref.slice(hash + 1));
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !(part in node)) {
      throw new Error(`unresolvable $ref ${ref}`);
    }
    node = node[part] as Json;
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node)) throw new Error(`$ref ${ref} is not a schema`);
  const name = pointer.startsWith('/components/schemas/') ? pointer.slice('/components/schemas/'.length) : pointer;
  return { schema: node, name };
}

/** The schema itself plus everything reachable through $ref / allOf / anyOf / oneOf, refs resolved. */
function flatten(schema: Json, name: string, seen = new Set<JsonObject>()): Array<{ schema: JsonObject; name: string }> {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return [];
  let current: JsonObject = schema;
  let currentName = name;
  while (typeof current.$ref === 'string') {
    const resolved = resolveRef(current.$ref);
    current = resolved.schema;
    currentName = resolved.name;
  }
  if (seen.has(current)) return [];
  seen.add(current);
  const parts = [{ schema: current, name: currentName }];
  for (const key of SCHEMA_LIST_KEYWORDS) {
    const list = current[key];
    if (Array.isArray(list)) for (const sub of list) parts.push(...flatten(sub, currentName, seen));
  }
  return parts;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function pointerPart(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

function collectUndeclared(schema: Json, name: string, value: unknown, at: string, out: string[]): void {
  if (value === null || typeof value !== 'object') return;
  const parts = flatten(schema, name);
  if (Array.isArray(value)) {
    const items = parts.map((p) => p.schema.items).find((i) => i !== undefined && typeof i === 'object');
    if (items === undefined) return;
    const itemsName = parts.find((p) => p.schema.items === items)?.name ?? name;
    value.forEach((v, i) => collectUndeclared(items, itemsName, v, `${at}/${i}`, out));
    return;
  }
  const declared = new Map<string, { schema: Json; name: string }>();
  let additional: { schema: Json; name: string } | undefined;
  let closed = false;
  for (const part of parts) {
    if (isPlainObject(part.schema.properties)) {
      for (const [k, v] of Object.entries(part.schema.properties as JsonObject)) {
        if (!declared.has(k)) declared.set(k, { schema: v, name: part.name });
      }
    }
    const ap = part.schema.additionalProperties;
    if (ap === false) closed = true;
    else if (isPlainObject(ap) && !additional) additional = { schema: ap as JsonObject, name: part.name };
  }
  const owner = parts.find((p) => isPlainObject(p.schema.properties))?.name ?? name;
  for (const [key, child] of Object.entries(value)) {
    const childAt = `${at}/${pointerPart(key)}`;
    const prop = declared.get(key);
    if (prop) collectUndeclared(prop.schema, prop.name, child, childAt, out);
    else if (additional) collectUndeclared(additional.schema, additional.name, child, childAt, out);
    else if (declared.size > 0 || closed) {
      out.push(`body${at}: undeclared property "${key}" (not in ${owner})`);
    }
    // else: a free-form object (no declared properties): anything goes.
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function preview(v: unknown): string {
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function formatAjvError(e: ErrorObject, body: unknown): string {
  const where = `body${e.instancePath}`;
  let extra = '';
  if (e.keyword === 'enum') extra = ` (allowed: ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')})`;
  if (e.keyword !== 'required') extra += `, got ${preview(valueAt(body, e.instancePath))}`;
  return `${where}: ${e.message ?? e.keyword}${extra}`;
}

/** Validates `value` against `schema` (already converted); returns problems. */
function runSchema(doc: ContractDoc, cacheKey: string, schema: () => Json, name: string, value: unknown): string[] {
  let validate: ValidateFunction;
  try {
    validate = validatorFor(doc, cacheKey, schema);
  } catch (err) {
    return [`contract error: cannot compile schema ${name}: ${(err as Error).message}`];
  }
  const problems: string[] = [];
  if (!validate(value)) {
    for (const e of validate.errors ?? []) {
      // Undeclared properties are reported below (with the schema name), uniformly for every document.
      if (e.keyword === 'additionalProperties') continue;
      // A failed anyOf only repeats its branches' errors (the nullable-$ref wrapper).
      if (e.keyword === 'anyOf') continue;
      problems.push(formatAjvError(e, value));
    }
  }
  try {
    collectUndeclared(schema(), name, value, '', problems);
  } catch (err) {
    problems.push(`contract error: ${(err as Error).message}`);
  }
  return [...new Set(problems)];
}

/** Strips scheme/host, the /KeyfactorAPI base path, query string and fragment. */
export function contractPath(url: string): string {
  let p = url;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) p = new URL(p).pathname;
  p = p.replace(/[?#].*$/s, '');
  p = p.replace(/^\/keyfactorapi(?=\/|$)/i, '');
  if (!p.startsWith('/')) p = `/${p}`;
  if (p.length > 1) p = p.replace(/\/+$/, '');
  return p;
}

function segmentMatcher(templateSegment: string): { literal: boolean; re: RegExp } {
  if (!templateSegment.includes('{')) {
    return { literal: true, re: new RegExp(`^${escapeRe(templateSegment)}$`, 'i') };
  }
  const src = templateSegment
    .split(/(\{[^}]+\})/)
    .map((chunk) => (chunk.startsWith('{') ? '[^/]+' : escapeRe(chunk)))
    .join('');
  return { literal: false, re: new RegExp(`^${src}$`, 'i') };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Finds the operation for a request. Among templates that match the path and have the method,
 * the one with a literal segment earliest (where they differ) wins, as in ASP.NET routing.
 */
export function findOperation(doc: ContractDoc, method: string, url: string): MatchedOperation | { error: string } {
  const document = loadDocument(doc);
  const reqPath = contractPath(url);
  const reqSegments = reqPath.split('/').slice(1).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  const m = method.toLowerCase();
  const candidates: Array<{ template: string; score: number[] }> = [];
  for (const template of Object.keys(document.paths)) {
    const tSegments = template.split('/').slice(1);
    if (tSegments.length !== reqSegments.length) continue;
    const score: number[] = [];
    let ok = true;
    for (let i = 0; i < tSegments.length && ok; i++) {
      const { literal, re } = segmentMatcher(tSegments[i]!);
      ok = re.test(reqSegments[i]!);
      score.push(literal ? 1 : 0);
    }
    if (ok) candidates.push({ template, score });
  }
  if (candidates.length === 0) return { error: `no path in ${doc} matches ${reqPath} (from ${url})` };
  const withMethod = candidates.filter((c) => HTTP_METHODS.has(m) && document.paths[c.template]?.[m]);
  if (withMethod.length === 0) {
    const available = candidates
      .map((c) => `${c.template}: ${Object.keys(document.paths[c.template] ?? {}).filter((k) => HTTP_METHODS.has(k)).map((k) => k.toUpperCase()).join(', ')}`)
      .join('; ');
    return { error: `no ${method.toUpperCase()} operation in ${doc} for ${reqPath} (${available})` };
  }
  withMethod.sort((a, b) => {
    for (let i = 0; i < a.score.length; i++) if (a.score[i] !== b.score[i]) return b.score[i]! - a.score[i]!;
    return 0;
  });
  const best = withMethod[0]!;
  return { template: best.template, method: m.toUpperCase(), operation: document.paths[best.template]![m]! };
}

function isEmptyBody(body: unknown): boolean {
  return body === undefined || body === null || body === '';
}

function mediaType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/** Validates one response against the contract. Returns human-readable problems (empty = valid). */
export function checkResponse(r: ResponseUnderTest): string[] {
  const found = findOperation(r.doc, r.method, r.url);
  if ('error' in found) return [found.error];
  const label = `${found.method} ${found.template}`;
  const status = r.status;

  if (status >= 400 && status < 600) return checkErrorBody(r.body);
  if (status < 200 || status >= 300) return [`status ${status} is not a success or error status (${label})`];

  const responses = found.operation.responses ?? {};
  const documented = Object.keys(responses);
  const response = responses[String(status)] ?? responses['2XX'] ?? responses['2xx'] ?? responses.default;
  if (!response) {
    const successes = documented.filter((s) => /^2/.test(s));
    if (status === 204 && successes.includes('200')) {
      return [`status 204 No Content, but the contract documents only ${successes.join(', ')} (with a body) for ${label}`];
    }
    if (successes.length === 1 && successes[0] === '204') {
      return [`status ${status}, but the contract documents 204 No Content for ${label}`];
    }
    return [`status ${status} is not documented for ${label} (documented: ${documented.join(', ') || 'none'})`];
  }

  const content = response.content ?? {};
  const mediaTypes = Object.keys(content);
  if (status === 204 || mediaTypes.length === 0) {
    return isEmptyBody(r.body)
      ? []
      : [`status ${status} for ${label} must have no body, got ${preview(r.body)}`];
  }

  const problems: string[] = [];
  if (r.contentType) {
    const actual = mediaType(r.contentType);
    if (!mediaTypes.some((t) => t.toLowerCase() === actual)) {
      problems.push(`content type ${actual} is not documented for ${label} (documented: ${mediaTypes.join(', ')})`);
    }
  }
  const chosen =
    JSON_MEDIA_TYPES.find((t) => content[t]?.schema !== undefined) ??
    mediaTypes.find((t) => /json/i.test(t) && content[t]?.schema !== undefined);
  if (!chosen) {
    problems.push(`contract error: no JSON schema documented for ${status} of ${label}`);
    return problems;
  }
  const raw = content[chosen]!.schema!;
  const name = typeof raw.$ref === 'string' && raw.$ref.startsWith(COMPONENT_PREFIX)
    ? raw.$ref.slice(COMPONENT_PREFIX.length)
    : `${status} response of ${label}`;
  let converted: Json | undefined;
  const schema = (): Json => (converted ??= convertSchema(raw, r.doc));
  problems.push(...runSchema(r.doc, `${label}|${status}|${chosen}`, schema, name, r.body));
  return problems;
}

/** Throws an Error listing the problems (for use in tests). */
export function expectValidResponse(r: ResponseUnderTest): void {
  const problems = checkResponse(r);
  if (problems.length > 0) {
    throw new Error(
      `${r.method.toUpperCase()} ${r.url} -> ${r.status} does not match the Keyfactor contract (${r.doc}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}

/** Keyfactor error shape for any 4xx: {ErrorCode: non-empty string, Message: non-empty string}, no other required fields. */
export function checkErrorBody(body: unknown): string[] {
  if (!isPlainObject(body)) return [`error body must be a JSON object {ErrorCode, Message}, got ${preview(body)}`];
  const problems: string[] = [];
  for (const field of ['ErrorCode', 'Message'] as const) {
    const v = body[field];
    if (typeof v !== 'string' || v.trim() === '') {
      problems.push(`error body: ${field} must be a non-empty string, got ${preview(v)}`);
    }
  }
  return problems;
}

/**
 * Validates a value against one named component schema (e.g. for request bodies).
 * `schemaName` is the full component name or a unique suffix after a dot (`InstanceResponse`).
 */
export function checkSchema(doc: ContractDoc, schemaName: string, value: unknown): string[] {
  const name = schemaNameFor(doc, schemaName);
  const ref = `${COMPONENT_PREFIX}${name}`;
  return runSchema(doc, `schema|${name}`, () => ({ $ref: docId(doc) + ref }), name, value);
}

/** The full component name for a full name or unique `.Suffix` (throws if unknown or ambiguous). */
export function schemaNameFor(doc: ContractDoc, schemaName: string): string {
  const names = Object.keys(loadDocument(doc).components?.schemas ?? {});
  if (names.includes(schemaName)) return schemaName;
  const matches = names.filter((n) => n.endsWith(`.${schemaName}`));
  if (matches.length === 1) return matches[0]!;
  throw new Error(
    matches.length === 0
      ? `no schema named ${schemaName} in ${doc}`
      : `schema name ${schemaName} is ambiguous in ${doc}: ${matches.join(', ')}`,
  );
}
