import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conditionHolds, stepShouldRun } from '../../src/domain/conditions.ts';
import { lookupToken, replaceTokens, resolveValue, type TokenScope } from '../../src/domain/tokens.ts';
import type { Json, JsonObject, StepDef } from '../../src/domain/types.ts';

/*
 * Token replacement ($(name), $(Var.a.b), $(metadata:X)) and condition evaluation, checked
 * against a small model of the documented rules (api-notes section 9).
 */

/** The documented text form of a value: strings as is, null as nothing, objects and lists as JSON. */
const textOf = (v: Json): string => (typeof v === 'string' ? v : v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

// Literal text never contains '(' so it can never form a token with its neighbours; it may contain '$' and ')'.
const literalArb = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '.', ':', '$', ')', '&', '`', "'", '\n', 'é', '{', '}'), maxLength: 8 });
const knownNameArb = fc.stringMatching(/^k_[A-Za-z0-9 _:-]{0,6}$/);
const unknownNameArb = fc.stringMatching(/^u_[A-Za-z0-9 _-]{0,6}$/);
// Values that could trip a naive implementation: '$&' and '$1' (String.replace patterns), nested '$(...)'.
const trickyStringArb = fc.string({ unit: fc.constantFrom('a', '$', '(', ')', '&', '1', '`', "'", ' ', 'k', '_'), maxLength: 10 });
const leafArb: fc.Arbitrary<Json> = fc.oneof(
  fc.string({ maxLength: 10 }),
  trickyStringArb,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.stringMatching(/^[a-z]{1,4}$/), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

const emptyScope: TokenScope = { data: {}, metadata: {} };

describe('replaceTokens', () => {
  it('leaves text without "$(" unchanged and reports nothing', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('$(')),
        fc.dictionary(fc.string({ maxLength: 5 }), leafArb),
        (text, data) => {
          expect(replaceTokens(text, { data, metadata: data })).toEqual({ text, unresolved: [] });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('replaces known tokens by their text, keeps unknown ones literally and reports them in order', () => {
    type Seg = { lit: string } | { known: number } | { unknown: string };
    const arb = fc.uniqueArray(knownNameArb, { minLength: 1, maxLength: 4 }).chain((names) =>
      fc.tuple(
        fc.constant(names),
        fc.array(leafArb, { minLength: names.length, maxLength: names.length }),
        fc.array(
          fc.oneof(
            literalArb.map((lit): Seg => ({ lit })),
            fc.nat({ max: names.length - 1 }).map((known): Seg => ({ known })),
            unknownNameArb.map((unknown): Seg => ({ unknown })),
          ),
          { maxLength: 8 },
        ),
      ),
    );
    fc.assert(
      fc.property(arb, ([names, values, segs]) => {
        const data: JsonObject = Object.fromEntries(names.map((n, i) => [n, values[i]]));
        const text = segs.map((s) => ('lit' in s ? s.lit : 'known' in s ? `$(${names[s.known]})` : `$(${s.unknown})`)).join('');
        const want = segs.map((s) => ('lit' in s ? s.lit : 'known' in s ? textOf(values[s.known]) : `$(${s.unknown})`)).join('');
        const unresolved = segs.flatMap((s) => ('unknown' in s ? [s.unknown] : []));
        expect(replaceTokens(text, { data, metadata: {} })).toEqual({ text: want, unresolved });
      }),
      { numRuns: 500 },
    );
  });

  it('$(Var.a.b) descends into objects, lists and JSON-encoded strings', () => {
    const arb = fc.record({
      path: fc.array(fc.oneof(fc.stringMatching(/^[a-z]{1,5}$/), fc.nat({ max: 3 })), { minLength: 1, maxLength: 4 }),
      encoded: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      leaf: leafArb,
      around: fc.tuple(literalArb, literalArb),
    });
    fc.assert(
      fc.property(arb, ({ path, encoded, leaf, around }) => {
        // Build Var so that Var.path[0].path[1]... is leaf; each level is either a value or its JSON text.
        let v: Json = leaf;
        for (let i = path.length - 1; i >= 0; i--) {
          const seg = path[i];
          const container: Json = typeof seg === 'number' ? [...Array<Json>(seg).fill('pad'), v] : { [seg]: v };
          v = encoded[i] ? JSON.stringify(container) : container;
        }
        const scope: TokenScope = { data: { Var: v, Other: 'x' }, metadata: {} };
        const name = `Var.${path.join('.')}`;
        expect(lookupToken(name, scope)).toEqual(leaf);
        expect(resolveValue(`$(${name})`, scope)).toEqual(leaf);
        expect(replaceTokens(`${around[0]}$(${name})${around[1]}`, scope)).toEqual({ text: `${around[0]}${textOf(leaf)}${around[1]}`, unresolved: [] });
        // A path that does not exist (generated segments are at most 5 letters) stays unresolved.
        expect(replaceTokens(`$(${name}.zzzzzz)`, scope)).toEqual({ text: `$(${name}.zzzzzz)`, unresolved: [`${name}.zzzzzz`] });
      }),
      { numRuns: 500 },
    );
  });

  it('whole data-bucket names win over dotted paths', () => {
    const scope: TokenScope = { data: { 'CSR:Raw': 'abc', 'a.b': 'whole', a: { b: 'nested' }, 'approval signal cmnts': 'ok' }, metadata: {} };
    expect(replaceTokens('$(CSR:Raw) $(a.b) $(approval signal cmnts)', scope).text).toBe('abc whole ok');
    expect(lookupToken('a.b', { data: { a: { b: 'nested' } }, metadata: {} })).toBe('nested');
    expect(lookupToken('a.b', { data: { a: '{"b": [1, 2]}' }, metadata: {} })).toEqual([1, 2]);
    expect(lookupToken('a.b', { data: { a: '{not json' }, metadata: {} })).toBeUndefined();
    expect(lookupToken('a.1', { data: { a: '[10, 20]' }, metadata: {} })).toBe(20);
  });

  it('$(metadata:X) reads metadata, not the data bucket', () => {
    const arb = fc.record({
      field: fc.stringMatching(/^[A-Za-z][A-Za-z0-9 _]{0,8}$/),
      value: leafArb,
      dataValue: leafArb,
      present: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, ({ field, value, dataValue, present }) => {
        const scope: TokenScope = { data: { [field]: dataValue, [`metadata:${field}`]: dataValue }, metadata: present ? { [field]: value } : {} };
        const r = replaceTokens(`<$(metadata:${field})>`, scope);
        if (present) expect(r).toEqual({ text: `<${textOf(value)}>`, unresolved: [] });
        else expect(r).toEqual({ text: `<$(metadata:${field})>`, unresolved: [`metadata:${field}`] });
        expect(resolveValue(`$(metadata:${field})`, scope)).toEqual(present ? value : `$(metadata:${field})`);
      }),
      { numRuns: 300 },
    );
  });
});

describe('resolveValue', () => {
  it('keeps the raw value of a single whole token (a list stays a list); anything else is text', () => {
    fc.assert(
      fc.property(
        knownNameArb,
        leafArb,
        literalArb.filter((s) => s !== ''),
        (name, value, lit) => {
          const scope: TokenScope = { data: { [name]: value }, metadata: {} };
          expect(resolveValue(`$(${name})`, scope)).toEqual(value);
          expect(resolveValue(`${lit}$(${name})`, scope)).toBe(`${lit}${textOf(value)}`);
          // Containers are resolved element by element; non-strings pass through.
          expect(resolveValue([`$(${name})`, 7, true, null, { x: `$(${name})` }], scope)).toEqual([value, 7, true, null, { x: value }]);
          // An unresolved whole token stays literally.
          expect(resolveValue('$(u_nothing)', scope)).toBe('$(u_nothing)');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('role-token style lists survive', () => {
    const scope: TokenScope = { data: { approvers: [3, 4], 'approval roles': '["a","b"]' }, metadata: {} };
    expect(resolveValue('$(approvers)', scope)).toEqual([3, 4]);
    expect(resolveValue(['$(approvers)'], scope)).toEqual([[3, 4]]);
    expect(resolveValue('$(approval roles)', scope)).toBe('["a","b"]');
  });
});

describe('conditions', () => {
  const TOKEN_VALUES: Json[] = ['true', 'TRUE', 'True', ' tRuE ', '\ttrue\n', 'false', 'yes', '1', '', 'truee', 'true true', true, false, 1, 0, null, ['true'], { v: 'true' }];

  /** Model: replacement as text, except that a whole resolvable token keeps its raw value. */
  function holdsModel(parts: ({ lit: string } | { tok: string })[], scope: TokenScope): boolean {
    const resolved = (name: string): Json | undefined => (Object.hasOwn(scope.data, name) ? scope.data[name] : undefined);
    if (parts.length === 1 && 'tok' in parts[0] && resolved(parts[0].tok) !== undefined) {
      const raw = resolved(parts[0].tok)!;
      return raw === true || (typeof raw === 'string' && raw.trim().toLowerCase() === 'true');
    }
    const text = parts.map((p) => ('lit' in p ? p.lit : resolved(p.tok) === undefined ? `$(${p.tok})` : textOf(resolved(p.tok)!))).join('');
    return text.trim().toLowerCase() === 'true';
  }

  it('hold exactly for boolean true or text equal to "true" ignoring case and surrounding whitespace, after replacement', () => {
    const partArb = fc.oneof(
      fc.constantFrom('', ' ', 'true', 'TRUE', 'tr', 'ue', 'True ', ' \t', 'false', 'x').map((lit) => ({ lit })),
      fc.constantFrom('a', 'b', 'c', 'missing').map((tok) => ({ tok })),
    );
    const arb = fc.record({
      parts: fc.array(partArb, { minLength: 1, maxLength: 4 }),
      a: fc.constantFrom(...TOKEN_VALUES),
      b: fc.constantFrom(...TOKEN_VALUES),
      c: fc.constantFrom(...TOKEN_VALUES),
    });
    fc.assert(
      fc.property(arb, ({ parts, a, b, c }) => {
        const scope: TokenScope = { data: { a, b, c }, metadata: {} };
        const value = parts.map((p) => ('lit' in p ? p.lit : `$(${p.tok})`)).join('');
        fc.pre(value.trim() !== '' || parts.length === 1);
        expect(conditionHolds({ id: 'c', value }, scope)).toBe(holdsModel(parts, scope));
      }),
      { numRuns: 1000 },
    );
  });

  it('examples', () => {
    const scope: TokenScope = { data: { t: true, f: false, s: ' True ', n: 1, l: ['true'], NeedsApproval: 'TRUE' }, metadata: { Approve: 'true' } };
    const holds = (value: string) => conditionHolds({ id: 'c', value }, scope);
    expect(holds('True')).toBe(true);
    expect(holds(' true\n')).toBe(true);
    expect(holds('false')).toBe(false);
    expect(holds('$(t)')).toBe(true);
    expect(holds('$(f)')).toBe(false);
    expect(holds('$(s)')).toBe(true);
    expect(holds('$(n)')).toBe(false);
    expect(holds('$(l)')).toBe(false);
    expect(holds('$(missing)')).toBe(false);
    expect(holds('$(NeedsApproval)')).toBe(true);
    expect(holds('$(metadata:Approve)')).toBe(true);
    expect(holds(' $(t) ')).toBe(true);
    expect(holds('$(t)$(t)')).toBe(false);
  });

  it('a step runs when enabled and every condition holds', () => {
    const base: StepDef = { id: 's', extensionName: 'NOOPStep', uniqueName: 'S', displayName: 'S', enabled: true, config: {}, signals: [], conditions: [], outputs: {} };
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.constantFrom('True', 'false', '$(flag)', '$(missing)'), { maxLength: 4 }),
        fc.constantFrom('true', 'TRUE', 'no'),
        (enabled, values, flag) => {
          const step: StepDef = { ...base, enabled, conditions: values.map((value, i) => ({ id: `c${i}`, value })) };
          const want = enabled && values.every((v) => v === 'True' || (v === '$(flag)' && flag !== 'no'));
          expect(stepShouldRun(step, { data: { flag }, metadata: {} })).toBe(want);
        },
      ),
    );
    expect(stepShouldRun(base, emptyScope)).toBe(true);
  });
});
