import { decidedBy } from '../domain/delegation.ts';
import type { Instance } from '../domain/types.ts';

/*
 * AssignedToMe as an index look-up. Beside each instance the stores keep two small tables, written
 * in the same transaction as the instance row:
 *   pending_roles (role_id, instance_id): the roles that may act on a Suspended instance's step;
 *   pending_barred (instance_id, identity_id): who may not (already signalled, for themselves or as a
 *     delegate, or excluded by four eyes).
 * An instance that is not Suspended has no rows in either. `isAssignedTo` is the definition the
 * tables must agree with (the old json scan); the store contract tests compare the two.
 */

export interface PendingRows {
  roleIds: number[];
  barredIds: number[];
}

const sortedUnique = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);

/** The rows an instance in this state has. */
export function pendingRows(i: Instance): PendingRows {
  if (i.status !== 'Suspended') return { roleIds: [], barredIds: [] };
  return {
    roleIds: sortedUnique(i.pendingRoleIds),
    // A delegate who decided (for someone) has made their one decision on the step too.
    barredIds: sortedUnique([...i.signals.flatMap(decidedBy), ...i.pendingExcludedIds]),
  };
}

/** Whether moving from `before` to `after` changes any row (most signals leave them as they are). */
export function pendingChanged(before: PendingRows, after: PendingRows): boolean {
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, k) => x === b[k]);
  return !same(before.roleIds, after.roleIds) || !same(before.barredIds, after.barredIds);
}

/** AssignedToMe's meaning: Suspended, one of the step's roles held, not barred and not yet signalled. */
export function isAssignedTo(i: Instance, identityId: number, roleIds: number[]): boolean {
  const rows = pendingRows(i);
  return rows.roleIds.some((r) => roleIds.includes(r)) && !rows.barredIds.includes(identityId);
}
