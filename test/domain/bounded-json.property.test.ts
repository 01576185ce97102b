import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundJson, hasUnstorableText, jsonProblem, wellFormedText, type JsonBounds } from '../../src/domain/bounded-json.ts';

/** Depth of nested containers, counted iteratively (the values under test can be very deep). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, d + 1);
    for (const x of Object.values(v)) stack.push([x, d + 1]);
  }
  return max;
}

/** Independent of the code under test: a lone surrogate does not survive a UTF-8 round trip. */
const isWellFormed = (s: string): boolean => Buffer.from(s, 'utf8').toString('utf8') === s;

function nested(levels: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < levels; i++) v = i % 2 ? { k: v } : [v];
  return v;
}

/** Strings drawn from all UTF-16 code units: lone surrogates and NUL included. */
const anyText = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 30 });
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    anyText,
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.bigInt(),
    fc.date(),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(anyText, tie('value'), { maxKeys: 6 }),
  ),
})).value;
const bounds = fc.record({ maxBytes: fc.integer({ min: 2, max: 4096 }), maxDepth: fc.integer({ min: 1, max: 8 }) });

describe('boundJson', () => {
  it('property: the output serialises, round-trips, is within the bounds and holds only well-formed text without NUL', () => {
    fc.assert(
      fc.property(anyValue, bounds, (input, b: JsonBounds) => {
        const r = boundJson(input, b);
        if (!r.ok) {
          expect(r.problem).toMatch(/larger than|nested deeper than/);
          return;
        }
        const text = JSON.stringify(r.value);
        expect(typeof text).toBe('string');
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(b.maxBytes);
        expect(depthOf(r.value)).toBeLessThanOrEqual(b.maxDepth);
        expect(hasUnstorableText(text)).toBe(false);
        expect(isWellFormed(text)).toBe(true);
        expect(JSON.parse(text)).toEqual(r.value);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: plain well-formed JSON within the bounds comes back unchanged', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (v) => {
        const text = JSON.stringify(v);
        fc.pre(!hasUnstorableText(text) && isWellFormed(text));
        const r = boundJson(v, { maxBytes: Buffer.byteLength(text), maxDepth: 64 });
        expect(r.ok && r.repaired === 0 && JSON.stringify(r.value) === text).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('the size bound is exact: the JSON text of the output may be exactly maxBytes, not one more', () => {
    const v = { a: ['x', 1.5, true, null], 'é€😀': 'ü' };
    const size = Buffer.byteLength(JSON.stringify(v));
    expect(boundJson(v, { maxBytes: size, maxDepth: 64 })).toMatchObject({ ok: true, value: v });
    expect(boundJson(v, { maxBytes: size - 1, maxDepth: 64 })).toMatchObject({ ok: false, problem: `it is larger than ${size - 1} bytes as JSON` });
  });

  it('20,000 levels deep (and a cycle) are refused without recursion; 64 levels are kept', () => {
    expect(boundJson(nested(20_000))).toEqual({ ok: false, problem: 'it is nested deeper than 64 levels' });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(boundJson(cycle).ok).toBe(false);
    const r = boundJson(nested(64));
    expect(r.ok && depthOf(r.value)).toBe(64);
  });

  it('repairs lone surrogates and NUL to U+FFFD in values and property names, keeps pairs', () => {
    const r = boundJson({ 'k\ud800': ['a\u0000b', '\udc00x\ud800', 'ok 😀'] });
    expect(r).toEqual({ ok: true, value: { 'k\ufffd': ['a\ufffdb', '\ufffdx\ufffd', 'ok 😀'] }, repaired: 3 });
    expect(wellFormedText('\ud83d\ude00\ud83d')).toBe('😀\ufffd');
  });

  it('reads values as JSON.stringify does, and keeps a "__proto__" key as data', () => {
    const r = boundJson({ u: undefined, f: () => 1, n: NaN, i: -Infinity, big: 12n, d: new Date(0), a: [undefined, () => 1] });
    expect(r).toMatchObject({ ok: true, value: { n: null, i: null, big: '12', d: '1970-01-01T00:00:00.000Z', a: [null, null] } });
    const proto = boundJson(JSON.parse('{"__proto__": {"polluted": true}}'));
    expect(proto.ok && Object.keys(proto.value as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a getter that throws is a refusal, not an exception', () => {
    const hostile = {
      get boom(): never {
        throw new Error('no');
      },
    };
    expect(boundJson(hostile)).toMatchObject({ ok: false, problem: expect.stringMatching(/could not be read/) });
  });
});

describe('jsonProblem (the API edge)', () => {
  it('names depth, NUL and lone surrogates; accepts the rest, iteratively', () => {
    expect(jsonProblem(JSON.parse('['.repeat(20_000) + ']'.repeat(20_000)))).toMatch(/deeper than 64 levels/);
    expect(jsonProblem(nested(64))).toBeNull();
    expect(jsonProblem(nested(65))).toMatch(/deeper than 64/);
    expect(jsonProblem({ a: ['x\u0000'] })).toMatch(/NUL/);
    expect(jsonProblem({ 'k\udfff': 1 })).toMatch(/lone surrogate/);
    expect(jsonProblem({ a: 'pair 😀', b: [1, null, true] })).toBeNull();
  });
});
