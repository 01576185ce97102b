import type { LoginThrottleState } from '../domain/login-throttle.ts';
import type { ClaimMatch } from '../domain/security/external-claims.ts';
import type { Identity, NewRole, RoleClaim } from './store.ts';

/* Rows read, and claim rows planned, the same way by both stores. */

type Row = Record<string, any>;

export const toIdentity = (r: Row): Identity => ({
  id: Number(r.id),
  accountName: r.account_name,
  identityType: r.identity_type === 'Group' ? 'Group' : 'User',
  sid: r.sid ?? null,
  email: r.email ?? null,
  passwordHash: r.password_hash ?? null,
  createdAt: r.created_at,
});

export const toClaim = (r: Row): RoleClaim => ({
  id: Number(r.id),
  claimType: r.claim_type,
  claimValue: r.claim_value,
  providerScheme: r.provider_scheme,
  description: r.description,
});

/** The user part of DOMAIN\\user (the store lowercases it); null for a bare name. */
export const namePart = (accountName: string): string | null => {
  const slash = accountName.lastIndexOf('\\');
  return slash < 0 ? null : accountName.slice(slash + 1);
};

export const toThrottle = (r: Row): LoginThrottleState => ({
  failures: Number(r.failures),
  lockouts: Number(r.lockouts),
  lockedUntil: r.locked_until === null ? null : Number(r.locked_until),
  updatedAt: Number(r.updated_at),
});

/** What to do with a role's claim rows so they become `claims`. */
export interface ClaimPlan {
  /** Rows that stay (their value's spelling and description may change). */
  update: { id: number; claimValue: string; description: string }[];
  insert: NewRole['claims'];
  delete: number[];
}

/**
 * Replaces a role's claims keeping ids stable: a claim equal to an existing row (type, value
 * ignoring case, provider scheme) keeps that row and its id across a full-replace PUT; duplicates
 * in one request collapse to one claim.
 */
export function planClaims(existing: readonly Row[], claims: NewRole['claims']): ClaimPlan {
  const keyOf = (t: number, v: string, s: string) => `${t}\u0000${v.toLowerCase()}\u0000${s}`;
  const byKey = new Map<string, Row>();
  for (const row of existing) {
    const key = keyOf(Number(row.claim_type), row.claim_value, row.provider_scheme);
    if (!byKey.has(key)) byKey.set(key, row);
  }
  const plan: ClaimPlan = { update: [], insert: [], delete: [] };
  const keep = new Set<number>();
  const seen = new Set<string>();
  for (const c of claims) {
    const key = keyOf(c.claimType, c.claimValue, c.providerScheme);
    if (seen.has(key)) continue;
    seen.add(key);
    const old = byKey.get(key);
    if (old) {
      keep.add(Number(old.id));
      plan.update.push({ id: Number(old.id), claimValue: c.claimValue, description: c.description });
    } else plan.insert.push(c);
  }
  plan.delete = existing.map((r) => Number(r.id)).filter((id) => !keep.has(id));
  return plan;
}

/** Claim matches as (type, value, scheme) rows, one per scheme, without duplicates (values compared in SQL with lower()). */
export function matchRows(matches: readonly ClaimMatch[]): { t: number; v: string; s: string }[] {
  const out = new Map<string, { t: number; v: string; s: string }>();
  for (const m of matches) for (const s of m.providerSchemes) out.set(`${m.claimType}\u0000${m.claimValue}\u0000${s}`, { t: m.claimType, v: m.claimValue, s });
  return [...out.values()];
}
