import type { SanMap } from '../../certificates/types.ts';

/**
 * What an ACME order asks for (RFC 8555 7.1.3, RFC 8738): the DNS names and IP addresses of the
 * request. Pure. An ACME CA issues only what the requester's CSR names (it checks the CSR at
 * finalization, and the CSR is signed by the requester, so Countersign cannot add to it): SANs
 * the enrollment call added beyond the CSR, and SAN types ACME cannot validate, are refused with
 * a message rather than silently dropped.
 */
export interface AcmeIdentifier {
  type: 'dns' | 'ip';
  value: string;
}

export type IdentifierPlan = { ok: true; identifiers: AcmeIdentifier[] } | { ok: false; reason: string };

const IP_FLAGS = ['ip', 'ip4', 'ip6'];
const HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const IPV4 = /^(\d{1,3})(\.\d{1,3}){3}$/;

const isIp = (v: string): boolean => IPV4.test(v) || (v.includes(':') && /^[0-9a-f:.]+$/i.test(v));

/**
 * @param csrSans the SANs in the CSR itself
 * @param csrCommonName the CSR subject's CN, if any (ACME CAs accept it when it is also a name ordered)
 * @param requestedSans the SANs the certificate is to carry (the CSR's merged with the call's)
 */
export function planIdentifiers(csrSans: SanMap, csrCommonName: string | null, requestedSans: SanMap): IdentifierPlan {
  const unsupported = Object.entries(requestedSans).filter(([flag, values]) => values.length > 0 && flag !== 'dns' && !IP_FLAGS.includes(flag));
  if (unsupported.length) return { ok: false, reason: `an ACME CA validates only DNS names and IP addresses; the request also names ${unsupported.map(([f]) => f).join(', ')}.` };
  const inCsr = new Set([...(csrSans.dns ?? []).map((d) => `dns:${d.toLowerCase()}`), ...IP_FLAGS.flatMap((f) => csrSans[f] ?? []).map((ip) => `ip:${ip.toLowerCase()}`)]);
  const added = [
    ...(requestedSans.dns ?? []).map((d) => `dns:${d.toLowerCase()}`),
    ...IP_FLAGS.flatMap((f) => requestedSans[f] ?? []).map((ip) => `ip:${ip.toLowerCase()}`),
  ].filter((k) => !inCsr.has(k));
  if (added.length)
    return {
      ok: false,
      reason: `an ACME CA issues only the names in the requester's CSR; these were added outside it: ${[...new Set(added)].map((k) => k.slice(k.indexOf(':') + 1)).join(', ')}.`,
    };
  const out = new Map<string, AcmeIdentifier>();
  const add = (type: 'dns' | 'ip', value: string) => out.set(`${type}:${value.toLowerCase()}`, { type, value: type === 'dns' ? value.toLowerCase() : value });
  for (const d of csrSans.dns ?? []) add('dns', d);
  for (const ip of IP_FLAGS.flatMap((f) => csrSans[f] ?? [])) add('ip', ip);
  const cn = csrCommonName?.trim();
  if (cn) {
    if (isIp(cn)) add('ip', cn);
    else if (HOST.test(cn)) add('dns', cn);
    else return { ok: false, reason: `the CSR's common name '${cn}' is neither a DNS name nor an IP address, which an ACME CA cannot validate.` };
  }
  for (const id of out.values()) if (id.type === 'dns' && !HOST.test(id.value)) return { ok: false, reason: `'${id.value}' is not a DNS name an ACME CA can validate.` };
  if (out.size === 0) return { ok: false, reason: 'the CSR names no DNS name or IP address for an ACME CA to validate.' };
  return { ok: true, identifiers: [...out.values()] };
}
