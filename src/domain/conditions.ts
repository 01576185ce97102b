import type { StepCondition, StepDef } from './types.ts';
import { replaceTokens, resolveValue, trustedOnly, untrustedTokens, type TokenScope } from './tokens.ts';

/**
 * A condition holds when its value, after token replacement, is the boolean true or the text
 * "true" (trimmed, any case). Anything else, an unresolved token included, is false.
 */
export function conditionHolds(cond: StepCondition, scope: TokenScope): boolean {
  const v = resolveValue(cond.value, scope);
  return v === true || (typeof v === 'string' && v.trim().toLowerCase() === 'true');
}

/**
 * A step runs when it is enabled and all of its conditions hold. An approval gate (a step that
 * takes signals) fails closed instead: it is skipped only when a condition, resolved from trusted
 * values alone, is not true. A condition that names requester data, or that does not resolve from
 * trusted values, cannot skip it, so nothing the requester sends can skip an approval
 * (docs/security/trust.md).
 */
export function stepShouldRun(step: StepDef, scope: TokenScope, gate = false): boolean {
  if (!step.enabled) return false;
  return gate ? !step.conditions.some((c) => trustedlyFalse(c, scope)) : step.conditions.every((c) => conditionHolds(c, scope));
}

function trustedlyFalse(cond: StepCondition, scope: TokenScope): boolean {
  const trusted = trustedOnly(scope);
  if (replaceTokens(cond.value, trusted).unresolved.length > 0) return false;
  return !conditionHolds(cond, trusted);
}

/**
 * Why an enabled gate runs although a condition is not plainly true: the tokens it could not
 * decide from trusted values (requester data, or nothing at all). Empty when there is no such token.
 */
export function undecidedGateTokens(step: StepDef, scope: TokenScope): { untrusted: string[]; unresolved: string[] } {
  const trusted = trustedOnly(scope);
  const untrusted = new Set(step.conditions.flatMap((c) => untrustedTokens(c.value, scope)));
  const unresolved = new Set(step.conditions.flatMap((c) => replaceTokens(c.value, trusted).unresolved).filter((n) => !untrusted.has(n)));
  return { untrusted: [...untrusted], unresolved: [...unresolved] };
}
