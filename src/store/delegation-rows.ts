/* Delegations as both stores keep them (docs/approvals.md#delegation). */

export interface Delegation {
  id: number;
  delegatorId: number;
  delegateId: number;
  startsAt: string;
  endsAt: string;
  comment: string | null;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

export type NewDelegation = Omit<Delegation, 'id' | 'revokedAt' | 'revokedBy'>;

export const DELEGATION_COLUMNS = 'id, delegator_id, delegate_id, starts_at, ends_at, comment, created_at, created_by, revoked_at, revoked_by';

export function toDelegation(r: Record<string, unknown>): Delegation {
  return {
    id: Number(r.id),
    delegatorId: Number(r.delegator_id),
    delegateId: Number(r.delegate_id),
    startsAt: String(r.starts_at),
    endsAt: String(r.ends_at),
    comment: (r.comment as string | null) ?? null,
    createdAt: String(r.created_at),
    createdBy: String(r.created_by),
    revokedAt: (r.revoked_at as string | null) ?? null,
    revokedBy: (r.revoked_by as string | null) ?? null,
  };
}
