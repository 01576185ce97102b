import type { Json, JsonObject } from './types.ts';

/**
 * What tokens are resolved against: the data bucket (initial data plus variables) and metadata,
 * with the part of them the server vouches for. Trusted values are those the server set (the
 * requester's identity, request fields) and those steps wrote; everything the caller sent is
 * untrusted. Absent `trusted` means nothing is trusted.
 */
export interface TokenScope {
  data: JsonObject;
  metadata: JsonObject;
  trusted?: { data: JsonObject; metadata: JsonObject };
}

/** The scope restricted to trusted values: a token naming requester data does not resolve in it. */
export function trustedOnly(scope: TokenScope): TokenScope {
  const trusted = scope.trusted ?? { data: {}, metadata: {} };
  return { data: trusted.data, metadata: trusted.metadata, trusted };
}

const TOKEN = /\$\(([^()]+)\)/g;
const WHOLE_TOKEN = /^\$\(([^()]+)\)$/;

/** Looks one token name up; undefined when it does not resolve. */
export function lookupToken(name: string, scope: TokenScope): Json | undefined {
  // A value the server vouches for wins over anything of the same name (or shadowing dotted name)
  // the requester sent, so a token that resolves from trusted data means the same everywhere.
  if (scope.trusted && scope.trusted.data !== scope.data) {
    const t = lookupIn(name, scope.trusted);
    if (t !== undefined) return t;
  }
  return lookupIn(name, scope);
}

function lookupIn(name: string, scope: { data: JsonObject; metadata: JsonObject }): Json | undefined {
  if (name.toLowerCase().startsWith('metadata:')) {
    const field = name.slice('metadata:'.length);
    return Object.hasOwn(scope.metadata, field) ? scope.metadata[field] : undefined;
  }
  // Whole names win: data-bucket keys may contain dots, spaces and colons ("CSR:Raw").
  if (Object.hasOwn(scope.data, name)) return scope.data[name];
  const [head, ...path] = name.split('.');
  if (path.length === 0 || !Object.hasOwn(scope.data, head)) return undefined;
  let cur: Json | undefined = scope.data[head];
  for (const part of path) cur = child(cur, part);
  return cur;
}

function child(value: Json | undefined, key: string): Json | undefined {
  if (Array.isArray(value)) return /^\d+$/.test(key) ? value[Number(key)] : undefined;
  if (value !== null && typeof value === 'object') return Object.hasOwn(value, key) ? value[key] : undefined;
  if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
    // Variables stored as serialized JSON (as Keyfactor stores REST responses) are addressable too.
    try {
      return child(JSON.parse(value) as Json, key);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export const stringify = (v: Json): string => (typeof v === 'string' ? v : v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/**
 * Encodes one resolved token value for the place it lands in; `before` is the text produced so
 * far (literal parts and earlier, already encoded values), so an encoder can tell a URL's path
 * from its authority or the inside of a JSON string from a bare JSON value.
 */
export type TokenEncoder = (value: Json, before: string) => string;

/** Inserts values as text, unchanged. */
export const plainText: TokenEncoder = (v) => stringify(v);

/** Replaces every resolvable token in the text with its encoded value; unknown tokens stay as written. */
export function substituteTokens(text: string, scope: TokenScope, encode: TokenEncoder): { text: string; unresolved: string[] } {
  const unresolved: string[] = [];
  let out = '';
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    out += text.slice(last, m.index);
    last = m.index + m[0].length;
    const v = lookupToken(m[1], scope);
    if (v === undefined) {
      unresolved.push(m[1]);
      out += m[0];
    } else out += encode(v, out);
  }
  return { text: out + text.slice(last), unresolved };
}

/**
 * Replaces every resolvable token in the text; unknown tokens stay as written. `escape` encodes
 * each inserted value (HTML email bodies escape data from requests and comments).
 */
export function replaceTokens(text: string, scope: TokenScope, escapeValue: (s: string) => string = (s) => s): { text: string; unresolved: string[] } {
  return substituteTokens(text, scope, (v) => escapeValue(stringify(v)));
}

/**
 * Resolves a value that may be a single token to the token's raw JSON value (so a token holding
 * a list stays a list); any other string gets textual replacement, each value through `encode`.
 */
export function resolveValue(value: Json, scope: TokenScope, encode: TokenEncoder = plainText): Json {
  if (typeof value === 'string') {
    const m = WHOLE_TOKEN.exec(value);
    if (m) {
      const v = lookupToken(m[1], scope);
      if (v !== undefined) return v;
    }
    return substituteTokens(value, scope, encode).text;
  }
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, scope, encode));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveValue(v, scope, encode)]));
  }
  return value;
}

const tokenNames = (text: string): string[] => [...text.matchAll(TOKEN)].map((m) => m[1]);

/** Every string anywhere in a JSON value (array items, object values), in document order. */
function stringsIn(value: Json): string[] {
  const texts: string[] = [];
  const walk = (v: Json): void => {
    if (typeof v === 'string') texts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return texts;
}

/**
 * Token names in the value that resolve only from untrusted (requester) data: they resolve in the
 * full scope but not in the trusted one. Used to say why a role token or condition gave nothing.
 */
export function untrustedTokens(value: Json, scope: TokenScope): string[] {
  const texts = stringsIn(value);
  const trusted = trustedOnly(scope);
  const names = texts.flatMap(tokenNames).filter((n) => lookupToken(n, scope) !== undefined && lookupToken(n, trusted) === undefined);
  return [...new Set(names)];
}

/** Whether every token in the value resolves from trusted data alone. */
export function resolvesFromTrusted(value: Json, scope: TokenScope): boolean {
  const trusted = trustedOnly(scope);
  const texts = stringsIn(value);
  return texts.flatMap(tokenNames).every((n) => lookupToken(n, trusted) !== undefined);
}
