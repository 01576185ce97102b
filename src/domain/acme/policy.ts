import ipaddr from 'ipaddr.js';
import { AcmeProblem, type ProblemType } from './problems.ts';
import type { AcmeAuthz, AcmeIdentifier, AcmeOrder, AcmeProfile, AuthzStatus, ChallengeType, OrderStatus } from './types.ts';

/*
 * The pure rules of the ACME server: which identifiers a profile accepts, how an order's status
 * follows from its authorizations (RFC 8555 §7.1.6), and whether a CSR asks for exactly what the
 * order was authorized for.
 */

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-cased, trailing dot removed; null when not a syntactically valid DNS name (wildcard allowed as the first label). */
export function normalizeDnsName(raw: string): string | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 253) return null;
  const name = raw.toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  if (labels.length < 2) return null;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (i === 0 && l === '*') continue;
    if (!LABEL.test(l)) return null;
  }
  // The last label of a name is never all digits (that would be an IP address written as a name).
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return null;
  return name;
}

/** Canonical text of an IP literal; null when not one. */
export function normalizeIp(raw: string): string | null {
  if (typeof raw !== 'string' || !ipaddr.isValid(raw)) return null;
  const ip = ipaddr.parse(raw);
  if (ip.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(raw)) return null;
  return ip.toString();
}

export type IdentifierVerdict = { ok: true; identifier: AcmeIdentifier; wildcard: boolean } | { ok: false; type: ProblemType; detail: string };

/** Whether one requested identifier is acceptable under a profile; normalises it. */
export function checkIdentifier(profile: AcmeProfile, raw: unknown): IdentifierVerdict {
  const o = raw as { type?: unknown; value?: unknown } | null;
  if (!o || typeof o !== 'object' || typeof o.type !== 'string' || typeof o.value !== 'string')
    return { ok: false, type: 'malformed', detail: 'An identifier is an object {"type": "dns" | "ip", "value": "..."}.' };
  const shown = o.value.slice(0, 255);
  if (o.type === 'dns') {
    const name = normalizeDnsName(o.value);
    if (!name) return { ok: false, type: 'rejectedIdentifier', detail: `'${shown}' is not a valid DNS name.` };
    const wildcard = name.startsWith('*.');
    if (wildcard && !profile.allowWildcards) return { ok: false, type: 'rejectedIdentifier', detail: `Wildcard names are not allowed by ACME profile '${profile.name}'.` };
    if (wildcard && !profile.challengeTypes.includes('dns-01'))
      return { ok: false, type: 'rejectedIdentifier', detail: `Wildcard names need dns-01, which ACME profile '${profile.name}' does not offer.` };
    const base = wildcard ? name.slice(2) : name;
    if (profile.allowedDomains.length && !profile.allowedDomains.some((d) => base === d || base.endsWith(`.${d}`)))
      return { ok: false, type: 'rejectedIdentifier', detail: `'${name}' is outside the names ACME profile '${profile.name}' issues for (${profile.allowedDomains.join(', ')}).` };
    return { ok: true, identifier: { type: 'dns', value: name }, wildcard };
  }
  if (o.type === 'ip') {
    const ip = normalizeIp(o.value);
    if (!ip) return { ok: false, type: 'rejectedIdentifier', detail: `'${shown}' is not a valid IP address.` };
    if (profile.allowedIpRanges.length && !profile.allowedIpRanges.some((c) => inCidr(ip, c)))
      return { ok: false, type: 'rejectedIdentifier', detail: `${ip} is outside the addresses ACME profile '${profile.name}' issues for (${profile.allowedIpRanges.join(', ')}).` };
    return { ok: true, identifier: { type: 'ip', value: ip }, wildcard: false };
  }
  return { ok: false, type: 'unsupportedIdentifier', detail: `Identifier type '${String(o.type).slice(0, 40)}' is not supported; use dns or ip.` };
}

function inCidr(ip: string, cidr: string): boolean {
  try {
    const [net, bits] = ipaddr.parseCIDR(cidr);
    const a = ipaddr.parse(ip);
    return a.kind() === net.kind() && a.match(net as never, bits);
  } catch {
    return false;
  }
}

/** Whether a profile's CIDR list is valid (for the admin API). */
export const isCidr = (text: string): boolean => {
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return false;
  }
};

/**
 * The identifiers of a newOrder, checked and de-duplicated; throws rejectedIdentifier (with one
 * subproblem per refused identifier) or malformed.
 */
export function checkOrderIdentifiers(profile: AcmeProfile, raw: unknown, max = 100): { identifier: AcmeIdentifier; wildcard: boolean }[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new AcmeProblem('malformed', 'identifiers must be a non-empty array.');
  if (raw.length > max) throw new AcmeProblem('rejectedIdentifier', `At most ${max} identifiers per order.`);
  const ok: { identifier: AcmeIdentifier; wildcard: boolean }[] = [];
  const bad: { type: ProblemType; detail: string; identifier?: AcmeIdentifier }[] = [];
  for (const r of raw) {
    const v = checkIdentifier(profile, r);
    if (v.ok) {
      if (!ok.some((x) => x.identifier.type === v.identifier.type && x.identifier.value === v.identifier.value)) ok.push(v);
    } else {
      const o = r as { type?: unknown; value?: unknown };
      bad.push({
        type: v.type,
        detail: v.detail,
        ...(typeof o?.type === 'string' && typeof o?.value === 'string' ? { identifier: { type: o.type as 'dns', value: o.value.slice(0, 255) } } : {}),
      });
    }
  }
  if (bad.length === 1) throw new AcmeProblem(bad[0]!.type, bad[0]!.detail);
  if (bad.length > 1) throw new AcmeProblem('rejectedIdentifier', `${bad.length} identifiers are refused.`, bad);
  return ok;
}

/** Challenge types offered for an identifier: wildcards and IPs narrow the profile's list. */
export function challengeTypesFor(profile: AcmeProfile, identifier: AcmeIdentifier, wildcard: boolean): ChallengeType[] {
  if (wildcard) return profile.challengeTypes.filter((t) => t === 'dns-01');
  if (identifier.type === 'ip') return profile.challengeTypes.filter((t) => t === 'http-01');
  return [...profile.challengeTypes];
}

/** An authorization's status at `now`: a pending or valid one past its expiry is expired. */
export function authzStatusAt(a: Pick<AcmeAuthz, 'status' | 'expires'>, now: string): AuthzStatus {
  if ((a.status === 'pending' || a.status === 'valid') && a.expires <= now) return 'expired';
  return a.status;
}

/**
 * An order's status from its authorizations (RFC 8555 §7.1.6) while it is still pending or ready:
 * any authorization invalid/expired/deactivated/revoked makes it invalid; all valid makes it
 * ready; past its expiry a pending or ready order is invalid. Orders past `ready` keep theirs.
 */
export function orderStatusAt(order: Pick<AcmeOrder, 'status' | 'expires'>, authzs: Pick<AcmeAuthz, 'status' | 'expires'>[], now: string): OrderStatus {
  if (order.status !== 'pending' && order.status !== 'ready') return order.status;
  if (order.expires <= now) return 'invalid';
  const statuses = authzs.map((a) => authzStatusAt(a, now));
  if (statuses.some((s) => s !== 'pending' && s !== 'valid')) return 'invalid';
  if (statuses.length > 0 && statuses.every((s) => s === 'valid')) return 'ready';
  return 'pending';
}

/** The names a CSR asks for, as identifiers (subject CN and SANs). */
export interface CsrNames {
  commonNames: string[];
  dns: string[];
  ips: string[];
  /** SAN types other than DNS and IP (email, URI): ACME cannot authorize them. */
  other: string[];
}

/**
 * Whether a CSR asks for exactly the order's identifiers (RFC 8555 §7.4): every identifier is in
 * the SANs, no SAN outside them, a CN (if any) among them. Returns the mismatches, empty if none.
 */
export function csrMismatches(order: AcmeIdentifier[], csr: CsrNames): string[] {
  const key = (i: AcmeIdentifier) => `${i.type}:${i.value}`;
  const want = new Set(order.map(key));
  const have = new Set<string>();
  const problems: string[] = [];
  for (const d of csr.dns) {
    const n = normalizeDnsName(d);
    if (!n) problems.push(`SAN '${d}' is not a valid DNS name`);
    else have.add(`dns:${n}`);
  }
  for (const i of csr.ips) {
    const n = normalizeIp(i);
    if (!n) problems.push(`SAN '${i}' is not a valid IP address`);
    else have.add(`ip:${n}`);
  }
  for (const o of csr.other) problems.push(`SAN ${o} cannot be authorized by ACME`);
  for (const cn of csr.commonNames) {
    const n = normalizeDnsName(cn) ?? normalizeIp(cn);
    const k = n === null ? null : normalizeIp(cn) ? `ip:${n}` : `dns:${n}`;
    if (k === null || !want.has(k)) problems.push(`the subject CN '${cn}' is not one of the order's identifiers`);
  }
  for (const w of want) if (!have.has(w)) problems.push(`the CSR lacks ${w.replace(':', ' ')} in its subjectAltName`);
  for (const h of have) if (!want.has(h)) problems.push(`the CSR asks for ${h.replace(':', ' ')}, which the order does not authorize`);
  return problems;
}

/** RFC 8555 §8.1 key authorization: token "." base64url(JWK thumbprint). */
export const keyAuthorization = (token: string, thumbprint: string): string => `${token}.${thumbprint}`;

/** The default profile a fresh store serves at /ACME/directory. */
export function defaultProfile(name = 'default'): AcmeProfile {
  return {
    name,
    template: null,
    certificateAuthority: null,
    requireEab: false,
    challengeTypes: ['http-01', 'dns-01'],
    allowedDomains: [],
    allowedIpRanges: [],
    allowWildcards: false,
    orderLifetimeSeconds: 7 * 24 * 3600,
    maxPendingOrders: 100,
  };
}
