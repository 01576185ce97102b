import type { StepCondition, StepDef } from './types.ts';
import { resolveValue, type TokenScope } from './tokens.ts';

/**
 * A condition holds when its value, after token replacement, is the boolean true or the text
 * "true" (trimmed, any case). Anything else, an unresolved token included, is false.
 */
export function conditionHolds(cond: StepCondition, scope: TokenScope): boolean {
  const v = resolveValue(cond.value, scope);
  return v === true || (typeof v === 'string' && v.trim().toLowerCase() === 'true');
}

/** A step runs when it is enabled and all of its conditions hold. */
export function stepShouldRun(step: StepDef, scope: TokenScope): boolean {
  return step.enabled && step.conditions.every((c) => conditionHolds(c, scope));
}
