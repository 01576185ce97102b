import { randomInt } from 'node:crypto';
import { CountersignError } from '../domain/errors.ts';
import type { Identity, Role, SecurityStore } from '../store/store.ts';
import { passwordProblem } from '../domain/security/password-policy.ts';
import { Passwords } from './passwords.ts';
import { GLOBAL_PERMISSION_SET_ID } from './permission-set.ts';
import { ALL_PERMISSIONS } from './permissions.ts';

export const ADMIN_ROLE_NAME = 'Administrators';
export const DEFAULT_ADMIN_USER = 'admin';
export { MIN_PASSWORD_LENGTH } from '../domain/security/account-policy.ts';
import { MIN_PASSWORD_LENGTH } from '../domain/security/account-policy.ts';

/** No look-alike characters (0/O, 1/l/I), so a password read off a console can be typed back. */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

export function generatePassword(length = 20): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/**
 * First start: on a store without identities, create the role "Administrators" (every
 * permission) and one identity in it, so that someone can sign in and set up the rest. The
 * account name comes from COUNTERSIGN_ADMIN_USER (default "admin"), the password from
 * COUNTERSIGN_ADMIN_PASSWORD or, when unset, is generated and logged exactly once.
 * Does nothing when any identity exists.
 */
export async function ensureAdministrator(
  store: SecurityStore,
  env: { user?: string; password?: string },
  log: (msg: string) => void,
  reveal: RevealPassword = revealOnStderr,
  passwords: Passwords = new Passwords(),
): Promise<void> {
  if ((await store.countIdentities()) > 0) return;

  const accountName = env.user?.trim() || DEFAULT_ADMIN_USER;
  if (accountName.includes(':') || /[\u0000-\u001f\u007f]/.test(accountName))
    throw new Error(`COUNTERSIGN_ADMIN_USER '${accountName}' is not a valid account name (no colons or control characters).`);
  const given = env.password !== undefined && env.password !== '';
  if (given && env.password!.length < MIN_PASSWORD_LENGTH) throw new Error(`COUNTERSIGN_ADMIN_PASSWORD must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  const problem = given ? passwordProblem(env.password!, passwords.policy, { accountName, breached: passwords.isBreached(env.password!) }, 'COUNTERSIGN_ADMIN_PASSWORD') : null;
  if (problem) throw new Error(problem.message);
  const password = given ? env.password! : generatePassword(20);

  let identity: Identity;
  try {
    identity = await store.createIdentity({
      accountName,
      identityType: 'User',
      sid: null,
      email: null,
      passwordHash: await passwords.hash(password),
      createdAt: new Date().toISOString(),
    });
  } catch (e) {
    // Several nodes starting together on an empty database: another one is creating the administrator.
    if (e instanceof CountersignError && e.errorName === 'IdentityExists') return;
    throw e;
  }

  // A role of that name may survive from an earlier setup whose identities were all deleted.
  const existing = await findRoleByName(store, ADMIN_ROLE_NAME);
  let role: Role | null;
  if (existing) {
    role = await store.updateRole(existing.id, {
      ...existing,
      enabled: true,
      permissions: [...ALL_PERMISSIONS],
      identityIds: [...new Set([...existing.identityIds, identity.id])],
      claims: existing.claims.map(({ id: _id, ...c }) => c),
    });
  } else {
    role = await store.createRole({
      name: ADMIN_ROLE_NAME,
      description: 'Every permission. Created at first start for the initial administrator.',
      email: null,
      enabled: true,
      private: false,
      immutable: false,
      permissions: [...ALL_PERMISSIONS],
      permissionSetId: GLOBAL_PERMISSION_SET_ID,
      identityIds: [identity.id],
      claims: [],
    });
  }

  if (given) {
    log(`Created the administrator account '${accountName}' (role '${role?.name ?? ADMIN_ROLE_NAME}') with the password from COUNTERSIGN_ADMIN_PASSWORD.`);
  } else {
    log(`Created the administrator account '${accountName}' (role '${role?.name ?? ADMIN_ROLE_NAME}') with a generated password, shown once on the terminal.`);
    // The password is for the operator's eyes only: never a log line.
    reveal(accountName, password);
  }
}

/** Prints a generated administrator password once; the serve command writes it to stderr. */
export type RevealPassword = (accountName: string, password: string) => void;

export function revealOnStderr(accountName: string, password: string): void {
  process.stderr.write(
    `The generated password of the administrator account '${accountName}' is: ${password}\n` +
      `It is shown only this once; store it safely (or set COUNTERSIGN_ADMIN_PASSWORD before the first start next time).\n`,
  );
}

async function findRoleByName(store: SecurityStore, name: string): Promise<Role | null> {
  const page = 200;
  for (let offset = 0; ; offset += page) {
    const roles = await store.listRoles({ filter: null, limit: page, offset, sortColumn: 'id', ascending: true });
    const hit = roles.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (hit) return hit;
    if (roles.length < page) return null;
  }
}
