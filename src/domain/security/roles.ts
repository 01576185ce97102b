import type { DefinitionVersion } from '../types.ts';
import { USER_CLAIM, type MemberIdentity } from '../membership.ts';
import { administrators, escalationProblem, identityMember, lockOutProblem, type Holds, type RoleGrant } from '../security-policy.ts';

/*
 * Pure rules about roles: the version-1 membership change, the version-2 claims view, whether a
 * definition version uses a role, and the privilege rules applied to a whole snapshot of roles.
 */

export interface ClaimData {
  claimType: number;
  claimValue: string;
  providerScheme: string;
  description: string;
}

export interface RoleData {
  name: string;
  enabled: boolean;
  permissions: readonly string[];
  identityIds: readonly number[];
  claims: readonly ClaimData[];
}

/** The provider scheme given to claims that do not name one, and to direct members shown as claims. */
export const LOCAL_PROVIDER_SCHEME = 'Countersign';

export const withoutClaimId = <C extends ClaimData & { id?: number }>({ id: _id, ...c }: C): ClaimData => c;

/**
 * The version-1 membership change: direct members become exactly `identityIds`, and User claims
 * that name some other existing identity are dropped (the caller saw those identities as members
 * and left them out). Claims of other types, and User claims naming no identity, stay.
 * `known` holds at least the identities the role's User claims name.
 */
export function membershipV1(role: RoleData, identityIds: readonly number[], known: readonly MemberIdentity[]): { identityIds: number[]; claims: ClaimData[] } {
  const wanted = new Set(identityIds);
  const claims: ClaimData[] = [];
  for (const c of role.claims) {
    if (c.claimType === USER_CLAIM) {
      const who = known.find((i) => i.accountName.toLowerCase() === c.claimValue.toLowerCase());
      if (who && !wanted.has(who.id)) continue;
      if (who) wanted.delete(who.id); // already a member through the claim
    }
    claims.push(withoutClaimId(c));
  }
  return { identityIds: [...wanted], claims };
}

/** Version-1 Ids or Add/Remove applied to the current member ids. */
export function changedMemberIds(current: readonly number[], change: { ids: number[] | null; add: number[] | null; remove: number[] | null }): number[] {
  if (change.ids !== null) return change.ids;
  const drop = new Set(change.remove ?? []);
  return [...new Set([...current, ...(change.add ?? [])])].filter((id) => !drop.has(id));
}

/**
 * The version-2 view of membership: stored claims, then direct members not already named by a
 * User claim, shown as User claims with Id minus the identity id (they have no claim row).
 */
export function claimsView<C extends ClaimData & { id: number }>(
  role: { identityIds: readonly number[]; claims: readonly C[] },
  known: readonly MemberIdentity[],
): (ClaimData & { id: number })[] {
  const named = new Set(role.claims.filter((c) => c.claimType === USER_CLAIM).map((c) => c.claimValue.toLowerCase()));
  const out: (ClaimData & { id: number })[] = [...role.claims];
  for (const id of role.identityIds) {
    const i = known.find((k) => k.id === id);
    if (!i || named.has(i.accountName.toLowerCase())) continue;
    out.push({ id: -i.id, claimType: USER_CLAIM, claimValue: i.accountName, providerScheme: LOCAL_PROVIDER_SCHEME, description: 'Direct member' });
  }
  return out;
}

/** Whether a definition version's signals name the role: then deleting it would strand approvals. */
export const versionUsesRole = (version: Pick<DefinitionVersion, 'steps'>, roleId: number): boolean =>
  version.steps.some((st) => st.signals.some((g) => g.roleIds.includes(roleId)));

/** Everything the privilege rules read, loaded in the transaction that writes the change. */
export interface SecuritySnapshot {
  roles: readonly (RoleData & { id: number })[];
  /** At least every identity a User claim (stored or about to be written) names. */
  identities: readonly MemberIdentity[];
}

export type SecurityChange =
  /** before null: a new role; after null: the role is deleted. */
  { kind: 'role'; roleId: number | null; after: RoleData | null; basedOn?: RoleData } | { kind: 'deleteIdentity'; identityId: number };

/** The rules' view of a role: who it binds ("identity:<id>", or the claim itself when it names no identity). */
export function grantOf(role: RoleData, known: readonly MemberIdentity[]): RoleGrant {
  const keys = new Set(role.identityIds.map(identityMember));
  for (const c of role.claims) {
    const who = c.claimType === USER_CLAIM ? known.find((i) => i.accountName.toLowerCase() === c.claimValue.toLowerCase()) : undefined;
    keys.add(who ? identityMember(who.id) : `claim:${c.claimType}:${c.claimValue.toLowerCase()}:${c.providerScheme.toLowerCase()}`);
  }
  return { name: role.name, enabled: role.enabled, permissions: role.permissions, members: [...keys] };
}

const claimKey = (c: ClaimData): string => `${c.claimType}\u0000${c.claimValue.toLowerCase()}\u0000${c.providerScheme}\u0000${c.description}`;
const sortedKeys = (role: RoleData): string =>
  JSON.stringify([role.name, role.enabled, [...role.permissions].sort(), [...role.identityIds].sort((a, b) => a - b), role.claims.map(claimKey).sort()]);

/** Whether two roles grant the same permissions to the same members (order aside). */
export const sameRole = (a: RoleData, b: RoleData): boolean => sortedKeys(a) === sortedKeys(b);

/**
 * Why `change` is refused on `snapshot` (Forbidden: it grants what the caller lacks; Conflict: it
 * leaves nobody able to administer security), or null when it is allowed.
 */
export function securityChangeProblem(
  snapshot: SecuritySnapshot,
  holds: Holds,
  administers: (permissions: readonly string[]) => boolean,
  change: SecurityChange,
): { code: 'Forbidden' | 'Conflict'; message: string } | null {
  const current = new Map<number, RoleGrant>(snapshot.roles.map((r) => [r.id, grantOf(r, snapshot.identities)]));
  const next = new Map(current);
  if (change.kind === 'role') {
    const stored = change.roleId === null ? undefined : snapshot.roles.find((r) => r.id === change.roleId);
    // The change was computed from basedOn; a write committed since then would be silently undone.
    if (change.basedOn && stored && !sameRole(stored, change.basedOn))
      return { code: 'Conflict', message: `Security role '${stored.name}' was changed by someone else meanwhile; read it again and retry.` };
    const before = change.roleId === null ? null : (current.get(change.roleId) ?? null);
    const after = change.after ? grantOf(change.after, snapshot.identities) : null;
    const escalation = escalationProblem(holds, before, after);
    if (escalation) return { code: 'Forbidden', message: escalation };
    const id = change.roleId ?? -1; // a new role has no id yet
    if (after) next.set(id, after);
    else next.delete(id);
  } else {
    const gone = identityMember(change.identityId);
    for (const [id, g] of next) if (g.members.includes(gone)) next.set(id, { ...g, members: g.members.filter((m) => m !== gone) });
  }
  const problem = lockOutProblem(administrators([...current.values()], administers), administrators([...next.values()], administers));
  return problem ? { code: 'Conflict', message: problem } : null;
}
