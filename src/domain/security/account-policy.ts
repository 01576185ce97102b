import { fail } from '../errors.ts';

/*
 * Account and password policy: what an account name, a password and an email address must look
 * like. Pure; the routes read the wire fields and call these.
 */

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_ACCOUNT_NAME = 256;
/** One optional DOMAIN\ part, then the user; no colon (Basic credentials split at it), no control characters. */
export const ACCOUNT_NAME = /^(?:[^\\:\u0000-\u001f\u007f]+\\)?[^\\:\u0000-\u001f\u007f]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export const isAccountName = (name: string): boolean => ACCOUNT_NAME.test(name);
export const isEmailAddress = (text: string): boolean => EMAIL.test(text);

/** The trimmed account name, or a ValidationFailed error. */
export function checkAccountName(raw: string): string {
  const name = raw.trim();
  if (name.length > MAX_ACCOUNT_NAME) fail('ValidationFailed', `AccountName must be at most ${MAX_ACCOUNT_NAME} characters.`);
  if (!ACCOUNT_NAME.test(name) || name.split('\\').some((part) => part.trim() === ''))
    fail('ValidationFailed', `AccountName '${raw}' is not valid: write DOMAIN\\user or user (one backslash at most, no colon, no control characters).`);
  return name;
}

/** Refuses a password a new identity of this type may not have. */
export function checkPassword(password: string, identityType: 'User' | 'Group'): void {
  if (identityType === 'Group') fail('ValidationFailed', 'Password cannot be set on a Group identity: groups do not sign in.');
  if (password.length < MIN_PASSWORD_LENGTH) fail('ValidationFailed', `Password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  if (password.length > MAX_PASSWORD_LENGTH) fail('ValidationFailed', `Password must be at most ${MAX_PASSWORD_LENGTH} characters long.`);
}

/** The trimmed email address (null when empty), or a ValidationFailed error naming `field`. */
export function checkEmail(raw: string | null, field: string): string | null {
  if (raw === null || raw.trim() === '') return null;
  if (!EMAIL.test(raw.trim())) fail('ValidationFailed', `${field} '${raw}' is not an email address.`);
  return raw.trim();
}
