/*
 * Who is in a security role: its direct members, and the identities its User claims (claim type
 * 0) name by account name, compared case-insensitively. One rule for every place that asks
 * (notifications, the role endpoints, "my roles").
 */

export const USER_CLAIM_TYPE = 0;

export interface RoleMembership {
  identityIds: number[];
  claims: { claimType: number; claimValue: string }[];
}

export interface Member {
  id: number;
  accountName: string;
}

const nameKey = (accountName: string): string => accountName.toLowerCase();

/** What to load to answer membersOf: the direct member ids and the account names User claims name. */
export function memberReferences(role: RoleMembership): { identityIds: number[]; accountNames: string[] } {
  const names = role.claims.filter((c) => c.claimType === USER_CLAIM_TYPE).map((c) => c.claimValue);
  return { identityIds: [...new Set(role.identityIds)], accountNames: [...new Set(names.map(nameKey))] };
}

/** Whether one identity is in the role. */
export function isMember(role: RoleMembership, identity: Member): boolean {
  if (role.identityIds.includes(identity.id)) return true;
  const key = nameKey(identity.accountName);
  return role.claims.some((c) => c.claimType === USER_CLAIM_TYPE && nameKey(c.claimValue) === key);
}

/**
 * The members of a role among `identities` (e.g. those loaded for memberReferences, or the values
 * of an identities-by-name map), direct members first, each once.
 */
export function membersOf<I extends Member>(role: RoleMembership, identities: Iterable<I>): I[] {
  const known = [...identities];
  const byId = new Map(known.map((i) => [i.id, i]));
  const out = new Map<number, I>();
  for (const id of role.identityIds) {
    const i = byId.get(id);
    if (i) out.set(i.id, i);
  }
  for (const i of known) if (!out.has(i.id) && isMember(role, i)) out.set(i.id, i);
  return [...out.values()];
}
