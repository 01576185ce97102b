import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fail } from '../domain/errors.ts';
import { DEFAULT_PASSWORD_POLICY, passwordProblem, type PasswordPolicy } from '../domain/security/password-policy.ts';
import { DEFAULT_ARGON2, hashPassword, needsRehash, verifyPassword, type Argon2Parameters } from './password.ts';

/*
 * The password settings of one server: the policy new passwords must meet, the optional list of
 * breached passwords, and the hash parameters. Shared by the API (create, change, reset), the
 * CLI (add, reset-password), the first-start administrator and the Basic authenticator (verify,
 * rehash), so that every way a password is set meets the same policy.
 */

export interface PasswordSettings {
  policy: PasswordPolicy;
  hashing: Argon2Parameters;
  /**
   * A local file of breached passwords (COUNTERSIGN_PASSWORD_BREACHED_FILE): one per line, either
   * the SHA-1 in hex (optionally ":count", as Have I Been Pwned's downloads write it) or the
   * password itself. Read once at start; never fetched from the network.
   */
  breachedFile?: string | null;
}

export const DEFAULT_PASSWORD_SETTINGS: PasswordSettings = { policy: DEFAULT_PASSWORD_POLICY, hashing: DEFAULT_ARGON2, breachedFile: null };

const SHA1_LINE = /^([0-9A-Fa-f]{40})(?::\d+)?$/;
const sha1 = (text: string): string => createHash('sha1').update(text, 'utf8').digest('hex').toUpperCase();

/** Upper-case SHA-1 hex of every password in the list text (hash lines as they are; other lines hashed). */
export function parseBreachedList(text: string): Set<string> {
  const out = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    if (raw === '') continue;
    const m = SHA1_LINE.exec(raw.trim());
    out.add(m ? m[1]!.toUpperCase() : sha1(raw));
  }
  return out;
}

export class Passwords {
  readonly policy: PasswordPolicy;
  readonly hashing: Argon2Parameters;
  private readonly breached: ReadonlySet<string>;

  constructor(settings: Partial<PasswordSettings> = {}, breached?: ReadonlySet<string>) {
    this.policy = settings.policy ?? DEFAULT_PASSWORD_POLICY;
    this.hashing = settings.hashing ?? DEFAULT_ARGON2;
    this.breached = breached ?? (settings.breachedFile ? Passwords.readBreachedFile(settings.breachedFile) : new Set());
  }

  /** Reads the list; a missing or unreadable file stops the start (the operator asked for the check). */
  static readBreachedFile(path: string): Set<string> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`COUNTERSIGN_PASSWORD_BREACHED_FILE '${path}' cannot be read: ${(e as Error).message}`);
    }
    return parseBreachedList(text);
  }

  /** How many passwords the breached list holds (diagnostics). */
  get breachedCount(): number {
    return this.breached.size;
  }

  isBreached(password: string): boolean {
    if (this.breached.size === 0) return false;
    // Both forms: lists are of what people typed, which may or may not be NFC.
    return this.breached.has(sha1(password)) || this.breached.has(sha1(password.normalize('NFC')));
  }

  /** Refuses (ValidationFailed, 400) a password the policy does not allow; `field` names the wire field. */
  check(password: string, accountName: string | null, field = 'Password'): void {
    const problem = passwordProblem(password, this.policy, { accountName, breached: password.length <= this.policy.maxLength * 4 && this.isBreached(password) }, field);
    if (problem) fail('ValidationFailed', problem.message);
  }

  hash(password: string): Promise<string> {
    return hashPassword(password, this.hashing);
  }

  verify(password: string, stored: string): Promise<boolean> {
    return verifyPassword(password, stored);
  }

  needsRehash(stored: string): boolean {
    return needsRehash(stored, this.hashing);
  }
}
