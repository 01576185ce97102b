import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { AuditLog } from '../../service/audit.ts';
import { output, withStore } from '../support.ts';

export function auditCommand(program: Command): void {
  const audit = program.command('audit').description('the chained audit log (docs/security/audit.md)');

  audit
    .command('verify')
    .description('walk the whole audit chain and check every entry; exit 1 at the first entry edited, removed or moved; says how many entries wait in the outbox')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withStore(async (store) => {
        // The server's key: configured, or the one it generated in the store (created here only for an empty log).
        const key = loadConfig().auditKey ?? (await store.getOrCreateSetting('audit_hmac_key', randomBytes(32).toString('base64url')));
        // Counted before the walk: an entry sealed meanwhile is then counted twice, never missed.
        const waiting = await store.countAuditOutbox();
        const report = await new AuditLog(store, key).verify();
        output(opts.json, { ...report, waitingToBeSealed: waiting }, () => [
          ...(report.firstBad
            ? [`Audit chain BROKEN at entry ${report.firstBad.id}: ${report.firstBad.reason}.`, `${report.checked - 1} entries before it hold.`]
            : [`Audit chain intact: ${report.checked} entries.`, report.head ? `Head: entry ${report.head.id}, hash ${report.head.hash}` : 'The log is empty.']),
          // Not in the chain yet, so not yet protected by it (docs/security/audit.md, "Appending").
          ...(waiting ? [`${waiting} ${waiting === 1 ? 'entry' : 'entries'} waiting to be sealed (written with their actions; sealed within seconds by a running server).`] : []),
        ]);
        // Waiting entries are not a failure: exit 1 only for a broken chain.
        if (report.firstBad) process.exitCode = 1;
      });
    });
}
