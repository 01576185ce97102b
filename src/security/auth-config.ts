import { readFileSync } from 'node:fs';
import { parseEgressRules, type EgressPolicy } from '../domain/egress.ts';
import type { TokenClaimMapping } from '../domain/security/external-claims.ts';

/*
 * Settings of the external ways to sign in: OAuth 2.0 / OpenID Connect issuers whose bearer tokens
 * are accepted, and an LDAP / Active Directory that checks HTTP Basic passwords. One issuer and
 * the directory can be set in the environment (COUNTERSIGN_OIDC_*, COUNTERSIGN_LDAP_*); several
 * issuers through the configuration file (COUNTERSIGN_CONFIG_FILE, JSON: {"oidc": {"issuers":
 * [...]}, "ldap": {...}}, the same keys as below in camelCase). Documented in docs/configuration.md.
 */

export interface OidcIssuerSettings {
  /** The issuer exactly as tokens carry it in `iss`. */
  issuer: string;
  /** Where the discovery document is; null when jwksUri is given. */
  discoveryUrl: string | null;
  jwksUri: string | null;
  /** A token must name one of these in `aud`. */
  audiences: string[];
  /** Signature algorithms accepted (never `none`). */
  algorithms: string[];
  clockSkewSec: number;
  mapping: TokenClaimMapping;
  /** RFC 7662 introspection of opaque (non-JWT) tokens; null: opaque tokens are refused. */
  introspection: { endpoint: string | null; clientId: string; clientSecret: string } | null;
  /** The public client the portal signs people in with (authorization code + PKCE); null: no portal sign-in through this issuer. */
  portalClientId: string | null;
  portalScopes: string;
}

export interface LdapSettings {
  /** ldap:// or ldaps:// URLs, tried in order. */
  urls: string[];
  /** DOMAIN part of the account names of directory users (DOMAIN\user); also accepted when signing in. */
  domain: string;
  /** DNS suffixes accepted in user@suffix; the first is used to bind when bindTemplate is the default. */
  upnSuffixes: string[];
  /** Bind name: {user} is the name without domain (LDAP-escaped in a DN), {domain}, {upn} the first suffix. */
  bindTemplate: string;
  /** Base and filter finding the user's entry after binding ({user} is escaped). */
  userBase: string;
  userFilter: string;
  /** Base and filter finding the user's groups ({dn} is the user's DN, escaped); names come from groupNameAttribute. */
  groupBase: string;
  groupFilter: string;
  groupNameAttribute: string;
  /** Entries matching this filter (tested on the user's entry) are disabled: they cannot sign in. */
  disabledFilter: string | null;
  startTls: boolean;
  /** PEM file of the CA that issued the server certificate (ldaps or StartTLS); else the system's. */
  caFile: string | null;
  /** Connections to the directory open at once (binds in flight); the rest wait in the log-in queue. */
  poolSize: number;
  timeoutMs: number;
  /** ProviderAuthenticationScheme of Group claims this directory's groups match. */
  scheme: string;
  acceptUnscopedClaims: boolean;
}

export interface AuthSettings {
  oidc: OidcIssuerSettings[];
  ldap: LdapSettings | null;
  /** Extra destinations discovery, JWKS and introspection may reach (added to the egress policy). */
  oidcEgressAllow: EgressPolicy['allow'];
}

export const DEFAULT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const KNOWN_ALGORITHMS = new Set([...DEFAULT_ALGORITHMS, 'HS256', 'HS384', 'HS512', 'Ed25519']);
const DEFAULT_OIDC_SCHEME = 'OAuth';
const DEFAULT_LDAP_SCHEME = 'Active Directory';

type Raw = Record<string, unknown>;

export function authSettingsFrom(env: NodeJS.ProcessEnv): AuthSettings {
  const file = readConfigFile(env.COUNTERSIGN_CONFIG_FILE);
  const rawIssuers: { raw: Raw; where: string }[] = [];
  if (env.COUNTERSIGN_OIDC_ISSUER?.trim()) rawIssuers.push({ raw: oidcFromEnv(env), where: 'COUNTERSIGN_OIDC_*' });
  const fileOidc = file.oidc === undefined ? undefined : object(file.oidc, 'oidc');
  if (fileOidc?.issuers !== undefined) {
    if (!Array.isArray(fileOidc.issuers)) throw new Error('COUNTERSIGN_CONFIG_FILE: oidc.issuers must be an array.');
    for (const [i, r] of fileOidc.issuers.entries()) rawIssuers.push({ raw: object(r, `oidc.issuers[${i}]`), where: `COUNTERSIGN_CONFIG_FILE oidc.issuers[${i}]` });
  }
  const single = rawIssuers.length === 1;
  const oidc = rawIssuers.map(({ raw, where }) => issuerSettings(raw, where, single));
  const schemes = oidc.map((i) => i.mapping.scheme.toLowerCase());
  if (new Set(schemes).size !== schemes.length) throw new Error('Each OIDC issuer needs its own scheme (the ProviderAuthenticationScheme its role claims name).');
  const issuers = oidc.map((i) => i.issuer);
  if (new Set(issuers).size !== issuers.length) throw new Error('An OIDC issuer is configured twice.');
  const ldapRaw = env.COUNTERSIGN_LDAP_URL?.trim() ? ldapFromEnv(env) : file.ldap === undefined ? null : object(file.ldap, 'ldap');
  return {
    oidc,
    ldap: ldapRaw && ldapSettings(ldapRaw, env.COUNTERSIGN_LDAP_URL?.trim() ? 'COUNTERSIGN_LDAP_*' : 'COUNTERSIGN_CONFIG_FILE ldap'),
    oidcEgressAllow: parseEgressRules(env.COUNTERSIGN_OIDC_EGRESS_ALLOW, 'COUNTERSIGN_OIDC_EGRESS_ALLOW'),
  };
}

function readConfigFile(path: string | undefined): Raw {
  if (!path?.trim()) return {};
  let text: string;
  try {
    text = readFileSync(path.trim(), 'utf8');
  } catch (e) {
    throw new Error(`COUNTERSIGN_CONFIG_FILE: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
  try {
    return object(JSON.parse(text), 'the file');
  } catch (e) {
    throw new Error(`COUNTERSIGN_CONFIG_FILE: ${path} is not a JSON object (${(e as Error).message}).`);
  }
}

const list = (v: string | undefined): string[] | undefined =>
  v === undefined || v.trim() === ''
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

const defined = (o: Raw): Raw => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''));

function oidcFromEnv(env: NodeJS.ProcessEnv): Raw {
  return defined({
    issuer: env.COUNTERSIGN_OIDC_ISSUER?.trim(),
    discoveryUrl: env.COUNTERSIGN_OIDC_DISCOVERY_URL?.trim(),
    jwksUri: env.COUNTERSIGN_OIDC_JWKS_URL?.trim(),
    audience: list(env.COUNTERSIGN_OIDC_AUDIENCE),
    rolesClaim: env.COUNTERSIGN_OIDC_ROLES_CLAIM?.trim(),
    subjectClaim: env.COUNTERSIGN_OIDC_SUBJECT_CLAIM?.trim(),
    algorithms: list(env.COUNTERSIGN_OIDC_ALGORITHMS),
    clockSkew: env.COUNTERSIGN_OIDC_CLOCK_SKEW_SECONDS?.trim(),
    scheme: env.COUNTERSIGN_OIDC_SCHEME?.trim(),
    accountDomain: env.COUNTERSIGN_OIDC_ACCOUNT_DOMAIN?.trim(),
    introspectionUrl: env.COUNTERSIGN_OIDC_INTROSPECTION_URL?.trim(),
    introspectionClientId: env.COUNTERSIGN_OIDC_INTROSPECTION_CLIENT_ID?.trim(),
    introspectionClientSecret: env.COUNTERSIGN_OIDC_INTROSPECTION_CLIENT_SECRET,
    portalClientId: env.COUNTERSIGN_OIDC_PORTAL_CLIENT_ID?.trim(),
    portalScopes: env.COUNTERSIGN_OIDC_PORTAL_SCOPES?.trim(),
  });
}

function ldapFromEnv(env: NodeJS.ProcessEnv): Raw {
  return defined({
    url: list(env.COUNTERSIGN_LDAP_URL),
    domain: env.COUNTERSIGN_LDAP_DOMAIN?.trim(),
    upnSuffix: list(env.COUNTERSIGN_LDAP_UPN_SUFFIX),
    bindTemplate: env.COUNTERSIGN_LDAP_BIND_TEMPLATE?.trim(),
    userBase: env.COUNTERSIGN_LDAP_USER_BASE?.trim(),
    userFilter: env.COUNTERSIGN_LDAP_USER_FILTER?.trim(),
    groupBase: env.COUNTERSIGN_LDAP_GROUP_BASE?.trim(),
    groupFilter: env.COUNTERSIGN_LDAP_GROUP_FILTER?.trim(),
    groupNameAttribute: env.COUNTERSIGN_LDAP_GROUP_NAME_ATTRIBUTE?.trim(),
    disabledFilter: env.COUNTERSIGN_LDAP_DISABLED_FILTER?.trim(),
    startTls: env.COUNTERSIGN_LDAP_STARTTLS?.trim(),
    caFile: env.COUNTERSIGN_LDAP_CA_FILE?.trim(),
    poolSize: env.COUNTERSIGN_LDAP_POOL_SIZE?.trim(),
    timeoutMs: env.COUNTERSIGN_LDAP_TIMEOUT_MS?.trim(),
    scheme: env.COUNTERSIGN_LDAP_SCHEME?.trim(),
  });
}

function object(v: unknown, what: string): Raw {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a JSON object.`);
  return v as Raw;
}

function text(o: Raw, key: string, where: string, dflt?: string): string {
  const v = o[key];
  if (v === undefined || v === null || v === '') {
    if (dflt !== undefined) return dflt;
    throw new Error(`${where}: ${key} is required.`);
  }
  if (typeof v !== 'string' || /[\u0000-\u001f]/.test(v)) throw new Error(`${where}: ${key} must be a string.`);
  return v;
}

function strings(o: Raw, key: string, where: string, dflt?: string[]): string[] {
  const v = o[key];
  if (v === undefined || v === null) {
    if (dflt) return dflt;
    throw new Error(`${where}: ${key} is required.`);
  }
  const arr = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  if (!Array.isArray(arr) || arr.length === 0 || arr.some((s) => typeof s !== 'string' || s.trim() === ''))
    throw new Error(`${where}: ${key} must be a non-empty list of strings.`);
  return arr.map((s: string) => s.trim());
}

function number(o: Raw, key: string, where: string, dflt: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined || v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${where}: ${key} must be a whole number from ${min} to ${max}; it is '${String(v)}'.`);
  return n;
}

function flag(o: Raw, key: string, where: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|1|yes)$/i.test(v)) return true;
  if (typeof v === 'string' && /^(false|0|no)$/i.test(v)) return false;
  throw new Error(`${where}: ${key} must be true or false.`);
}

function url(value: string, where: string, key: string, protocols: string[]): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`${where}: ${key} '${value}' is not a URL.`);
  }
  if (!protocols.includes(u.protocol)) throw new Error(`${where}: ${key} must be a ${protocols.join(' or ')} URL; it is '${value}'.`);
  if (u.username || u.password) throw new Error(`${where}: ${key} must not hold credentials.`);
  return value;
}

function domainName(v: string, where: string, key: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(v)) throw new Error(`${where}: ${key} '${v}' must be a short name (letters, digits, space, dot, dash, underscore).`);
  return v;
}

function issuerSettings(o: Raw, where: string, single: boolean): OidcIssuerSettings {
  const issuer = url(text(o, 'issuer', where), where, 'issuer', ['https:', 'http:']);
  const jwksUri = o.jwksUri === undefined ? null : url(text(o, 'jwksUri', where), where, 'jwksUri', ['https:', 'http:']);
  const discoveryUrl =
    jwksUri !== null && o.discoveryUrl === undefined
      ? null
      : url(text(o, 'discoveryUrl', where, `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`), where, 'discoveryUrl', ['https:', 'http:']);
  const algorithms = strings(o, 'algorithms', where, DEFAULT_ALGORITHMS);
  for (const a of algorithms) {
    if (a.toLowerCase() === 'none') throw new Error(`${where}: algorithms must not include 'none' (an unsigned token proves nothing).`);
    if (!KNOWN_ALGORITHMS.has(a)) throw new Error(`${where}: algorithm '${a}' is not one of ${[...KNOWN_ALGORITHMS].join(', ')}.`);
    if (a.startsWith('HS')) throw new Error(`${where}: algorithm '${a}' is symmetric (a shared secret, not a JWKS); use an asymmetric algorithm.`);
  }
  const scheme = domainName(text(o, 'scheme', where, DEFAULT_OIDC_SCHEME), where, 'scheme');
  const introspectionUrl = o.introspectionUrl === undefined ? null : url(text(o, 'introspectionUrl', where), where, 'introspectionUrl', ['https:', 'http:']);
  const introspectionClientId = o.introspectionClientId === undefined ? null : text(o, 'introspectionClientId', where);
  if (introspectionUrl !== null && introspectionClientId === null) throw new Error(`${where}: introspectionClientId is required with introspectionUrl.`);
  return {
    issuer,
    discoveryUrl,
    jwksUri,
    audiences: strings(o, 'audience', where),
    algorithms,
    clockSkewSec: number(o, 'clockSkew', where, 60, 0, 600),
    mapping: {
      scheme,
      acceptUnscopedClaims: flag(o, 'acceptUnscopedClaims', where, single),
      subjectClaim: text(o, 'subjectClaim', where, 'sub'),
      rolesClaim: text(o, 'rolesClaim', where, 'roles'),
      clientIdClaims: strings(o, 'clientIdClaims', where, ['client_id', 'azp']),
      accountDomain: domainName(text(o, 'accountDomain', where, scheme), where, 'accountDomain'),
    },
    introspection:
      introspectionClientId === null ? null : { endpoint: introspectionUrl, clientId: introspectionClientId, clientSecret: text(o, 'introspectionClientSecret', where, '') },
    portalClientId: o.portalClientId === undefined ? null : text(o, 'portalClientId', where),
    portalScopes: text(o, 'portalScopes', where, 'openid profile email'),
  };
}

function ldapSettings(o: Raw, where: string): LdapSettings {
  const urls = strings(o, 'url', where).map((u) => url(u, where, 'url', ['ldap:', 'ldaps:']));
  const domain = domainName(text(o, 'domain', where), where, 'domain');
  const upnSuffixes = o.upnSuffix === undefined ? [] : strings(o, 'upnSuffix', where);
  const bindTemplate = text(o, 'bindTemplate', where, upnSuffixes.length ? '{user}@{upn}' : '{domain}\\{user}');
  const userBase = text(o, 'userBase', where);
  return {
    urls,
    domain,
    upnSuffixes,
    bindTemplate,
    userBase,
    userFilter: text(o, 'userFilter', where, '(|(sAMAccountName={user})(uid={user}))'),
    groupBase: text(o, 'groupBase', where, userBase),
    groupFilter: text(o, 'groupFilter', where, '(|(member={dn})(uniqueMember={dn}))'),
    groupNameAttribute: text(o, 'groupNameAttribute', where, 'cn'),
    disabledFilter: o.disabledFilter === undefined ? '(userAccountControl:1.2.840.113556.1.4.803:=2)' : o.disabledFilter === 'none' ? null : text(o, 'disabledFilter', where),
    startTls: flag(o, 'startTls', where, false),
    caFile: o.caFile === undefined ? null : text(o, 'caFile', where),
    poolSize: number(o, 'poolSize', where, 4, 1, 64),
    timeoutMs: number(o, 'timeoutMs', where, 5_000, 100, 120_000),
    scheme: domainName(text(o, 'scheme', where, DEFAULT_LDAP_SCHEME), where, 'scheme'),
    acceptUnscopedClaims: flag(o, 'acceptUnscopedClaims', where, true),
  };
}
