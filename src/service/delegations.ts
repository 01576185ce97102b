import { MAX_DELEGATION_HOPS, checkDelegation, nextHop } from '../domain/delegation.ts';
import { fail } from '../domain/errors.ts';
import type { SecurityEvents } from '../observability/logger.ts';
import { NO_SECURITY_EVENTS } from '../observability/logger.ts';
import type { Actor } from '../domain/types.ts';
import { P, grants } from '../security/permissions.ts';
import type { Principal } from '../security/principal.ts';
import type { Delegation } from '../store/delegation-rows.ts';
import type { Identity, Store } from '../store/store.ts';

/*
 * Delegation (docs/approvals.md#delegation): an identity lets another make its approvals for a
 * time window. A signal sent under a delegation counts as the delegator's decision (one seat, one
 * vote) and records who sent it. Chains are followed for at most MAX_DELEGATION_HOPS hops.
 */

export interface NewDelegationInput {
  /** Whose approvals are delegated: the caller, unless an administrator names someone. */
  delegator: string | null;
  delegate: string;
  startsAt: string | null;
  endsAt: string;
  comment: string | null;
}

export interface DelegationView extends Delegation {
  delegatorName: string;
  delegateName: string;
}

export class DelegationService {
  constructor(
    private readonly store: Store,
    private readonly now: () => string,
    private readonly events: SecurityEvents = NO_SECURITY_EVENTS,
  ) {}

  async create(caller: Principal, input: NewDelegationInput): Promise<DelegationView> {
    const admin = grants(caller.permissions, P.securityModify);
    const delegator = input.delegator === null ? caller.identity : await this.identityNamed(input.delegator, 'Delegator');
    if (delegator.id !== caller.identity.id && !admin)
      fail('Forbidden', `${caller.identity.accountName} may delegate only their own approvals; delegating for another needs Security:Modify.`);
    const delegate = await this.identityNamed(input.delegate, 'Delegate');
    const now = this.now();
    const window = checkDelegation({ delegatorId: delegator.id, delegateId: delegate.id, startsAt: input.startsAt ?? now, endsAt: input.endsAt, now });
    const created = await this.store.createDelegation({
      delegatorId: delegator.id,
      delegateId: delegate.id,
      ...window,
      comment: input.comment,
      createdAt: now,
      createdBy: caller.identity.accountName,
    });
    this.events.emit('delegation.created', {
      delegationId: created.id,
      delegator: delegator.accountName,
      delegate: delegate.accountName,
      ...window,
      by: caller.identity.accountName,
    });
    return { ...created, delegatorName: delegator.accountName, delegateName: delegate.accountName };
  }

  /** The delegator (or an administrator) ends it now; it stays listed as revoked in the audit log. */
  async revoke(caller: Principal, id: number): Promise<void> {
    const d = await this.store.getDelegation(id);
    const mine = d !== null && (d.delegatorId === caller.identity.id || d.delegateId === caller.identity.id);
    if (!d || (!mine && !grants(caller.permissions, P.securityModify))) fail('NotFound', `No delegation has Id ${id}.`);
    if (d!.delegatorId !== caller.identity.id && !grants(caller.permissions, P.securityModify))
      fail('Forbidden', 'Only the delegator (or an administrator) can revoke a delegation.');
    if (!(await this.store.revokeDelegation(id, this.now(), caller.identity.accountName))) fail('Conflict', `Delegation ${id} was already revoked.`);
    this.events.emit('delegation.revoked', { delegationId: id, by: caller.identity.accountName });
  }

  /** The caller's delegations (given and received); every one for an administrator who asks. */
  async list(caller: Principal, all: boolean): Promise<DelegationView[]> {
    if (all && !grants(caller.permissions, P.securityRead)) fail('Forbidden', 'Listing every delegation needs Security:Read.');
    const rows = await this.store.listDelegations({ identityId: all ? null : caller.identity.id, now: this.now() });
    const names = new Map<number, string>();
    for (const id of new Set(rows.flatMap((r) => [r.delegatorId, r.delegateId]))) names.set(id, (await this.store.getIdentity(id))?.accountName ?? `#${id}`);
    return rows.map((r) => ({ ...r, delegatorName: names.get(r.delegatorId)!, delegateName: names.get(r.delegateId)! }));
  }

  /**
   * The identities the caller may act for right now, as actors carrying their own roles and the
   * caller as delegate; nearest first. Empty for most callers (one indexed query).
   */
  async actorsFor(p: Principal): Promise<Actor[]> {
    const now = this.now();
    const seen = new Set([p.identity.id]);
    let frontier = [p.identity.id];
    const delegators: number[] = [];
    for (let hop = 0; hop < MAX_DELEGATION_HOPS && frontier.length; hop++) {
      frontier = nextHop(await this.store.delegationsTo(frontier, now), frontier, seen);
      delegators.push(...frontier);
    }
    const out: Actor[] = [];
    for (const id of delegators) {
      const identity = await this.store.getIdentity(id);
      if (!identity) continue;
      const roles = (await this.store.rolesOfIdentity(identity)).filter((r) => r.enabled);
      out.push({
        identityId: id,
        accountName: identity.accountName,
        roleIds: roles.map((r) => r.id),
        delegate: { identityId: p.identity.id, accountName: p.identity.accountName },
      });
    }
    return out;
  }

  private async identityNamed(name: string, what: string): Promise<Identity> {
    return (await this.store.findIdentityByName(name)) ?? fail('ValidationFailed', `${what} '${name}' is not a Countersign identity.`);
  }
}
