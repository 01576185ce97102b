import type { Command } from 'commander';
import type { Role, Store } from '../../store/store.ts';
import { CliFailure, output, table, withStore } from '../support.ts';
import { findIdentity } from './identities.ts';

const allRoles = (store: Store) => store.listRoles({ filter: null, limit: 100_000, offset: 0, sortColumn: 'id', ascending: true });

async function findRole(store: Store, name: string): Promise<Role> {
  const roles = await allRoles(store);
  const found = /^\d+$/.test(name) ? roles.find((r) => r.id === Number(name)) : roles.find((r) => r.name.toLowerCase() === name.toLowerCase());
  if (!found) throw new CliFailure(`No role '${name}' (give its name or numeric id; countersign roles list shows them).`);
  return found;
}

export function rolesCommand(program: Command): void {
  const roles = program.command('roles').description('security roles: permissions and the identities that hold them');

  roles
    .command('list')
    .description('list roles with their permissions and members')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) =>
      withStore(async (store) => {
        const list = await allRoles(store);
        const names = new Map((await store.listIdentities({ limit: 100_000, offset: 0, sortColumn: 'id', ascending: true })).map((i) => [i.id, i.accountName]));
        const data = list.map((r) => ({
          id: r.id,
          name: r.name,
          description: r.description,
          enabled: r.enabled,
          permissions: r.permissions,
          members: r.identityIds.map((id) => names.get(id) ?? `#${id}`),
        }));
        output(opts.json, data, () =>
          table(
            ['ID', 'NAME', 'PERMISSIONS', 'MEMBERS'],
            data.map((r) => [r.id, r.name, r.permissions.length, r.members.join(', ') || null]),
          ),
        );
      }),
    );

  roles
    .command('grant')
    .description('add an identity to a role (nothing else about the role changes)')
    .argument('<role>', 'role name or id')
    .argument('<account>', 'identity account name or id')
    .option('--json', 'print JSON')
    .action(async (roleName: string, account: string, opts: { json?: boolean }) =>
      withStore(async (store) => {
        const role = await findRole(store, roleName);
        const identity = await findIdentity(store, account);
        const already = role.identityIds.includes(identity.id);
        if (!already) await store.setRoleIdentities(role.id, [...role.identityIds, identity.id]);
        output(opts.json, { role: role.name, roleId: role.id, identity: identity.accountName, identityId: identity.id, changed: !already }, () => [
          already ? `'${identity.accountName}' already holds role '${role.name}'.` : `'${identity.accountName}' now holds role '${role.name}'.`,
        ]);
      }),
    );
}
