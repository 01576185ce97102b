import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planIdentifiers } from '../../src/ca/acme-upstream/identifiers.ts';

/* What an ACME order asks for: only the names of the requester's CSR, never more, never other kinds. */

// Labels start with a letter: an all-digit name would be an IP address, which the plan (rightly) orders as one.
const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/);
const dnsName = fc.array(label, { minLength: 2, maxLength: 4 }).map((l) => l.join('.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));

describe('planIdentifiers', () => {
  it('orders exactly the CSR’s DNS names and IPs (plus a DNS/IP common name), deduplicated case-insensitively', () => {
    fc.assert(
      fc.property(fc.array(dnsName, { maxLength: 5 }), fc.array(ipv4, { maxLength: 3 }), fc.option(dnsName, { nil: null }), (dns, ips, cn) => {
        fc.pre(dns.length + ips.length + (cn ? 1 : 0) > 0);
        const csr = { dns: dns.map((d, i) => (i % 2 ? d.toUpperCase() : d)), ip: ips };
        const plan = planIdentifiers(csr, cn, csr);
        expect(plan.ok).toBe(true);
        if (!plan.ok) return;
        const want = new Set([...dns.map((d) => `dns:${d}`), ...ips.map((i) => `ip:${i}`), ...(cn ? [`dns:${cn}`] : [])]);
        expect(new Set(plan.identifiers.map((i) => `${i.type}:${i.value}`))).toEqual(want);
        expect(plan.identifiers).toHaveLength(want.size);
      }),
    );
  });

  it('refuses any DNS name or IP the enrollment call added outside the CSR', () => {
    fc.assert(
      fc.property(
        fc.array(dnsName, { minLength: 1, maxLength: 4 }),
        fc.oneof(
          dnsName.map((d): Record<string, string[]> => ({ dns: [d] })),
          ipv4.map((ip): Record<string, string[]> => ({ ip4: [ip] })),
        ),
        (dns, extra) => {
          const value = Object.values(extra)[0]![0]!;
          fc.pre(!dns.includes(value));
          const plan = planIdentifiers({ dns }, null, { ...extra, dns: [...dns, ...(extra.dns ?? [])] });
          expect(plan).toEqual({ ok: false, reason: expect.stringContaining(value) });
        },
      ),
    );
  });

  it('refuses SAN kinds ACME cannot validate, and a CSR naming nothing it can', () => {
    expect(planIdentifiers({ dns: ['a.example'], rfc822: ['x@example.com'] }, null, { dns: ['a.example'], rfc822: ['x@example.com'] })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/rfc822/),
    });
    expect(planIdentifiers({}, 'Just A Name', {})).toMatchObject({ ok: false, reason: expect.stringMatching(/neither a DNS name nor an IP/) });
    expect(planIdentifiers({}, null, {})).toMatchObject({ ok: false });
    expect(planIdentifiers({ dns: ['bad_name..example'] }, null, { dns: ['bad_name..example'] })).toMatchObject({ ok: false });
  });
});
