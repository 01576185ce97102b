import { fail } from '../domain/errors.ts';
import { administrators, escalationProblem, identityMember, lockOutProblem, type RoleGrant } from '../domain/security-policy.ts';
import { P, grants } from '../security/permissions.ts';
import type { Principal } from '../security/principal.ts';
import type { Identity, NewRole, Role, SecurityStore } from '../store/store.ts';

/*
 * The one place every security-changing route asks whether its change is allowed
 * (src/domain/security-policy.ts holds the rules). It loads the roles, resolves who each binds,
 * and applies the change in memory to see who could administer security afterwards.
 *
 * Not atomic with the write: two administrators removing each other at the same instant could
 * both pass. Security changes are rare and made by people; the window is one request.
 */

export type SecurityChange =
  /** before null: a new role; after null: the role is deleted. */
  | { kind: 'role'; before: Role | null; after: NewRole | null }
  | { kind: 'deleteIdentity'; identity: Identity };

const ALL_ROLES = { filter: null, limit: 1_000_000, offset: 0, sortColumn: 'id', ascending: true };

export async function assertSecurityChangeAllowed(store: SecurityStore, caller: Principal, change: SecurityChange): Promise<void> {
  const members = memberResolver(store);
  const roles = await store.listRoles(ALL_ROLES);
  const current = new Map<number, RoleGrant>();
  for (const r of roles) current.set(r.id, await grantOf(r, members));
  const next = new Map(current);

  if (change.kind === 'role') {
    const before = change.before ? (current.get(change.before.id) ?? (await grantOf(change.before, members))) : null;
    const after = change.after ? await grantOf(change.after, members) : null;
    const escalation = escalationProblem((p) => grants(caller.permissions, p), before, after);
    if (escalation) fail('Forbidden', escalation);
    const id = change.before?.id ?? -1; // a new role has no id yet
    if (after) next.set(id, after);
    else next.delete(id);
  } else {
    const gone = identityMember(change.identity.id);
    for (const [id, g] of next) if (g.members.includes(gone)) next.set(id, { ...g, members: g.members.filter((m) => m !== gone) });
  }

  const administers = (perms: readonly string[]) => grants(perms, P.securityModify);
  const problem = lockOutProblem(administrators([...current.values()], administers), administrators([...next.values()], administers));
  if (problem) fail('Conflict', problem);
}

async function grantOf(role: NewRole | Role, memberKey: (claim: NewRole['claims'][number]) => Promise<string>): Promise<RoleGrant> {
  const keys = new Set(role.identityIds.map(identityMember));
  for (const c of role.claims) keys.add(await memberKey(c));
  return { name: role.name, enabled: role.enabled, permissions: role.permissions, members: [...keys] };
}

/** A claim's member key: the identity a User claim names, or the claim itself. Memoized per request. */
function memberResolver(store: SecurityStore) {
  const byName = new Map<string, Identity | null>();
  return async (c: NewRole['claims'][number]): Promise<string> => {
    if (c.claimType === 0) {
      const name = c.claimValue.toLowerCase();
      if (!byName.has(name)) byName.set(name, await store.findIdentityByName(c.claimValue));
      const who = byName.get(name);
      if (who) return identityMember(who.id);
    }
    return `claim:${c.claimType}:${c.claimValue.toLowerCase()}:${c.providerScheme.toLowerCase()}`;
  };
}
