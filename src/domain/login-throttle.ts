/*
 * Account lock-out after repeated failed log-ins, as pure functions over one account's row.
 *
 * An attempt is counted when it starts, before the slow password check, so a burst of parallel
 * guesses cannot all pass the check while the first ones are still hashing: with a limit of 5,
 * at most 5 attempts are ever evaluated, whatever the concurrency. A success resets the row.
 * The 6th attempt locks the account for `baseLockMs`, doubling with every further lock-out up to
 * `maxLockMs`; while locked nothing is evaluated, not even the right password.
 */

export interface LoginThrottlePolicy {
  /** Attempts evaluated before the account locks. */
  maxFailures: number;
  /** The first lock-out's length (ms); each further one doubles it. */
  baseLockMs: number;
  /** The longest lock-out (ms). */
  maxLockMs: number;
  /** Failures older than this (ms since the last attempt) are forgotten. */
  windowMs: number;
}

export interface LoginThrottleState {
  failures: number;
  lockouts: number;
  /** ms since epoch; null when not locked. */
  lockedUntil: number | null;
  /** ms since epoch of the last attempt or lock-out. */
  updatedAt: number;
}

export type AttemptVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface AttemptDecision {
  state: LoginThrottleState;
  verdict: AttemptVerdict;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottlePolicy = {
  maxFailures: 5,
  baseLockMs: 60_000,
  maxLockMs: 3_600_000,
  windowMs: 15 * 60_000,
};

/** The length of the (lockouts + 1)-th lock-out. */
export function lockDurationMs(lockouts: number, policy: LoginThrottlePolicy): number {
  return Math.min(policy.baseLockMs * 2 ** Math.min(Math.max(lockouts, 0), 30), policy.maxLockMs);
}

/** An attempt starts: either it may be evaluated (and is counted as a failure until it succeeds) or it is refused. */
export function beginAttempt(current: LoginThrottleState | null, now: number, policy: LoginThrottlePolicy): AttemptDecision {
  let s: LoginThrottleState = current ?? { failures: 0, lockouts: 0, lockedUntil: null, updatedAt: now };
  if (s.lockedUntil !== null && s.lockedUntil > now) return { state: s, verdict: { allowed: false, retryAfterMs: s.lockedUntil - now } };
  // A full maximum lock-out's time of good behaviour after the last lock forgives earlier ones.
  if (s.lockedUntil !== null && now - s.lockedUntil >= policy.maxLockMs) s = { ...s, lockouts: 0, lockedUntil: null };
  if (now - s.updatedAt >= policy.windowMs) s = { ...s, failures: 0 };
  if (s.failures >= policy.maxFailures) {
    const lockMs = lockDurationMs(s.lockouts, policy);
    return {
      state: { failures: 0, lockouts: s.lockouts + 1, lockedUntil: now + lockMs, updatedAt: now },
      verdict: { allowed: false, retryAfterMs: lockMs },
    };
  }
  return { state: { ...s, failures: s.failures + 1, updatedAt: now }, verdict: { allowed: true } };
}

/** Seconds for a Retry-After header: whole, at least 1. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));
