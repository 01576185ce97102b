import { CountersignError, type ErrorName } from '../../src/domain/errors.ts';
import type { StepDef } from '../../src/domain/types.ts';

/* Helpers shared by the pure-engine tests (test/domain). */

/** Second n after 2024-01-01T00:00:00Z, as ISO text: a clock the tests move by hand. */
export const at = (n: number): string => new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString();

/** A step definition with everything off but what `extra` sets; `next` is its continue output. */
export const step = (uniqueName: string, extensionName: string, next: string | null, extra: Partial<StepDef> = {}): StepDef => ({
  id: `id-${uniqueName}`,
  extensionName,
  uniqueName,
  displayName: `Display ${uniqueName}`,
  enabled: true,
  config: {},
  signals: [],
  conditions: [],
  outputs: next ? { continue: next } : {},
  ...extra,
});

/** Freezes a JSON-like value all the way down; any mutation by the code under test then throws. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Runs fn, expecting a CountersignError; returns its errorName. A TypeError (a mutation of a frozen input) fails. */
export function errorOf(fn: () => unknown): ErrorName {
  try {
    fn();
  } catch (e) {
    if (e instanceof CountersignError) return e.errorName;
    throw e;
  }
  throw new Error('expected a CountersignError, nothing was thrown');
}
