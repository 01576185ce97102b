import type { Json, JsonObject } from './types.ts';

/*
 * Bounds on JSON that Countersign keeps. Both stores must be able to hold every value (PostgreSQL
 * jsonb refuses U+0000 and lone surrogates; very deep values exhaust its stack and ours), so
 * untrusted JSON is checked at the API edge and step results are normalised before they are
 * stored. Both walks are iterative (an explicit stack): depth alone can never overflow the call
 * stack.
 */

/** Containers nested deeper than this are refused: `[[1]]` is two levels. */
export const MAX_JSON_DEPTH = 64;

export interface JsonBounds {
  /** Upper bound on the UTF-8 size of the value's JSON text. */
  maxBytes: number;
  /** Upper bound on nested arrays and objects. */
  maxDepth: number;
}

export const DEFAULT_RESULT_BOUNDS: JsonBounds = { maxBytes: 256 * 1024, maxDepth: MAX_JSON_DEPTH };

const BAD_TEXT = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const BAD_TEXT_ALL = new RegExp(BAD_TEXT.source, 'g');

/** True when a string holds U+0000 or a lone surrogate (text neither store keeps as is). */
export const hasUnstorableText = (s: string): boolean => BAD_TEXT.test(s);

/** Lone surrogates and U+0000 become U+FFFD (the replacement character); other text is unchanged. */
export const wellFormedText = (s: string): string => (BAD_TEXT.test(s) ? s.replace(BAD_TEXT_ALL, '\ufffd') : s);

/**
 * What is wrong with an untrusted, parsed JSON value, or null: too deep, or text with U+0000 or a
 * lone surrogate (in values and in property names).
 */
export function jsonProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): string | null {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  while (stack.length) {
    const { v, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (hasUnstorableText(v)) return textProblem(v);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > maxDepth) return `JSON nested deeper than ${maxDepth} levels is not accepted.`;
    if (Array.isArray(v)) {
      for (const x of v) if ((x !== null && typeof x === 'object') || typeof x === 'string') stack.push({ v: x, depth: depth + 1 });
      continue;
    }
    for (const k of Object.keys(v)) {
      if (hasUnstorableText(k)) return textProblem(k);
      const x = (v as Record<string, unknown>)[k];
      if ((x !== null && typeof x === 'object') || typeof x === 'string') stack.push({ v: x, depth: depth + 1 });
    }
  }
  return null;
}

const textProblem = (s: string): string =>
  s.includes('\0') ? 'Text must not contain the NUL character (U+0000).' : 'Text must be valid Unicode: a lone surrogate (e.g. \\ud800 without its pair) is not accepted.';

export type BoundedJson = { ok: true; value: Json; repaired: number } | { ok: false; problem: string };

type Container = Json[] | JsonObject;

/**
 * Turns any value into JSON both stores can keep, within `bounds`, as JSON.stringify would see
 * it (undefined and functions dropped from objects and null in arrays, non-finite numbers null,
 * dates ISO text, bigints decimal text), with text made well-formed (`repaired` counts the
 * strings changed). Too deep or too large is refused, not truncated: a cut-off result would be
 * silently wrong. Pure; the work is bounded by maxBytes, whatever the input.
 */
export function boundJson(input: unknown, bounds: JsonBounds = DEFAULT_RESULT_BOUNDS): BoundedJson {
  let bytes = 0;
  let repaired = 0;
  const tooLarge = (): BoundedJson => ({ ok: false, problem: `it is larger than ${bounds.maxBytes} bytes as JSON` });
  /** A scalar's JSON form and size; undefined for what JSON.stringify leaves out. */
  const scalar = (v: unknown): { value: Json } | undefined => {
    if (v === null || typeof v === 'boolean') return { value: v };
    if (typeof v === 'number') return { value: Number.isFinite(v) ? v + 0 : null }; // + 0: -0 becomes 0, as its JSON text reads back
    if (typeof v === 'bigint') return { value: v.toString() };
    if (typeof v === 'string') {
      const s = wellFormedText(v);
      if (s !== v) repaired++;
      return { value: s };
    }
    if (v instanceof Date) return { value: Number.isNaN(v.getTime()) ? null : v.toISOString() };
    return undefined;
  };
  const sizeOf = (v: Json): number => (typeof v === 'string' ? Buffer.byteLength(JSON.stringify(v)) : String(v).length);
  const isContainer = (v: unknown): v is object => v !== null && typeof v === 'object' && !(v instanceof Date);
  const omitted = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';

  try {
    const root: { value: Json } = { value: null };
    const stack: { src: object; depth: number; parent: Container | typeof root; key: string | number }[] = [];
    const place = (parent: Container | typeof root, key: string | number, v: unknown, depth: number): BoundedJson | null => {
      if (typeof v === 'string' && v.length > bounds.maxBytes) return tooLarge();
      if (isContainer(v)) {
        if (depth + 1 > bounds.maxDepth) return { ok: false, problem: `it is nested deeper than ${bounds.maxDepth} levels` };
        setKey(parent, key, null);
        stack.push({ src: v, depth: depth + 1, parent, key });
        return null;
      }
      const s = scalar(v) ?? { value: null };
      bytes += sizeOf(s.value);
      setKey(parent, key, s.value);
      return bytes > bounds.maxBytes ? tooLarge() : null;
    };
    const first = place(root, 'value', input, 0);
    if (first) return first;
    while (stack.length) {
      const { src, depth, parent, key } = stack.pop()!;
      if (Array.isArray(src)) {
        bytes += 2 + Math.max(0, src.length - 1);
        if (bytes > bounds.maxBytes) return tooLarge();
        const out: Json[] = new Array(src.length).fill(null);
        setKey(parent, key, out);
        for (let i = 0; i < src.length; i++) {
          const bad = place(out, i, omitted(src[i]) ? null : src[i], depth);
          if (bad) return bad;
        }
        continue;
      }
      const entries = Object.keys(src)
        .map((k) => [k, (src as Record<string, unknown>)[k]] as const)
        .filter(([, v]) => !omitted(v));
      const out: JsonObject = {};
      bytes += 2 + Math.max(0, entries.length - 1);
      if (bytes > bounds.maxBytes) return tooLarge();
      setKey(parent, key, out);
      for (const [k, v] of entries) {
        const name = wellFormedText(k);
        if (name !== k) repaired++;
        bytes += Buffer.byteLength(JSON.stringify(name)) + 1;
        if (bytes > bounds.maxBytes) return tooLarge();
        const bad = place(out, name, v, depth);
        if (bad) return bad;
      }
    }
    return { ok: true, value: root.value, repaired };
  } catch (e) {
    // A getter or proxy in a step's result threw: refuse the value, never the process.
    return { ok: false, problem: `it could not be read (${wellFormedText(e instanceof Error ? e.message : String(e)).slice(0, 200)})` };
  }
}

/** Own data property, so a key named "__proto__" stays a key. */
function setKey(target: object, key: string | number, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
