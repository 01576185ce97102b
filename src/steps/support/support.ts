import { createHash } from 'node:crypto';
import type { Json, JsonObject } from '../../domain/types.ts';
import { StepFailure } from '../../domain/step-type.ts';

/** Helpers shared by the automatic step executors. */

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Collapses whitespace and cuts text to a short, single-line excerpt for failure messages. */
export function excerpt(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/**
 * Removes every occurrence of the given secrets (plain, Base64, URL-encoded and JSON-escaped)
 * from a message. Callers pass every value that carried a secret: the secret itself, a Basic
 * `user:password` pair (masked in Base64 too), a whole Authorization header value, a token.
 */
export function redact(message: string, secrets: (string | null | undefined)[]): string {
  const forms = secrets
    .filter((s): s is string => !!s && s.length >= 3)
    .flatMap((s) => [s, Buffer.from(s).toString('base64'), encodeURIComponent(s), new URLSearchParams({ s }).toString().slice(2), JSON.stringify(s).slice(1, -1)]);
  // Longest first, so a value that contains another (a whole header) is masked whole.
  let out = message;
  for (const form of forms.sort((a, b) => b.length - a.length)) out = out.split(form).join('***');
  return out;
}

/** A string parameter's value; null for absent, null or empty. */
export function optionalString(config: JsonObject, name: string): string | null {
  const v = config[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') return stringOf(v);
  return v.trim() === '' ? null : v;
}

/** A parameter value as text: strings as they are, everything else as JSON. */
export const stringOf = (v: Json): string => (typeof v === 'string' ? v : v === null ? '' : JSON.stringify(v));

export const isJsonObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A PAM secret reference ({Provider, Parameters}) in place of a literal secret. */
export function secretValue(config: JsonObject, name: string): string | null {
  const v = config[name];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return v;
  if (isJsonObject(v) && Object.keys(v).some((k) => k.toLowerCase() === 'provider'))
    throw new StepFailure(`${name} is a PAM secret reference; this server has no PAM provider configured, so set ${name} to the secret itself.`, false);
  throw new StepFailure(`${name} must be a string.`, false);
}

/** Whether an error came from an AbortSignal (the job's deadline or a timeout). */
export const isAbort = (err: unknown): boolean =>
  err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError' || (err.cause instanceof Error && isAbort(err.cause)));

export { escapeHtml } from '../../domain/html.ts';
