import type { HistoryEntry, JsonObject } from './api.ts';

export interface ApprovalCount {
  received: number;
  required: number;
}

/** "Waiting for approval at X: 1 of 2 approvals received." -> {received: 1, required: 2}. */
export function parseApprovals(statusMessage: string | null | undefined): ApprovalCount | null {
  if (!statusMessage) return null;
  const m = /(\d+)\s+of\s+(\d+)\s+approvals?\b/i.exec(statusMessage);
  return m ? { received: Number(m[1]), required: Number(m[2]) } : null;
}

/**
 * Approvals received at the current visit of a step, from the history: distinct actors whose
 * ApprovalStatus signal approved, since the step was last entered.
 */
export function approvalsSinceEntered(history: readonly HistoryEntry[], step: string): number {
  let start = 0;
  history.forEach((h, i) => {
    if (h.Step === step && h.Kind === 'StepEntered') start = i;
  });
  const approvers = new Set<string>();
  for (const h of history.slice(start)) {
    if (h.Step !== step || h.Kind !== 'SignalReceived' || !h.Actor) continue;
    const approved = h.Data?.Approved;
    if (approved === true || (typeof approved === 'string' && approved.toLowerCase() === 'true')) approvers.add(h.Actor.toLowerCase());
  }
  return approvers.size;
}

/** MinimumApprovals from a RequireApproval step's configuration (default 1). */
export function minimumApprovals(config: JsonObject | null | undefined): number {
  const v = config?.MinimumApprovals;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : 1;
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** The status message's count when it has one; else computed from the step config and history. */
export function approvalCount(
  statusMessage: string | null | undefined,
  step: { uniqueName: string; config: JsonObject | null } | null,
  history: readonly HistoryEntry[] | null,
): ApprovalCount | null {
  const parsed = parseApprovals(statusMessage);
  if (parsed) return parsed;
  if (!step || !history) return null;
  return { received: approvalsSinceEntered(history, step.uniqueName), required: minimumApprovals(step.config) };
}

export function describeNeeded(c: ApprovalCount | null): string {
  if (!c) return 'Unknown';
  const left = Math.max(0, c.required - c.received);
  return left === 0 ? `None (${c.received} of ${c.required})` : `${left} more (${c.received} of ${c.required})`;
}
