/*
 * Who may change security, as pure functions. Two rules, applied to every change of a role or
 * an identity (src/api/security-guard.ts gathers the data and calls them):
 *
 * 1. No escalation: a caller grants only what they hold. Adding a permission to a role, enabling
 *    a role, or adding a member (the caller included) to a role, requires the caller to hold every
 *    permission that change hands out. Security:Modify alone therefore cannot make anyone an
 *    administrator.
 * 2. No lock-out: a change that leaves no identity able to administer security (holding
 *    Security:Modify through an enabled role) is refused, whichever way it would happen: deleting
 *    the identity or the role, disabling the role, removing the member or the permission.
 */

/** A role as the rules see it: whether it is enabled, what it grants, and who holds it. */
export interface RoleGrant {
  name: string;
  enabled: boolean;
  permissions: readonly string[];
  /**
   * Who the role binds: "identity:<id>" for identities (direct or through a User claim), other
   * keys for claims that name no identity here (groups, OAuth subjects...).
   */
  members: readonly string[];
}

/** Whether the caller's permissions grant `permission` (prefix inheritance, see permissions.ts). */
export type Holds = (permission: string) => boolean;

/** The reason the caller may not change a role from `before` to `after` (null: create; null: delete), or null when allowed. */
export function escalationProblem(holds: Holds, before: RoleGrant | null, after: RoleGrant | null): string | null {
  if (after === null || !after.enabled) return null; // removing or disabling grants nothing
  const grantedBefore = new Set(before?.enabled ? before.permissions : []);
  const lacking = (perms: readonly string[]) => perms.filter((p) => !holds(p));

  const added = after.permissions.filter((p) => !grantedBefore.has(p));
  const addedLacking = lacking(added);
  if (addedLacking.length) return `You cannot grant ${list(addedLacking)} through role '${after.name}': you do not hold ${addedLacking.length === 1 ? 'it' : 'them'} yourself.`;

  const membersBefore = new Set(before?.members ?? []);
  const newMembers = after.members.filter((m) => !membersBefore.has(m));
  if (newMembers.length === 0) return null;
  const roleLacking = lacking(after.permissions);
  if (roleLacking.length) return `You cannot add members to role '${after.name}': it grants ${list(roleLacking)}, which you do not hold yourself.`;
  return null;
}

/** Identity ids able to administer security: members of an enabled role that grants it. */
export function administrators(roles: readonly RoleGrant[], grantsAdministration: (permissions: readonly string[]) => boolean): Set<number> {
  const out = new Set<number>();
  for (const r of roles) {
    if (!r.enabled || !grantsAdministration(r.permissions)) continue;
    for (const m of r.members) {
      const id = identityOfMember(m);
      if (id !== null) out.add(id);
    }
  }
  return out;
}

/** The reason a change from `before` to `after` administrators is refused, or null. */
export function lockOutProblem(before: ReadonlySet<number>, after: ReadonlySet<number>): string | null {
  if (before.size === 0 || after.size > 0) return null;
  return 'This change would leave no identity able to administer security (Security:Modify through an enabled role); grant it to another identity first.';
}

export const identityMember = (id: number): string => `identity:${id}`;

function identityOfMember(key: string): number | null {
  const m = /^identity:(\d+)$/.exec(key);
  return m ? Number(m[1]) : null;
}

const list = (perms: readonly string[]): string => perms.map((p) => `'${p}'`).join(', ');
