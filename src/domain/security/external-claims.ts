import { LOCAL_PROVIDER_SCHEME } from './roles.ts';

/*
 * How what an identity provider says about a caller (an OAuth token's claims, a directory's group
 * list) becomes the claims Keyfactor's version-2 roles are written with. Pure: the authenticators
 * verify tokens and bind to directories; this decides what the verified facts are worth.
 *
 * Claim types (CSS.CMS.Core.Enums.ClaimType): 1 Group, 4 OAuth Role, 5 OAuth Subject, 6 OAuth
 * Client Id. A role claim only matches facts from the provider its ProviderAuthenticationScheme
 * names (case-insensitive), so one issuer's subject "alice" never holds a role written for another
 * issuer's "alice". A claim written without a scheme (stored as LOCAL_PROVIDER_SCHEME) matches
 * providers configured to accept unscoped claims (the default when only one is configured).
 */

export const GROUP_CLAIM = 1;
export const OAUTH_ROLE_CLAIM = 4;
export const OAUTH_SUBJECT_CLAIM = 5;
export const OAUTH_CLIENT_ID_CLAIM = 6;

/** A fact to look roles up by: any role holding a claim of this type and value, under one of these schemes. */
export interface ClaimMatch {
  claimType: number;
  claimValue: string;
  providerSchemes: string[];
}

/** Which token claims say what, for one issuer. */
export interface TokenClaimMapping {
  /** The ProviderAuthenticationScheme role claims name this issuer by. */
  scheme: string;
  /** Whether claims written without a scheme match this issuer's tokens too. */
  acceptUnscopedClaims: boolean;
  /** Claim holding the subject (default `sub`). */
  subjectClaim: string;
  /** Claim holding roles or groups; a dotted path reaches into objects (`realm_access.roles`). */
  rolesClaim: string;
  /** Claims naming the OAuth client, the first present wins (default `client_id`, then `azp`). */
  clientIdClaims: string[];
  /** DOMAIN part of the account name a token's subject acts as (DOMAIN\subject). */
  accountDomain: string;
}

/** At most this many roles/groups of one caller are looked up (a token listing more is cut, in order). */
export const MAX_EXTERNAL_CLAIMS = 256;
/** Longest subject, client id, role or group name accepted (role claims hold at most 512 characters). */
export const MAX_CLAIM_VALUE = 512;

const usable = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '' && v.length <= MAX_CLAIM_VALUE && !/[\u0000-\u001f\u007f]/.test(v);

/** The value at a dotted path (`realm_access.roles`); an exact key with dots wins over the path. */
export function claimAt(payload: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let v: unknown = payload;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** A roles claim as a list: an array of strings, or one string of space- or comma-separated names. */
export function rolesIn(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  return [...new Set(list.filter(usable).map((s) => s.trim()))].slice(0, MAX_EXTERNAL_CLAIMS);
}

const schemesOf = (m: { scheme: string; acceptUnscopedClaims: boolean }): string[] =>
  m.acceptUnscopedClaims && m.scheme.toLowerCase() !== LOCAL_PROVIDER_SCHEME.toLowerCase() ? [m.scheme, LOCAL_PROVIDER_SCHEME] : [m.scheme];

export interface TokenCaller {
  subject: string;
  /** DOMAIN\subject: the identity the token acts as (history, signals, certificate requests). */
  accountName: string;
  clientId: string | null;
  roles: string[];
  email: string | null;
  matches: ClaimMatch[];
}

/** What a verified token's claims say about its caller; null when it names no usable subject. */
export function tokenCaller(payload: Record<string, unknown>, m: TokenClaimMapping): TokenCaller | null {
  const clientIdRaw = m.clientIdClaims.map((c) => claimAt(payload, c)).find(usable);
  const clientId = clientIdRaw === undefined ? null : clientIdRaw;
  // A client-credentials token may name no subject (RFC 7662 answers often do not): the client is the caller.
  const subject = claimAt(payload, m.subjectClaim) ?? clientId;
  if (!usable(subject) || subject.includes('\\')) return null;
  const roles = rolesIn(claimAt(payload, m.rolesClaim));
  const email = typeof payload.email === 'string' && payload.email.length <= 256 && /^[^\s@]+@[^\s@]+$/.test(payload.email) ? payload.email : null;
  const schemes = schemesOf(m);
  const matches: ClaimMatch[] = [
    { claimType: OAUTH_SUBJECT_CLAIM, claimValue: subject, providerSchemes: schemes },
    ...(clientId === null ? [] : [{ claimType: OAUTH_CLIENT_ID_CLAIM, claimValue: clientId, providerSchemes: schemes }]),
    ...roles.map((r) => ({ claimType: OAUTH_ROLE_CLAIM, claimValue: r, providerSchemes: schemes })),
  ];
  return { subject, accountName: `${m.accountDomain}\\${subject}`, clientId, roles, email, matches };
}

/**
 * A directory user's groups as Group claims (type 1): each group by its `DOMAIN\name` (as Keyfactor
 * writes Active Directory groups) and by its bare name and full DN, so a role may name it any way.
 */
export function groupMatches(groups: readonly { name: string; dn: string }[], domain: string, m: { scheme: string; acceptUnscopedClaims: boolean }): ClaimMatch[] {
  const schemes = schemesOf(m);
  const values = new Set<string>();
  for (const g of groups.slice(0, MAX_EXTERNAL_CLAIMS)) {
    for (const v of [`${domain}\\${g.name}`, g.name, g.dn]) if (usable(v)) values.add(v);
  }
  return [...values].map((claimValue) => ({ claimType: GROUP_CLAIM, claimValue, providerSchemes: schemes }));
}
