import { fail } from '../domain/errors.ts';
import type { Json, JsonObject } from '../domain/types.ts';

/*
 * Reading Keyfactor wire shapes. Input property names are matched case-insensitively (ASP.NET
 * binds them that way); values keep their exact content.
 */

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function asObject(body: unknown, what = 'The request body'): JsonObject {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) fail('ValidationFailed', `${what} must be a JSON object.`);
  return body as JsonObject;
}

export function asArray(body: unknown, what = 'The request body'): Json[] {
  if (!Array.isArray(body)) fail('ValidationFailed', `${what} must be a JSON array.`);
  return body as Json[];
}

/** The value of a property matched case-insensitively; undefined when absent. */
export function field(obj: JsonObject, name: string): Json | undefined {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

interface StrOpts {
  required?: boolean;
  max?: number;
  nonEmpty?: boolean;
}

export function str(obj: JsonObject, name: string, opts: StrOpts = {}): string | null {
  const v = field(obj, name);
  if (v === undefined || v === null) {
    if (opts.required) fail('ValidationFailed', `${name} is required.`);
    return null;
  }
  if (typeof v !== 'string') fail('ValidationFailed', `${name} must be a string.`);
  const s = v as string;
  if (opts.nonEmpty && s.trim() === '') fail('ValidationFailed', `${name} must not be empty.`);
  if (opts.max !== undefined && s.length > opts.max) fail('ValidationFailed', `${name} must be at most ${opts.max} characters.`);
  return s;
}

export function bool(obj: JsonObject, name: string): boolean | null {
  const v = field(obj, name);
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  return fail('ValidationFailed', `${name} must be true or false.`);
}

export function int(obj: JsonObject, name: string, opts: { required?: boolean; min?: number } = {}): number | null {
  const v = field(obj, name);
  if (v === undefined || v === null) {
    if (opts.required) fail('ValidationFailed', `${name} is required.`);
    return null;
  }
  const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) fail('ValidationFailed', `${name} must be a whole number.`);
  if (opts.min !== undefined && (n as number) < opts.min) fail('ValidationFailed', `${name} must be at least ${opts.min}.`);
  return n as number;
}

export function guid(value: string | undefined, what: string): string {
  if (!value || !GUID.test(value)) fail('InvalidId', `${what} '${value ?? ''}' is not a GUID (expected the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).`);
  return value!.toLowerCase();
}

export function intParam(value: string | undefined, what: string): number {
  if (!value || !/^\d{1,9}$/.test(value)) fail('InvalidId', `${what} '${value ?? ''}' is not a positive whole number.`);
  return Number(value);
}

/** Query-string values after normalisation (see app.ts): lower-cased names without prefixes. */
export type Query = Record<string, string | undefined>;

export function queryInt(q: Query, name: string, dflt: number, min: number, max: number): number {
  const raw = q[name.toLowerCase()];
  if (raw === undefined || raw === '') return dflt;
  if (!/^-?\d+$/.test(raw)) fail('ValidationFailed', `${name} must be a whole number.`);
  const n = Number(raw);
  if (n < min || n > max) fail('ValidationFailed', `${name} must be between ${min} and ${max}.`);
  return n;
}

export function queryBool(q: Query, name: string): boolean {
  const raw = q[name.toLowerCase()];
  if (raw === undefined || raw === '') return false;
  if (!/^(true|false|0|1)$/i.test(raw)) fail('ValidationFailed', `${name} must be true or false.`);
  return raw.toLowerCase() === 'true' || raw === '1';
}
