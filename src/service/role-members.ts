import { membersOf, userClaimNames, type Membership } from '../domain/membership.ts';
import type { Identity, Store } from '../store/store.ts';

/*
 * Who is in a role, loaded from the store: one lookup for the security views, notifications,
 * Explain and decisions that count eligible people (RequireApproval's FailWhenQuorumUnreachable).
 * The rule itself is pure (src/domain/membership.ts).
 */

type IdentityLookup = Pick<Store, 'getIdentity' | 'findIdentityByName'>;

/**
 * The identities these account names (User claims) name. Each is looked up as written, so the
 * store compares it as it does when deciding which roles an identity holds (rolesOfIdentity).
 */
export async function identitiesNamed(store: IdentityLookup, names: readonly string[]): Promise<Identity[]> {
  const out = new Map<number, Identity>();
  for (const name of new Set(names)) {
    const i = await store.findIdentityByName(name);
    if (i) out.set(i.id, i);
  }
  return [...out.values()];
}

/** The identities a role binds: its direct members, then those its User claims name. */
export async function roleMembers(store: IdentityLookup, role: Membership): Promise<Identity[]> {
  const known = new Map<number, Identity>();
  for (const id of role.identityIds) {
    const i = await store.getIdentity(id);
    if (i) known.set(i.id, i);
  }
  for (const i of await identitiesNamed(store, userClaimNames(role))) known.set(i.id, i);
  return membersOf(role, [...known.values()]);
}
