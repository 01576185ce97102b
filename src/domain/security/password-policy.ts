/*
 * Password policy: what a new password (at creation, change or reset) must satisfy. Pure: the
 * caller supplies the facts that need I/O or crypto (whether the password is on the configured
 * breached list). Lengths count Unicode code points of the NFC form, as people count characters.
 */

export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
}

/** Smallest minimum an operator may configure (NIST SP 800-63B: at least 8). */
export const POLICY_MIN_LENGTH_FLOOR = 8;
/** Largest maximum an operator may configure: hashing a longer password is only a cost. */
export const POLICY_MAX_LENGTH_CEILING = 4096;

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = { minLength: 8, maxLength: 1024 };

export interface PasswordFacts {
  /** The account the password is for: a password equal to its name is refused. */
  accountName?: string | null;
  /** Whether the password is on the configured breached-password list. */
  breached?: boolean;
}

export type PasswordProblemKind = 'tooShort' | 'tooLong' | 'accountName' | 'breached';

export interface PasswordProblem {
  kind: PasswordProblemKind;
  message: string;
}

/** Unicode code points of the NFC form. */
export const passwordLength = (password: string): number => [...password.normalize('NFC')].length;

/**
 * Why `password` is refused under `policy`, or null when it is acceptable. `field` names the wire
 * field in the message (Password, NewPassword). The message never repeats the password.
 */
export function passwordProblem(password: string, policy: PasswordPolicy, facts: PasswordFacts = {}, field = 'Password'): PasswordProblem | null {
  // The raw length first: normalising a huge string is itself a cost an attacker could choose.
  if (password.length > policy.maxLength * 4) return { kind: 'tooLong', message: `${field} must be at most ${policy.maxLength} characters long.` };
  const length = passwordLength(password);
  if (length < policy.minLength) return { kind: 'tooShort', message: `${field} must be at least ${policy.minLength} characters long.` };
  if (length > policy.maxLength) return { kind: 'tooLong', message: `${field} must be at most ${policy.maxLength} characters long.` };
  const name = facts.accountName?.trim();
  if (name) {
    const lower = password.normalize('NFC').toLowerCase();
    const user = name.includes('\\') ? name.slice(name.lastIndexOf('\\') + 1) : name;
    if (lower === name.toLowerCase() || lower === user.toLowerCase()) return { kind: 'accountName', message: `${field} must not be the account name.` };
  }
  if (facts.breached)
    return {
      kind: 'breached',
      message: `${field} appears in a list of passwords exposed in data breaches, so attackers try it first; choose another.`,
    };
  return null;
}

/** Checks a configured policy; the reason it is unusable, or null. */
export function policyProblem(policy: PasswordPolicy): string | null {
  if (!Number.isInteger(policy.minLength) || policy.minLength < POLICY_MIN_LENGTH_FLOOR)
    return `the minimum password length must be a whole number of at least ${POLICY_MIN_LENGTH_FLOOR}`;
  if (!Number.isInteger(policy.maxLength) || policy.maxLength > POLICY_MAX_LENGTH_CEILING)
    return `the maximum password length must be a whole number of at most ${POLICY_MAX_LENGTH_CEILING}`;
  if (policy.maxLength < policy.minLength) return 'the maximum password length must not be less than the minimum';
  return null;
}

/**
 * Whether the holder of `holds` may reset the password of an identity granted `targetPermissions`:
 * setting someone's password lets one act as them, so it must not reach permissions the caller
 * lacks. The permissions the caller does not hold, empty when allowed.
 */
export function resetEscalation(holds: (permission: string) => boolean, targetPermissions: readonly string[]): string[] {
  return [...new Set(targetPermissions)].filter((p) => !holds(p)).sort();
}

/**
 * Hash parameters: whether `stored` (the parameters a stored hash was made with) is weaker than
 * `wanted`, so the hash should be remade at the next successful log-in. Never downgrades.
 */
export interface Argon2Parameters {
  memoryKiB: number;
  timeCost: number;
  parallelism: number;
}

export type StoredHashParameters = { algorithm: 'argon2id'; params: Argon2Parameters } | { algorithm: 'scrypt' } | { algorithm: 'unknown' };

export function isWeaker(stored: StoredHashParameters, wanted: Argon2Parameters): boolean {
  if (stored.algorithm !== 'argon2id') return stored.algorithm === 'scrypt';
  return stored.params.memoryKiB < wanted.memoryKiB || stored.params.timeCost < wanted.timeCost;
}
