import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { claimAt, groupMatches, MAX_EXTERNAL_CLAIMS, rolesIn, tokenCaller, type TokenClaimMapping } from '../../../src/domain/security/external-claims.ts';
import { directoryUser, escapeDnValue, escapeFilterValue, fillTemplate } from '../../../src/domain/security/ldap-text.ts';

const mapping: TokenClaimMapping = {
  scheme: 'Corp',
  acceptUnscopedClaims: true,
  subjectClaim: 'sub',
  rolesClaim: 'roles',
  clientIdClaims: ['client_id', 'azp'],
  accountDomain: 'Corp',
};

describe('token claims to role claims', () => {
  it('maps subject, client id and roles to OAuth Subject (5), Client Id (6) and Role (4) claims under the issuer scheme', () => {
    const c = tokenCaller({ sub: 'alice', azp: 'portal', roles: ['a', 'b', 'a'], email: 'alice@example.test' }, mapping)!;
    expect(c.accountName).toBe('Corp\\alice');
    expect(c.email).toBe('alice@example.test');
    expect(c.matches).toEqual([
      { claimType: 5, claimValue: 'alice', providerSchemes: ['Corp', 'Countersign'] },
      { claimType: 6, claimValue: 'portal', providerSchemes: ['Corp', 'Countersign'] },
      { claimType: 4, claimValue: 'a', providerSchemes: ['Corp', 'Countersign'] },
      { claimType: 4, claimValue: 'b', providerSchemes: ['Corp', 'Countersign'] },
    ]);
    // With several issuers, claims without a scheme match none of them.
    expect(tokenCaller({ sub: 'x' }, { ...mapping, acceptUnscopedClaims: false })!.matches[0]!.providerSchemes).toEqual(['Corp']);
  });

  it('reads nested and space-separated role claims; a client-credentials token without sub acts as its client', () => {
    expect(claimAt({ realm_access: { roles: ['r'] } }, 'realm_access.roles')).toEqual(['r']);
    expect(claimAt({ 'a.b': 1, a: { b: 2 } }, 'a.b')).toBe(1);
    expect(claimAt({ a: ['x'] }, 'a.length')).toBeUndefined();
    expect(rolesIn('x y,z')).toEqual(['x', 'y', 'z']);
    expect(rolesIn([1, null, 'ok', '', 'bad\u0000'])).toEqual(['ok']);
    expect(rolesIn(Array.from({ length: 1000 }, (_, i) => `g${i}`))).toHaveLength(MAX_EXTERNAL_CLAIMS);
    expect(tokenCaller({ client_id: 'svc' }, mapping)!.accountName).toBe('Corp\\svc');
  });

  it('refuses subjects that are not names (missing, not a string, control characters, a backslash, too long)', () => {
    for (const sub of [undefined, 42, '', ' ', 'a\nb', 'DOM\\x', 'x'.repeat(513)]) expect(tokenCaller({ sub }, mapping)).toBeNull();
  });

  it('any claim set gives well-formed matches (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (payload) => {
        const c = tokenCaller(payload as Record<string, unknown>, mapping);
        if (!c) return;
        expect(c.accountName.startsWith('Corp\\')).toBe(true);
        for (const m of c.matches) {
          expect([4, 5, 6]).toContain(m.claimType);
          expect(m.claimValue.length).toBeGreaterThan(0);
          expect(m.claimValue.length).toBeLessThanOrEqual(512);
        }
      }),
    );
  });

  it('directory groups match as DOMAIN\\name, name and DN, Group claims (1)', () => {
    const m = groupMatches([{ name: 'PKI', dn: 'cn=PKI,ou=g' }], 'CORP', { scheme: 'AD', acceptUnscopedClaims: false });
    expect(m.map((x) => x.claimValue)).toEqual(['CORP\\PKI', 'PKI', 'cn=PKI,ou=g']);
    expect(m.every((x) => x.claimType === 1 && x.providerSchemes.join() === 'AD')).toBe(true);
  });
});

const unescapeFilter = (s: string) => s.replace(/\\([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));

describe('LDAP text from log-in names', () => {
  it('a filter value has no unescaped metacharacter and unescapes to itself (property)', () => {
    fc.assert(
      fc.property(fc.string(), (v) => {
        const e = escapeFilterValue(v);
        expect(e.replace(/\\[0-9a-f]{2}/g, '')).not.toMatch(/[\\*()\u0000]/);
        expect(unescapeFilter(e)).toBe(v);
      }),
    );
    expect(fillTemplate('(&(uid={user})(x={user}))', { user: '*)(uid=*' }, escapeFilterValue)).toBe('(&(uid=\\2a\\29\\28uid=\\2a)(x=\\2a\\29\\28uid=\\2a))');
  });

  it('a DN value cannot add an RDN or change the attribute (property)', () => {
    fc.assert(
      fc.property(fc.string(), (v) => {
        const e = escapeDnValue(v);
        // Every special character is preceded by a backslash.
        expect(e.replace(/\\./g, '')).not.toMatch(/[,+"<>;=\\\u0000]/);
      }),
    );
    expect(escapeDnValue(' #a,b ')).toBe('\\ #a\\,b\\ ');
  });

  it('names DOMAIN\\user and user@suffix as directory accounts; other names stay local', () => {
    expect(directoryUser('CORP\\alice', 'corp', ['example.test'])).toBe('alice');
    expect(directoryUser('alice@Example.Test', 'CORP', ['example.test'])).toBe('alice');
    expect(directoryUser('alice', 'CORP', ['example.test'])).toBeNull();
    expect(directoryUser('OTHER\\alice', 'CORP', ['example.test'])).toBeNull();
    expect(directoryUser('alice@other.test', 'CORP', ['example.test'])).toBeNull();
    expect(directoryUser('CORP\\', 'CORP', [])).toBeNull();
    expect(directoryUser('CORP\\a@b', 'CORP', [])).toBeNull();
    expect(directoryUser('CORP\\a\\b', 'CORP', [])).toBeNull();
  });
});
