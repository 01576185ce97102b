import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actionOf, applyRevocation, CERTIFICATE_HOLD, REVOKE_CODES, type RevocationState } from '../../src/certificates/revocation.ts';

/* The pure revocation rules (RFC 5280 5.3.1) over any sequence of requests. */

const codes = fc.oneof(fc.constantFrom(...Object.keys(REVOKE_CODES).map(Number)), fc.integer({ min: -5, max: 1000 }));
const at = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }).map((t) => new Date(t).toISOString());

describe('revocation rules', () => {
  it('only a hold is reversible; a permanent revocation never changes; a release needs a hold', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(codes, at), { maxLength: 30 }), (requests) => {
        let state: RevocationState | null = null;
        for (const [code, date] of requests) {
          const action = actionOf(code);
          if (action.kind === 'invalid') {
            expect(REVOKE_CODES[code]).toBeUndefined();
            continue;
          }
          const r = applyRevocation(state, action, date, 'c');
          const wasPermanent = state !== null && state.reason !== CERTIFICATE_HOLD;
          if (wasPermanent) expect(r.ok).toBe(false);
          if (action.kind === 'release' && state === null) expect(r.ok).toBe(false);
          if (action.kind === 'hold' && state !== null) expect(r.ok).toBe(false);
          if (!r.ok) continue;
          if (action.kind === 'release') expect(r.next).toBeNull();
          else expect(r.next).toEqual({ reason: action.kind === 'hold' ? CERTIFICATE_HOLD : action.reason, effectiveDate: date, comment: 'c' });
          state = r.next;
        }
      }),
    );
  });

  it('reads Keyfactor codes: -1, 7 and 8 release, 6 holds, 0-5 revoke, anything else (999 Unknown included) is refused', () => {
    expect([-1, 7, 8].map((c) => actionOf(c).kind)).toEqual(['release', 'release', 'release']);
    expect(actionOf(6).kind).toBe('hold');
    expect([0, 1, 2, 3, 4, 5].map((c) => actionOf(c))).toEqual([0, 1, 2, 3, 4, 5].map((reason) => ({ kind: 'revoke', reason })));
    for (const c of [999, 9, 10, -2, 1.5, Number.NaN]) expect(actionOf(c).kind).toBe('invalid');
  });
});
