import { fail } from '../domain/errors.ts';
import { USER_CLAIM, userClaimNames } from '../domain/membership.ts';
import { RetryLaterError } from '../domain/errors.ts';
import { beginAttempt, DEFAULT_LOGIN_THROTTLE, retryAfterSeconds, type LoginThrottlePolicy } from '../domain/login-throttle.ts';
import { resetEscalation } from '../domain/security/password-policy.ts';
import { checkPassword } from '../domain/security/account-policy.ts';
import { changedMemberIds, membershipV1, securityChangeProblem, versionUsesRole, withoutClaimId, type SecurityChange } from '../domain/security/roles.ts';
import { CountersignError } from '../domain/errors.ts';
import { identityThrottleKey } from '../security/basic-authenticator.ts';
import { Passwords } from '../security/passwords.ts';
import { LOCAL_ACCOUNTS_ON, type LocalAccounts } from '../security/basic-authenticator.ts';
import { isGlobalPermissionSet } from '../security/permission-set.ts';
import { P, grants } from '../security/permissions.ts';
import { principalFor, type Principal } from '../security/principal.ts';
import { NO_SECURITY_EVENTS, type SecurityEvents } from '../observability/logger.ts';
import type { Identity, ListQuery, NewRole, Paging, Role, SecurityGuard, Store } from '../store/store.ts';
import { identitiesNamed, roleMembers } from './role-members.ts';

/*
 * Security orchestration: identities, roles, membership and "my" permissions. Loads what a rule
 * needs, applies the pure rules (src/domain/security, src/domain/membership.ts), writes through
 * the store. The privilege rules run inside the store's write transaction (SecurityGuard), so
 * two administrators removing each other at the same instant cannot both succeed.
 */

export interface NewIdentityInput {
  accountName: string;
  identityType: Identity['identityType'];
  password: string | null;
  email: string | null;
  sid: string | null;
}

/** A role with the identities it binds (direct members and User claims). */
export interface RoleWithMembers {
  role: Role;
  members: Identity[];
}

/** Password settings of the service; defaults when absent (tests, tools). */
export interface SecurityServiceOptions {
  passwords?: Passwords;
  localAccounts?: LocalAccounts;
  /** The log-in throttle the current-password check of a change counts against. */
  throttle?: LoginThrottlePolicy;
}

const ALL_DEFINITIONS = { filter: null, limit: 100_000, offset: 0, sortColumn: 'display_name', ascending: true };

/** At most this many people per role are found through provider claims (a notification's reach). */
const MAX_PEOPLE_BY_CLAIMS = 1000;

export class SecurityService {
  readonly passwords: Passwords;
  private readonly localAccounts: LocalAccounts;
  private readonly throttle: LoginThrottlePolicy;

  constructor(
    private readonly store: Store,
    private readonly now: () => string,
    private readonly events: SecurityEvents = NO_SECURITY_EVENTS,
    options: SecurityServiceOptions = {},
  ) {
    this.passwords = options.passwords ?? new Passwords();
    this.localAccounts = options.localAccounts ?? LOCAL_ACCOUNTS_ON;
    this.throttle = options.throttle ?? DEFAULT_LOGIN_THROTTLE;
  }

  // Identities ----------------------------------------------------------------------------------

  /** Refuses (400) a password a new identity of this type and name may not have: groups have none; the policy. */
  checkNewPassword(password: string, identityType: Identity['identityType'], accountName: string | null, field = 'Password'): void {
    if (identityType === 'Group') fail('ValidationFailed', `${field} cannot be set on a Group identity: groups do not sign in.`);
    this.passwords.check(password, accountName, field);
  }

  async createIdentity(input: NewIdentityInput): Promise<Identity> {
    if (input.password !== null) this.checkNewPassword(input.password, input.identityType, input.accountName);
    const created = await this.store.createIdentity({
      accountName: input.accountName,
      identityType: input.identityType,
      sid: input.sid,
      email: input.email,
      passwordHash: input.password === null ? null : await this.passwords.hash(input.password),
      createdAt: this.now(),
    });
    this.events.emit('identity.created', { identityId: created.id, accountName: created.accountName, identityType: created.identityType });
    return created;
  }

  listIdentities(paging: Paging): Promise<Identity[]> {
    return this.store.listIdentities(paging);
  }

  findIdentity(accountName: string): Promise<Identity | null> {
    return this.store.findIdentityByName(accountName);
  }

  async identity(id: number): Promise<Identity> {
    return (await this.store.getIdentity(id)) ?? notFound('Security identity', id);
  }

  /** Roles the identity is in (direct member or named by a User claim). */
  rolesOf(identity: Identity): Promise<Role[]> {
    return this.store.rolesOfIdentity(identity);
  }

  async deleteIdentity(caller: Principal, id: number): Promise<void> {
    const identity = await this.identity(id);
    if (identity.id === caller.identity.id) fail('ValidationFailed', 'You cannot delete the identity you are signed in with.');
    if (!(await this.store.deleteIdentity(identity.id, this.guard(caller, { kind: 'deleteIdentity', identityId: identity.id })))) notFound('Security identity', identity.id);
    this.events.emit('identity.deleted', { identityId: identity.id, accountName: identity.accountName, by: caller.identity.accountName });
  }

  /** Lifts a log-in lock-out (docs/security/authentication.md). */
  async unlock(id: number): Promise<void> {
    const identity = await this.identity(id);
    await this.store.updateLoginThrottle(identityThrottleKey(identity.id), () => ({ state: null, result: undefined }));
  }

  // Passwords -----------------------------------------------------------------------------------

  /**
   * The caller changes their own password (PUT /Security/My/Password, the portal). The current
   * password is checked against the same per-account log-in throttle as a sign-in, so a stolen
   * session cannot be used to guess it; a wrong one changes nothing (400). Compare-and-set: if the
   * password was changed or reset meanwhile, this change is refused rather than undoing that one.
   */
  async changeOwnPassword(caller: Principal, currentPassword: string, newPassword: string): Promise<void> {
    const identity = await this.identity(caller.identity.id);
    if (!this.localPasswordsAllowed(identity))
      fail('Forbidden', 'Local passwords are turned off on this server (COUNTERSIGN_LOCAL_ACCOUNTS=off): sign in through the identity provider, and change your password there.');
    if (identity.identityType === 'Group' || identity.passwordHash === null)
      fail('ValidationFailed', 'This identity has no local password to change; an administrator can set one (POST /Security/Identities/{id}/Password).');
    const stored = identity.passwordHash!;
    this.passwords.check(newPassword, identity.accountName, 'NewPassword');

    const key = identityThrottleKey(identity.id);
    const verdict = await this.store.updateLoginThrottle(key, (s) => {
      const d = beginAttempt(s, Date.parse(this.now()), this.throttle);
      return { state: d.state, result: d.verdict };
    });
    if (!verdict.allowed) {
      const wait = retryAfterSeconds(verdict.retryAfterMs);
      throw new RetryLaterError('TooManyAttempts', `Too many wrong passwords for this account: it is locked for ${wait} s.`, wait);
    }
    if (!(await this.passwords.verify(currentPassword, stored))) fail('ValidationFailed', 'CurrentPassword is not the current password of this identity; nothing was changed.');
    await this.store.updateLoginThrottle(key, () => ({ state: null, result: undefined }));
    if (await this.passwords.verify(newPassword, stored)) fail('ValidationFailed', 'NewPassword must differ from the current password.');

    if (!(await this.store.replacePasswordHash(identity.id, stored, await this.passwords.hash(newPassword), true)))
      fail('Conflict', 'The password of this identity was changed meanwhile; nothing was changed. Sign in again and retry.');
    this.events.emit('identity.password_changed', { identityId: identity.id, accountName: identity.accountName });
  }

  /**
   * An administrator (or the CLI, `by` the operator) sets an identity's password. It must not
   * reach permissions the caller lacks (one could then act as that identity); the CLI has the
   * machine's trust and passes no caller. Lifts a log-in lock-out, so the new password works at once.
   */
  async resetPassword(caller: Principal | null, id: number, newPassword: string, by: string = caller?.identity.accountName ?? 'cli'): Promise<Identity> {
    const identity = await this.identity(id);
    this.checkNewPassword(newPassword, identity.identityType, identity.accountName, 'Password');
    if (caller) {
      const target = await principalFor(this.store, identity);
      const lacking = resetEscalation((p) => grants(caller.permissions, p), target.permissions);
      if (lacking.length)
        fail('Forbidden', `You cannot set the password of '${identity.accountName}': it holds ${lacking.map((p) => `'${p}'`).join(', ')}, which you do not hold yourself.`);
    }
    const updated = (await this.store.updateIdentity(identity.id, { passwordHash: await this.passwords.hash(newPassword) })) ?? notFound('Security identity', id);
    await this.store.updateLoginThrottle(identityThrottleKey(identity.id), () => ({ state: null, result: undefined }));
    this.events.emit('identity.password_reset', { identityId: identity.id, accountName: identity.accountName, by });
    return updated;
  }

  /** Whether the identity's local password may be used (always, unless local accounts are off and it is not the break-glass account). */
  private localPasswordsAllowed(identity: Identity): boolean {
    if (this.localAccounts.enabled) return true;
    const glass = this.localAccounts.breakGlass;
    return glass !== null && glass.toLowerCase() === identity.accountName.toLowerCase();
  }

  // Roles ---------------------------------------------------------------------------------------

  listRoles(q: ListQuery): Promise<Role[]> {
    return this.store.listRoles(q);
  }

  async role(id: number): Promise<Role> {
    return (await this.store.getRole(id)) ?? notFound('Security role', id);
  }

  /** The role, refused when it is immutable (checked before a change request is read). */
  async mutableRole(id: number): Promise<Role> {
    const role = await this.role(id);
    assertMutable(role);
    return role;
  }

  /** Version-1 Identities by account name; RoleInvalid naming the unknown ones. */
  async identitiesByName(names: readonly string[]): Promise<Identity[]> {
    const out = new Map<number, Identity>();
    const unknown: string[] = [];
    for (const name of names) {
      const identity = await this.store.findIdentityByName(name);
      if (identity) out.set(identity.id, identity);
      else unknown.push(name);
    }
    if (unknown.length)
      fail(
        'RoleInvalid',
        `Unknown identit${unknown.length === 1 ? 'y' : 'ies'}: ${unknown.map((n) => `'${n}'`).join(', ')}. Create ${unknown.length === 1 ? 'it' : 'them'} first with POST /Security/Identities.`,
      );
    return [...out.values()];
  }

  async createRole(caller: Principal, role: NewRole): Promise<Role> {
    const created = await this.store.createRole(role, this.guard(caller, { kind: 'role', roleId: null, after: role }));
    this.events.emit('role.created', { roleId: created.id, name: created.name, permissions: created.permissions, by: caller.identity.accountName });
    return created;
  }

  /** Rewrites a mutable role: `change` builds the new role from the current one. */
  async updateRole(caller: Principal, id: number, change: (current: Role) => NewRole | Promise<NewRole>): Promise<Role> {
    const current = await this.role(id);
    assertMutable(current);
    const next = await change(current);
    const updated = (await this.store.updateRole(id, next, this.guard(caller, { kind: 'role', roleId: id, after: next, basedOn: current }))) ?? notFound('Security role', id);
    this.events.emit('role.updated', { roleId: id, name: updated.name, permissions: updated.permissions, by: caller.identity.accountName });
    return updated;
  }

  async deleteRole(caller: Principal, id: number): Promise<void> {
    const role = await this.role(id);
    assertMutable(role);
    await this.assertRoleUnused(role);
    const guard = this.guard(caller, { kind: 'role', roleId: role.id, after: null, basedOn: role });
    if (!(await this.store.deleteRole(role.id, guard))) notFound('Security role', role.id);
    this.events.emit('role.deleted', { roleId: role.id, name: role.name, by: caller.identity.accountName });
  }

  /** The role as it keeps its claims (without claim ids) when rewritten. */
  static asNew(role: Role): NewRole {
    return { ...role, claims: role.claims.map(withoutClaimId) };
  }

  /** Version-1 membership: direct members become `identityIds`; User claims naming left-out identities go. */
  async membershipV1(role: Role, identityIds: number[]): Promise<Pick<NewRole, 'identityIds' | 'claims'>> {
    return membershipV1(role, identityIds, await identitiesNamed(this.store, userClaimNames(role)));
  }

  /** Version-1 Ids (the complete list) or Add/Remove applied to the role's members. */
  async changeMembers(caller: Principal, roleId: number, change: { ids: number[] | null; add: number[] | null; remove: number[] | null }): Promise<RoleWithMembers> {
    await this.mutableRole(roleId);
    const all = [...(change.ids ?? []), ...(change.add ?? []), ...(change.remove ?? [])];
    const unknown: number[] = [];
    for (const id of new Set(all)) if (!(await this.store.getIdentity(id))) unknown.push(id);
    if (unknown.length) fail('ValidationFailed', `Unknown identity id(s): ${unknown.join(', ')}.`);
    const updated = await this.updateRole(caller, roleId, async (role) => {
      const current = (await this.withMembers(role)).members.map((i) => i.id);
      return { ...SecurityService.asNew(role), ...(await this.membershipV1(role, changedMemberIds(current, change))) };
    });
    return this.withMembers(updated);
  }

  /** The identities the role binds. */
  async withMembers(role: Role): Promise<RoleWithMembers> {
    return { role, members: await roleMembers(this.store, role) };
  }

  /**
   * Enabled members of the given roles: who a notification goes to. Besides direct and User-claim
   * members, the people whose last sign-in through an identity provider or directory carried one
   * of the role's other claims (a group, an OAuth role, subject or client id).
   */
  async peopleIn(roleIds: readonly number[]): Promise<Identity[]> {
    const out = new Map<number, Identity>();
    for (const roleId of roleIds) {
      const role = await this.store.getRole(roleId);
      if (!role?.enabled) continue;
      for (const i of (await this.withMembers(role)).members) out.set(i.id, i);
      const external = role.claims.filter((c) => c.claimType !== USER_CLAIM);
      for (const i of await this.store.identitiesWithExternalClaims(external, MAX_PEOPLE_BY_CLAIMS)) out.set(i.id, i);
    }
    return [...out.values()];
  }

  /** The caller's enabled roles in the global permission set, optionally only those granting `needed`. */
  async myRoles(caller: Principal, needed: string | null): Promise<Role[]> {
    return (await this.store.rolesOfIdentity(caller.identity, caller.matches)).filter(
      (r) => r.enabled && isGlobalPermissionSet(r.permissionSetId) && (needed === null || grants(r.permissions, needed)),
    );
  }

  // Internals -----------------------------------------------------------------------------------

  /** The privilege rules, as the store runs them inside the write's transaction. */
  private guard(caller: Principal, change: SecurityChange): SecurityGuard {
    return (snapshot) => {
      const problem = securityChangeProblem(
        snapshot,
        (p) => grants(caller.permissions, p),
        (perms) => grants(perms, P.securityModify),
        change,
      );
      if (problem) throw new CountersignError(problem.code, problem.message);
    };
  }

  /**
   * A role that a step's signal names, or that a suspended instance waits on, cannot be deleted:
   * those approvals would become impossible. The caller edits the definitions first.
   */
  private async assertRoleUnused(role: Role): Promise<void> {
    const { store } = this;
    const waiting = await store.queryInstances({
      filter: null,
      limit: 1,
      offset: 0,
      sortColumn: 'reference_id',
      ascending: true,
      assignedTo: { identityId: -1, roleIds: [role.id] },
    });
    if (waiting.length)
      fail('Conflict', `Role '${role.name}' (${role.id}) is one a suspended instance waits on (for example ${waiting[0]!.id}); finish or stop those instances first.`);
    const users: string[] = [];
    for (const def of await store.listDefinitions(ALL_DEFINITIONS)) {
      for (const v of new Set([def.draftVersion, def.publishedVersion].filter((v): v is number => v !== null))) {
        const version = await store.getVersion(def.id, v);
        if (version && versionUsesRole(version, role.id)) {
          users.push(`'${def.displayName}' version ${v}`);
          break;
        }
      }
    }
    if (users.length) fail('Conflict', `Role '${role.name}' (${role.id}) is named by the signals of ${users.join(', ')}; remove it from those steps first.`);
  }
}

function notFound(what: string, id: number | string): never {
  return fail('NotFound', `${what} ${id} does not exist.`);
}

function assertMutable(role: Role): void {
  if (role.immutable) fail('RoleInvalid', `Security role '${role.name}' is immutable: it cannot be changed or deleted.`);
}
