import type { Command } from 'commander';
import pino from 'pino';
import { loadConfig } from '../../config.ts';
import { createLogger, loggedSecurityEvents } from '../../observability/logger.ts';
import { Passwords } from '../../security/passwords.ts';
import { SecurityService } from '../../service/security.ts';
import type { Identity, Store } from '../../store/store.ts';
import { CliFailure, generatePassword, output, readStdin, table, withStore } from '../support.ts';

const shown = (i: Identity) => ({ id: i.id, accountName: i.accountName, identityType: i.identityType, email: i.email, canSignIn: i.passwordHash !== null, createdAt: i.createdAt });

export async function findIdentity(store: Store, name: string): Promise<Identity> {
  const found = /^\d+$/.test(name) ? await store.getIdentity(Number(name)) : await store.findIdentityByName(name);
  if (!found) throw new CliFailure(`No identity '${name}' (give the account name, e.g. 'CORP\\alice' or 'admin', or the numeric id).`);
  return found;
}

/** The new password: read from stdin, or generated and printed once. The service applies the policy. */
async function newPassword(fromStdin: boolean | undefined): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: generatePassword(), generated: true };
  return { password: await readStdin(), generated: false };
}

/**
 * The server's security service over the CLI's store: the same password policy, hashing and
 * security events (as JSON lines on stderr, for the audit trail) as the API.
 */
function securityService(store: Store): SecurityService {
  const config = loadConfig();
  const events = loggedSecurityEvents(createLogger(config.logLevel, pino.destination({ fd: 2, sync: true })).child({ component: 'cli' }));
  return new SecurityService(store, () => new Date().toISOString(), events, { passwords: new Passwords(config.passwords), localAccounts: config.localAccounts });
}

export function identitiesCommand(program: Command): void {
  const ids = program.command('identities').description('the accounts that sign in (HTTP Basic) and hold roles');

  ids
    .command('list')
    .description('list identities (never their password hashes)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) =>
      withStore(async (store) => {
        const all = (await store.listIdentities({ limit: 100_000, offset: 0, sortColumn: 'id', ascending: true })).map(shown);
        output(opts.json, all, () =>
          table(
            ['ID', 'ACCOUNT', 'TYPE', 'EMAIL', 'SIGN-IN'],
            all.map((i) => [i.id, i.accountName, i.identityType, i.email, i.canSignIn ? 'password' : 'disabled']),
          ),
        );
      }),
    );

  ids
    .command('add')
    .description('create a User identity with a password (generated and printed once, or read with --password-stdin)')
    .argument('<account>', "account name, e.g. 'CORP\\alice' or 'alice'")
    .option('--email <address>', 'email address, for approval notifications')
    .option('--password-stdin', 'read the password from standard input instead of generating one')
    .option('--json', 'print JSON')
    .action(async (account: string, opts: { email?: string; passwordStdin?: boolean; json?: boolean }) => {
      const { password, generated } = await newPassword(opts.passwordStdin);
      await withStore(async (store) => {
        const created = await securityService(store).createIdentity({ accountName: account, identityType: 'User', sid: null, email: opts.email ?? null, password });
        output(opts.json, { ...shown(created), ...(generated ? { password } : {}) }, () => [
          `Created identity ${created.id} '${created.accountName}'.`,
          ...(generated ? [`Password (shown once): ${password}`] : []),
        ]);
      });
    });

  ids
    .command('disable')
    .description('stop an identity signing in with a password; its roles, history and instances are kept (reset-password enables it again)')
    .argument('<account>', 'account name or id')
    .option('--json', 'print JSON')
    .action(async (account: string, opts: { json?: boolean }) =>
      withStore(async (store) => {
        const identity = await findIdentity(store, account);
        const updated = await store.updateIdentity(identity.id, { passwordHash: null });
        output(opts.json, shown(updated!), () => [`Identity ${identity.id} '${identity.accountName}' can no longer sign in.`]);
      }),
    );

  ids
    .command('reset-password')
    .description(
      'set a new password (generated and printed once, or read with --password-stdin); deletes nothing. The way back from a lost administrator password: countersign identities reset-password admin',
    )
    .argument('<account>', 'account name or id')
    .option('--password-stdin', 'read the password from standard input instead of generating one')
    .option('--json', 'print JSON')
    .action(async (account: string, opts: { passwordStdin?: boolean; json?: boolean }) => {
      const { password, generated } = await newPassword(opts.passwordStdin);
      await withStore(async (store) => {
        const identity = await findIdentity(store, account);
        // The API's code: policy, hashing, the lock-out lifted (a locked-out administrator signs in at once), the event.
        await securityService(store).resetPassword(null, identity.id, password, 'cli');
        output(opts.json, { id: identity.id, accountName: identity.accountName, ...(generated ? { password } : {}) }, () => [
          `New password set for identity ${identity.id} '${identity.accountName}'.`,
          ...(generated ? [`Password (shown once): ${password}`] : []),
        ]);
      });
    });
}
