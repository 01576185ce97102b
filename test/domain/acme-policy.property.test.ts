import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AcmeProblem } from '../../src/domain/acme/problems.ts';
import { checkIdentifier, checkOrderIdentifiers, csrMismatches, defaultProfile, normalizeDnsName, orderStatusAt } from '../../src/domain/acme/policy.ts';
import type { AcmeIdentifier, AuthzStatus, OrderStatus } from '../../src/domain/acme/types.ts';

/* The pure ACME rules: identifier policy, order status (RFC 8555 §7.1.6) and the CSR-vs-order check. */

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
const dnsName = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => [...ls, 'test'].join('.'));
const identifier: fc.Arbitrary<AcmeIdentifier> = fc.oneof(
  dnsName.map((value) => ({ type: 'dns' as const, value })),
  fc.ipV4().map((value) => ({ type: 'ip' as const, value })),
);
const NOW = '2026-06-01T00:00:00.000Z';
const LATER = '2026-06-02T00:00:00.000Z';
const EARLIER = '2026-05-01T00:00:00.000Z';

describe('identifier policy', () => {
  it('a profile restricted to a suffix accepts exactly the names under it', () => {
    const profile = { ...defaultProfile(), allowedDomains: ['corp.test'] };
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 3 }), fc.boolean(), (labels, inside) => {
        const name = [...labels, inside ? 'corp' : 'other', 'test'].join('.');
        const v = checkIdentifier(profile, { type: 'dns', value: name });
        expect(v.ok).toBe(inside);
        if (!v.ok) expect(v.type).toBe('rejectedIdentifier');
      }),
    );
  });

  it('a suffix match is on label boundaries: evilcorp.test is not under corp.test', () => {
    const profile = { ...defaultProfile(), allowedDomains: ['corp.test'] };
    expect(checkIdentifier(profile, { type: 'dns', value: 'evilcorp.test' }).ok).toBe(false);
    expect(checkIdentifier(profile, { type: 'dns', value: 'corp.test' }).ok).toBe(true);
  });

  it('normalisation is idempotent and case-insensitive', () => {
    fc.assert(
      fc.property(dnsName, fc.boolean(), (name, dot) => {
        const n = normalizeDnsName(name.toUpperCase() + (dot ? '.' : ''));
        expect(n).toBe(name);
        expect(normalizeDnsName(n!)).toBe(n);
      }),
    );
  });

  it('any input is either accepted normalised or refused with a problem, never thrown', () => {
    fc.assert(
      fc.property(fc.anything(), (raw) => {
        const v = checkIdentifier(defaultProfile(), raw);
        if (v.ok) expect(['dns', 'ip']).toContain(v.identifier.type);
        else expect(typeof v.detail).toBe('string');
      }),
    );
  });

  it('order identifiers are de-duplicated; refusals become one problem naming each', () => {
    fc.assert(
      fc.property(fc.array(identifier, { minLength: 1, maxLength: 6 }), (ids) => {
        const ok = checkOrderIdentifiers(defaultProfile(), [...ids, ...ids]);
        expect(ok.length).toBe(new Set(ids.map((i) => `${i.type}:${i.value}`)).size);
      }),
    );
    try {
      checkOrderIdentifiers({ ...defaultProfile(), allowedDomains: ['corp.test'] }, [
        { type: 'dns', value: 'a.other.test' },
        { type: 'dns', value: 'b.other.test' },
      ]);
      expect.unreachable();
    } catch (e) {
      expect((e as AcmeProblem).subproblems).toHaveLength(2);
    }
  });
});

describe('order status', () => {
  const authzStatus = fc.constantFrom<AuthzStatus>('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked');

  it('follows RFC 8555 §7.1.6 from the authorizations', () => {
    fc.assert(
      fc.property(fc.array(authzStatus, { minLength: 1, maxLength: 5 }), fc.constantFrom<OrderStatus>('pending', 'ready'), (statuses, start) => {
        const s = orderStatusAt(
          { status: start, expires: LATER },
          statuses.map((status) => ({ status, expires: LATER })),
          NOW,
        );
        if (statuses.some((x) => x !== 'pending' && x !== 'valid')) expect(s).toBe('invalid');
        else if (statuses.every((x) => x === 'valid')) expect(s).toBe('ready');
        else expect(s).toBe('pending');
      }),
    );
  });

  it('an expired order or authorization invalidates; processing, valid and invalid orders keep their status', () => {
    expect(orderStatusAt({ status: 'pending', expires: EARLIER }, [{ status: 'valid', expires: LATER }], NOW)).toBe('invalid');
    expect(orderStatusAt({ status: 'ready', expires: LATER }, [{ status: 'valid', expires: EARLIER }], NOW)).toBe('invalid');
    for (const s of ['processing', 'valid', 'invalid'] as const) expect(orderStatusAt({ status: s, expires: EARLIER }, [], NOW)).toBe(s);
  });
});

describe('CSR against the order', () => {
  const asCsr = (ids: AcmeIdentifier[], cn: string[] = []) => ({
    commonNames: cn,
    dns: ids.filter((i) => i.type === 'dns').map((i) => i.value),
    ips: ids.filter((i) => i.type === 'ip').map((i) => i.value),
    other: [],
  });

  it('exactly the order identifiers (any order, any case) match', () => {
    fc.assert(
      fc.property(fc.uniqueArray(identifier, { minLength: 1, maxLength: 5, selector: (i) => `${i.type}:${i.value}` }), (ids) => {
        const shuffled = [...ids].reverse().map((i) => (i.type === 'dns' ? { ...i, value: i.value.toUpperCase() } : i));
        expect(csrMismatches(ids, asCsr(shuffled, ids[0]!.type === 'dns' ? [ids[0]!.value] : []))).toEqual([]);
      }),
    );
  });

  it('one identifier more, one fewer, or a CN outside them is a mismatch', () => {
    fc.assert(
      fc.property(fc.uniqueArray(identifier, { minLength: 2, maxLength: 5, selector: (i) => `${i.type}:${i.value}` }), (ids) => {
        const [first, ...rest] = ids;
        expect(csrMismatches(rest, asCsr(ids)).length).toBeGreaterThan(0);
        expect(csrMismatches(ids, asCsr(rest)).length).toBeGreaterThan(0);
        expect(csrMismatches(rest, asCsr(rest, [first!.value])).length).toBeGreaterThan(0);
      }),
    );
  });

  it('SAN types ACME cannot authorize are mismatches', () => {
    expect(csrMismatches([{ type: 'dns', value: 'a.test' }], { commonNames: [], dns: ['a.test'], ips: [], other: ['rfc822:x@a.test'] })).toHaveLength(1);
  });
});
