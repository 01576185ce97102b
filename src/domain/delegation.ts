import { fail } from './errors.ts';
import type { RecordedSignal } from './types.ts';

/*
 * Delegation (docs/approvals.md#delegation), pure: who a delegate may act for through chains of
 * delegations, bounded and cycle-safe, and what a new delegation must satisfy.
 */

/** At most this many hops: alice -> bob -> carol lets carol act for alice (2 hops). */
export const MAX_DELEGATION_HOPS = 3;
/** The longest window one delegation may cover. */
export const MAX_DELEGATION_DAYS = 366;

export interface DelegationEdge {
  delegatorId: number;
  delegateId: number;
}

/**
 * One breadth-first step: given the delegations to the identities at `frontier`, the delegators
 * not seen before (so a cycle ends the walk). The shell loads edges hop by hop.
 */
export function nextHop(edges: DelegationEdge[], frontier: number[], seen: Set<number>): number[] {
  const out: number[] = [];
  for (const e of edges) {
    if (!frontier.includes(e.delegateId) || seen.has(e.delegatorId)) continue;
    seen.add(e.delegatorId);
    out.push(e.delegatorId);
  }
  return out;
}

export interface DelegationRequest {
  delegatorId: number;
  delegateId: number;
  startsAt: string;
  endsAt: string;
  now: string;
}

/** Refuses what cannot be a delegation; returns the window normalised to ISO strings. */
export function checkDelegation(r: DelegationRequest): { startsAt: string; endsAt: string } {
  if (r.delegatorId === r.delegateId) fail('ValidationFailed', 'An identity cannot delegate to itself.');
  const start = Date.parse(r.startsAt);
  const end = Date.parse(r.endsAt);
  if (Number.isNaN(start)) fail('ValidationFailed', 'Start must be a date and time (ISO 8601).');
  if (Number.isNaN(end)) fail('ValidationFailed', 'End must be a date and time (ISO 8601).');
  if (end <= start) fail('ValidationFailed', 'End must be after Start.');
  if (end <= Date.parse(r.now)) fail('ValidationFailed', 'End must be in the future.');
  if (end - start > MAX_DELEGATION_DAYS * 86_400_000) fail('ValidationFailed', `A delegation covers at most ${MAX_DELEGATION_DAYS} days.`);
  return { startsAt: new Date(start).toISOString(), endsAt: new Date(end).toISOString() };
}

/** Whether this person sent the signal, for themselves or acting for someone (records before byIdentityId name them only). */
export function sentBy(s: RecordedSignal, person: { identityId: number; accountName: string }): boolean {
  if (s.by === undefined) return s.identityId === person.identityId;
  return s.byIdentityId !== undefined ? s.byIdentityId === person.identityId : s.by.toLowerCase() === person.accountName.toLowerCase();
}

/** Who a signal's decision used up: the seat it counts for and, under a delegation, the delegate who sent it. */
export const decidedBy = (s: RecordedSignal): number[] => (s.byIdentityId === undefined ? [s.identityId] : [s.identityId, s.byIdentityId]);
