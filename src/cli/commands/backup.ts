import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { loadConfig } from '../../config.ts';
import { openStore } from '../../store/open.ts';
import { CliFailure, maskUrl } from '../support.ts';

export function backupCommand(program: Command): void {
  program
    .command('backup')
    .description(
      'SQLite: an online, consistent copy of the database into <file> (safe while the server runs). PostgreSQL: prints the pg_dump command to run, and exits 1 (no copy made)',
    )
    .argument('<file>', 'the new backup file (must not exist)')
    .action(async (file: string) => {
      const url = loadConfig().databaseUrl;
      if (/^postgres(ql)?:\/\//i.test(url)) {
        // Loaded here only: the embedded default never loads the pg driver.
        const { parseUrl } = await import('../../store/postgres/pg-db.ts');
        const { connectionString, schema } = parseUrl(url);
        throw new CliFailure(
          `Countersign does not copy PostgreSQL databases itself. Back up with PostgreSQL's own tools, for example:\n` +
            `  pg_dump --format=custom --schema=${schema} --file=${shellQuote(file)} ${shellQuote(maskUrl(connectionString))}\n` +
            `(give the password through PGPASSWORD or ~/.pgpass; restore with pg_restore).`,
        );
      }
      if (existsSync(file)) throw new CliFailure(`${file} exists; give a new file name (a backup never overwrites).`);
      const store = await openStore(url);
      try {
        if (!store.backupTo) throw new CliFailure('This store cannot make a backup itself.');
        await store.backupTo(file);
      } finally {
        await store.close();
      }
      console.log(`Backed up ${maskUrl(url)} to ${file}.`);
    });
}

const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
