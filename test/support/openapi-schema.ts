/**
 * The contract harness's schema half (see openapi.ts): loads Keyfactor's documents from the
 * committed contract facts, converts their OpenAPI 3.0 schemas to JSON Schema for ajv, validates a
 * value and reports properties the schema does not declare.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

export type ContractDoc = 'workflow-v1' | 'workflow-v2' | 'workflow-v10' | 'security-v1' | 'security-v2' | 'security-v10' | 'certificates-v1' | 'audit-more-v1';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

interface OpenApiResponse {
  description?: string;
  content?: Record<string, { schema?: JsonObject }>;
}
export interface OpenApiOperation {
  operationId?: string;
  responses?: Record<string, OpenApiResponse>;
  [key: string]: unknown;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonObject> };
}

const DOCS: Record<ContractDoc, { file: string; key: string }> = {
  'workflow-v1': { file: 'keyfactor-workflow.json', key: 'command-v25-api-v1' },
  'workflow-v2': { file: 'keyfactor-workflow.json', key: 'command-v25-api-v2' },
  'workflow-v10': { file: 'keyfactor-workflow.json', key: 'command-v10-javasdk-normalized' },
  'security-v1': { file: 'keyfactor-security.json', key: 'command-v25-api-v1' },
  'security-v2': { file: 'keyfactor-security.json', key: 'command-v25-api-v2' },
  'security-v10': { file: 'keyfactor-security.json', key: 'command-v10-javasdk-normalized' },
  // The certificate side (enrollment, certificates, CAs, templates, metadata fields, patterns).
  'certificates-v1': { file: 'keyfactor-certificates.json', key: 'command-v25-api-v1' },
  // The audit log, status, certificate collections and the alert schedule.
  'audit-more-v1': { file: 'keyfactor-audit-more.json', key: 'command-v25-api-v1' },
};

export const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
/** Preferred media types for the body schema, in order. */
export const JSON_MEDIA_TYPES = ['application/json', 'text/json', 'text/plain'];
const ID_BASE = 'https://countersign.invalid/keyfactor-contract/';
export const COMPONENT_PREFIX = '#/components/schemas/';

// ---------------------------------------------------------------------------------------------
// Locating and loading the contract

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Folder holding the committed contract facts (keyfactor-workflow.json etc.), inside the repository. */
export function contractDir(): string {
  return path.join(REPO_ROOT, 'test', 'contract');
}

const fileCache = new Map<string, { documents: Record<string, OpenApiDocument> }>();

export function loadDocument(doc: ContractDoc): OpenApiDocument {
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

export const docId = (doc: ContractDoc): string => `${ID_BASE}${doc}.json`;

/** Keywords whose value is a schema / a map of schemas / a list of schemas. */
const SCHEMA_KEYWORDS = new Set(['items', 'additionalProperties', 'not']);
const SCHEMA_MAP_KEYWORDS = new Set(['properties']);
const SCHEMA_LIST_KEYWORDS = new Set(['allOf', 'anyOf', 'oneOf']);
/** OpenAPI-only or annotation keywords that are dropped. */
const DROPPED_KEYWORDS = new Set(['nullable', 'example', 'readOnly', 'writeOnly', 'xml', 'externalDocs', 'discriminator']);

export function convertSchema(node: Json, doc: ContractDoc): Json {
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

export function isPlainObject(v: unknown): v is Record<string, unknown> {
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
    for (const [i, v] of value.entries()) collectUndeclared(items, itemsName, v, `${at}/${i}`, out);
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

export function preview(v: unknown): string {
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
export function runSchema(doc: ContractDoc, cacheKey: string, schema: () => Json, name: string, value: unknown): string[] {
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
