/*
 * Who is in a role, as one pure rule used everywhere (security views, the privilege rules, the
 * notifier): the role's direct members, plus every identity whose account name a User claim
 * (claim type 0) names, compared case-insensitively. Claims of other types (groups, OAuth) bind
 * no local identity.
 */

export const USER_CLAIM = 0;

export interface MemberIdentity {
  id: number;
  accountName: string;
}

export interface Membership {
  identityIds: readonly number[];
  claims: readonly { claimType: number; claimValue: string }[];
}

/** The account names a role's User claims bind, as written (look them up case-insensitively). */
export function userClaimNames(role: Membership): string[] {
  return role.claims.filter((c) => c.claimType === USER_CLAIM).map((c) => c.claimValue);
}

/**
 * The members of `role` among `known` (at least its direct members and the identities its User
 * claims name): direct members first, then claim-bound ones, without duplicates.
 */
export function membersOf<I extends MemberIdentity>(role: Membership, known: readonly I[]): I[] {
  const byId = new Map(known.map((i) => [i.id, i] as const));
  const byName = new Map(known.map((i) => [i.accountName.toLowerCase(), i] as const));
  const out = new Map<number, I>();
  for (const id of role.identityIds) {
    const i = byId.get(id);
    if (i) out.set(i.id, i);
  }
  for (const name of userClaimNames(role)) {
    const i = byName.get(name.toLowerCase());
    if (i) out.set(i.id, i);
  }
  return [...out.values()];
}

/** Whether `identity` is in `role`. */
export function isMember(role: Membership, identity: MemberIdentity): boolean {
  return membersOf(role, [identity]).length > 0;
}
