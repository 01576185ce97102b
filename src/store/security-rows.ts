import type { Identity, RoleClaim } from './store.ts';

/* Identity and claim rows read the same way from both stores. */

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
