import type { Instance } from '../domain/types.ts';

/**
 * Whether a transition takes the instance out of the step it was waiting at. Its unclaimed timers
 * are then deleted with the transition (a stale timer would do nothing when it fired, but each one
 * left behind is a row the job queue carries for ever). Claimed ones finish and are dropped as
 * stale by fireTimer.
 */
export function leftWaitingStep(before: Instance, after: Instance): boolean {
  return before.status === 'Suspended' && (after.status !== 'Suspended' || after.currentStep !== before.currentStep);
}
