import ipaddr from 'ipaddr.js';

/**
 * The egress policy of REST steps: which hosts and addresses a step may reach. Pure: parsing the
 * two configuration lists and deciding one host name or one resolved address. The shell checks
 * the literal host when steps are written and every resolved address before connecting
 * (src/steps/egress-http.ts). docs/security/egress.md describes the boundary.
 *
 * Order: an explicit deny wins; then an explicit allow; then the built-in rule: public unicast
 * addresses are allowed, everything else (loopback, private, link-local and cloud metadata,
 * carrier-grade NAT, multicast, reserved) is denied.
 */

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

export interface EgressRules {
  /** Lower-case host names, compared exactly. */
  names: string[];
  cidrs: Cidr[];
}

export interface EgressPolicy {
  allow: EgressRules;
  deny: EgressRules;
}

export type EgressDecision = { ok: true } | { ok: false; reason: string };

const EMPTY: EgressRules = { names: [], cidrs: [] };
export const DEFAULT_EGRESS_POLICY: EgressPolicy = { allow: EMPTY, deny: EMPTY };

/** Host names of cloud metadata services; denied unless named in the allow list. */
const METADATA_NAMES = [
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
  'metadata.oraclecloud.com',
];

/** Parses a comma-separated list of host names, IP addresses and CIDRs; throws naming the bad entry. */
export function parseEgressRules(text: string | undefined, variable: string): EgressRules {
  const names: string[] = [];
  const cidrs: Cidr[] = [];
  for (const raw of (text ?? '').split(',')) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/^\[(.*)\]$/, '$1');
    if (entry === '') continue;
    if (entry.includes('/')) {
      try {
        cidrs.push(normalizeCidr(ipaddr.parseCIDR(entry)));
      } catch {
        throw new Error(`${variable}: '${raw.trim()}' is not a valid CIDR (e.g. 10.0.0.0/8 or fd00::/8).`);
      }
    } else if (ipaddr.isValid(entry)) {
      const ip = unmap(ipaddr.parse(entry));
      cidrs.push([ip, ip.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/.test(entry)) {
      names.push(entry.replace(/\.$/, ''));
    } else {
      throw new Error(`${variable}: '${raw.trim()}' is neither a host name, an IP address nor a CIDR.`);
    }
  }
  return { names, cidrs };
}

export function egressPolicy(allow: string | undefined, deny: string | undefined): EgressPolicy {
  return { allow: parseEgressRules(allow, 'COUNTERSIGN_EGRESS_ALLOW'), deny: parseEgressRules(deny, 'COUNTERSIGN_EGRESS_DENY') };
}

/** IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are their IPv4 address: the same host. */
function unmap(ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}

function normalizeCidr([ip, bits]: Cidr): Cidr {
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) return [(ip as ipaddr.IPv6).toIPv4Address(), bits - 96];
  return [ip, bits];
}

const hostKey = (host: string): string =>
  host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');

function matchingCidr(rules: EgressRules, ip: ipaddr.IPv4 | ipaddr.IPv6): Cidr | undefined {
  return rules.cidrs.find(([net, bits]) => net.kind() === ip.kind() && ip.match(net as never, bits));
}

/** Whether a host is an IP literal (IPv6 may be bracketed, as in URLs). */
export const isIpLiteral = (host: string): boolean => ipaddr.isValid(hostKey(host));

/**
 * Decides a host name before resolution (at PUT Steps and before each request). IP literals are
 * decided as addresses; names are refused only when denied by name (the deny list, localhost,
 * metadata names); their addresses are decided again after DNS resolution.
 */
export function checkHost(policy: EgressPolicy, host: string): EgressDecision {
  const name = hostKey(host);
  if (ipaddr.isValid(name)) return checkAddress(policy, name);
  if (policy.deny.names.includes(name)) return listedDenied(name);
  if (policy.allow.names.includes(name)) return { ok: true };
  if (name === 'localhost' || name.endsWith('.localhost')) return denied(name, 'is the loopback interface');
  if (METADATA_NAMES.includes(name)) return denied(name, 'is a cloud metadata service');
  return { ok: true };
}

/**
 * Decides one resolved address. `viaName` is the host name it was resolved from: an address of a
 * name in the allow list is allowed (the operator trusts that name), unless the deny list has it.
 */
export function checkAddress(policy: EgressPolicy, address: string, viaName?: string): EgressDecision {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = unmap(ipaddr.parse(hostKey(address)));
  } catch {
    return denied(address, 'is not an IP address');
  }
  const shown = ip.toString();
  if (matchingCidr(policy.deny, ip)) return listedDenied(shown);
  const name = viaName === undefined ? undefined : hostKey(viaName);
  if (name !== undefined && policy.deny.names.includes(name)) return listedDenied(name);
  const range = ip.range();
  const allowedBy = matchingCidr(policy.allow, ip);
  // Link-local (cloud metadata lives there) needs an allow entry at least as narrow as its range:
  // a broad entry such as 0.0.0.0/0 does not open the metadata service by accident.
  if (range === 'linkLocal') {
    const minBits = ip.kind() === 'ipv4' ? 16 : 10;
    if ((allowedBy && allowedBy[1] >= minBits) || (name !== undefined && policy.allow.names.includes(name))) return { ok: true };
    return denied(shown, 'is link-local (cloud metadata services live there)');
  }
  if (allowedBy || (name !== undefined && policy.allow.names.includes(name))) return { ok: true };
  if (range === 'unicast') return { ok: true };
  return denied(shown, DESCRIPTIONS[range] ?? `is in the ${range} range`);
}

const DESCRIPTIONS: Record<string, string> = {
  loopback: 'is a loopback address',
  private: 'is a private address',
  uniqueLocal: 'is a private (unique local) address',
  carrierGradeNat: 'is a shared (carrier-grade NAT) address',
  unspecified: 'is the unspecified address',
  broadcast: 'is the broadcast address',
  multicast: 'is a multicast address',
  reserved: 'is a reserved address',
};

const denied = (what: string, why: string): EgressDecision => ({
  ok: false,
  reason: `${what} ${why}; REST steps may not reach it unless COUNTERSIGN_EGRESS_ALLOW lists it`,
});

const listedDenied = (what: string): EgressDecision => ({ ok: false, reason: `${what} is denied by COUNTERSIGN_EGRESS_DENY` });

/** Checks the host of an http(s) URL text; protocol and parse problems are reported as such. */
export function checkUrl(policy: EgressPolicy, text: string): EgressDecision {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'is not an absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `must use http or https, not ${url.protocol}` };
  if (url.username || url.password) return { ok: false, reason: 'must not carry credentials' };
  return checkHost(policy, url.hostname);
}
