import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { migrationStatusAt } from '../../store/operations.ts';
import { openStore } from '../../store/open.ts';
import { CliFailure, maskUrl, output, table } from '../support.ts';

export function migrateCommand(program: Command): void {
  const migrate = program.command('migrate').description('database schema migrations (the server also applies pending ones when it starts)');

  migrate
    .command('status')
    .description('list migrations and whether each is applied; changes nothing (exit 1 when any is pending)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const url = loadConfig().databaseUrl;
      const states = await migrationStatusAt(url);
      const pending = states.filter((m) => m.appliedAt === null);
      output(opts.json, { database: maskUrl(url), migrations: states, pending: pending.length }, () => [
        ...table(
          ['MIGRATION', 'APPLIED'],
          states.map((m) => [m.name, m.appliedAt ?? 'pending']),
        ),
        pending.length ? `${pending.length} pending: run countersign migrate up` : 'Up to date.',
      ]);
      if (pending.length) process.exitCode = 1;
    });

  migrate
    .command('up')
    .description('apply pending migrations (several nodes may run it at once: they take turns)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const url = loadConfig().databaseUrl;
      const before = (await migrationStatusAt(url)).filter((m) => m.appliedAt === null).map((m) => m.name);
      const store = await openStore(url);
      try {
        const after = await store.migrationStatus();
        const still = after.filter((m) => m.appliedAt === null);
        if (still.length) throw new CliFailure(`Migrations still pending: ${still.map((m) => m.name).join(', ')}`);
        output(opts.json, { applied: before }, () => [before.length ? `Applied: ${before.join(', ')}` : 'Nothing to apply: up to date.']);
      } finally {
        await store.close();
      }
    });
}
