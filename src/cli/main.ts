#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { auditCommand } from './commands/audit.ts';
import { backupCommand } from './commands/backup.ts';
import { caCommand } from './commands/ca.ts';
import { configCommand } from './commands/config.ts';
import { definitionsCommand } from './commands/definitions.ts';
import { identitiesCommand } from './commands/identities.ts';
import { migrateCommand } from './commands/migrate.ts';
import { rolesCommand } from './commands/roles.ts';
import { serveCommand } from './commands/serve.ts';
import { describeError, EXIT } from './support.ts';

/**
 * The operator's command line (docs/operations.md). Every command except serve works on the
 * store DATABASE_URL names directly, meant for a stopped server (backup and migrate status are
 * safe while it runs). Exit codes: 0 ok, 1 failure, 2 usage.
 */
export function program(): Command {
  const p = new Command('countersign')
    .description('Countersign: workflow approvals wire-compatible with the Keyfactor Command Workflow API')
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 usage error. Configuration comes from the environment (docs/configuration.md).')
    .showHelpAfterError()
    .exitOverride();
  for (const add of [serveCommand, migrateCommand, identitiesCommand, rolesCommand, definitionsCommand, backupCommand, auditCommand, configCommand, caCommand]) add(p);
  // Subcommands inherit exitOverride and output settings only when set before they are added.
  for (const c of allCommands(p)) c.exitOverride().showHelpAfterError();
  return p;
}

const allCommands = (c: Command): Command[] => c.commands.flatMap((s) => [s, ...allCommands(s)]);

async function main(argv: string[]): Promise<void> {
  try {
    // Bare `countersign` shows the help as it always has, successfully.
    await program().parseAsync(argv.length ? argv : ['--help'], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; everything else commander raises is a usage error.
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0) ? EXIT.ok : EXIT.usage;
      return;
    }
    console.error(`countersign: ${describeError(err)}`);
    process.exitCode = EXIT.failure;
  }
}

main(process.argv.slice(2));
