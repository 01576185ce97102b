import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CountersignError } from '../../domain/errors.ts';

/*
 * Request bodies are validated against the route's schema after their property names are put in
 * the schema's casing (ASP.NET binds JSON names case-insensitively, and so do we: wire.ts field()).
 * What the handlers accepted before schemas keeps being accepted: numbers and booleans may come as
 * their text ("5", "true"), enumerations by name, unknown properties are ignored. The schema checks types (of every
 * property, at every depth); presence, lengths, formats and enums are left to the handlers, whose
 * messages say more (which value to send, which step is wrong). A failure answers 400 ValidationFailed in Keyfactor's shape.
 */

type Schema = Record<string, unknown>;

const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false, coerceTypes: false, useDefaults: false, removeAdditional: false });

const WHOLE = '^\\s*-?\\d+\\s*$';
const NUMBER = '^\\s*-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?\\s*$';
const TRUE_FALSE = '^\\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\\s*$';

const isObject = (v: unknown): v is Schema => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The schema as the handlers' own parsing reads it (see above); documentation keeps the strict one. */
export function relaxed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(relaxed);
  if (!isObject(schema)) return schema;
  // A recursive component (keyfactor.generated.ts): below this depth anything is taken.
  if (typeof schema.$ref === 'string') return {};
  const out: Schema = {};
  if (isObject(schema.properties)) out.properties = Object.fromEntries(Object.entries(schema.properties).map(([p, s]) => [p, relaxed(s)]));
  if (schema.items !== undefined) out.items = relaxed(schema.items);
  if (isObject(schema.additionalProperties)) out.additionalProperties = relaxed(schema.additionalProperties);
  for (const k of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(schema[k])) out[k] = (schema[k] as unknown[]).map(relaxed);
  const types = new Set<string>(Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : []);
  if (types.size === 0) return out;
  if (schema.nullable === true) types.add('null');
  if (Array.isArray(schema.enum)) {
    // Enumerations bind from their names too ("User" for ClaimType 0), as ASP.NET's converters do.
    types.add('string');
  } else if (types.has('integer') || types.has('number') || types.has('boolean')) {
    types.add('string');
    out.pattern = types.has('boolean') ? TRUE_FALSE : types.has('integer') ? WHOLE : NUMBER;
  }
  out.type = [...types];
  return out;
}

const compiled = new WeakMap<object, ValidateFunction>();

/** A body validator for Fastify (setValidatorCompiler): no body passes, the handler says what it needs. */
/** The body validator of a schema, compiled once: no body passes (the handler says what it needs). */
export function bodyValidator(schema: unknown): (body: unknown) => { error: Error } | true {
  let v = compiled.get(schema as object);
  if (!v) {
    v = ajv.compile(relaxed(schema) as Schema);
    compiled.set(schema as object, v);
  }
  const validate = v;
  return (body) => {
    if (body === undefined || body === null) return true;
    if (validate(body)) return true;
    return { error: new CountersignError('ValidationFailed', describe(validate.errors?.[0])) };
  };
}

function describe(e: ErrorObject | undefined): string {
  if (!e) return 'The request body does not have the documented shape (see /KeyfactorAPI/swagger).';
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
  const what = path || 'The request body';
  switch (e.keyword) {
    case 'required':
      return `${path ? `${path}.` : ''}${String(e.params.missingProperty)} is required.`;
    case 'type':
    case 'pattern': {
      const t = e.keyword === 'pattern' ? (e.params.pattern === TRUE_FALSE ? 'boolean' : e.params.pattern === WHOLE ? 'integer' : 'number') : String(e.params.type);
      return `${what} must be ${expected(t)}.`;
    }
    default:
      return `${what} ${e.message ?? 'is not valid'}.`;
  }
}

function expected(type: string): string {
  if (type.includes('boolean')) return 'true or false';
  if (type.includes('integer')) return 'a whole number';
  if (type.includes('number')) return 'a number';
  if (type.includes('object')) return 'a JSON object';
  if (type.includes('array')) return 'a JSON array';
  if (type.includes('string')) return 'a string';
  return `of type ${type}`;
}

/**
 * Renames the body's properties, in place, to the casing the schema declares (matched
 * case-insensitively, an exact match winning), through nested objects and arrays. Names the schema
 * does not declare are left as they are.
 */
export function canonicalise(value: unknown, schema: unknown): void {
  if (!isObject(schema)) return;
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) canonicalise(item, schema.items);
    return;
  }
  if (!isObject(value)) return;
  const props = schema.properties;
  if (isObject(props)) {
    for (const [name, sub] of Object.entries(props)) {
      if (!Object.hasOwn(value, name)) {
        const lower = name.toLowerCase();
        const key = Object.keys(value).find((k) => k.toLowerCase() === lower && !Object.hasOwn(props, k));
        if (key !== undefined) {
          Object.defineProperty(value, name, { value: value[key], enumerable: true, writable: true, configurable: true });
          delete value[key];
        }
      }
      if (Object.hasOwn(value, name)) canonicalise(value[name], sub);
    }
  }
  if (isObject(schema.additionalProperties))
    for (const [k, v] of Object.entries(value)) if (!isObject(props) || !Object.hasOwn(props, k)) canonicalise(v, schema.additionalProperties);
}
