/**
 * Instance status and its wire number. Keyfactor never published the mapping (api-notes Q1);
 * this one is ours, fixed and documented in docs/compatibility.md.
 */
export const InstanceStatus = {
  Unknown: 0,
  Running: 1,
  Suspended: 2,
  Complete: 3,
  Rejected: 4,
  Failed: 5,
  CanceledForRestart: 6,
} as const;

export type InstanceStatusName = keyof typeof InstanceStatus;
export type InstanceStatusCode = (typeof InstanceStatus)[InstanceStatusName];

export const STATUS_NAMES = Object.fromEntries(Object.entries(InstanceStatus).map(([name, code]) => [code, name])) as Record<InstanceStatusCode, InstanceStatusName>;

export const isTerminal = (s: InstanceStatusName): boolean => s === 'Complete' || s === 'Rejected' || s === 'Failed' || s === 'CanceledForRestart';
