import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { openStore } from '../../store/open.ts';
import { CliFailure } from '../support.ts';

/** `countersign ca export`: the root certificate clients (ACME clients over HTTPS) must trust. */
export function caCommand(program: Command): void {
  const ca = program.command('ca').description('certificate authorities');
  ca.command('export')
    .description('print the root certificate (PEM) of a CA, to give clients to trust; reads only certificates, never keys')
    .option('--ca <name>', 'logical name of the CA (default: the first, the embedded CA)')
    .option('--chain', 'print the issuing CA certificate and the root (the whole chain) instead of the root alone')
    .action(async (opts: { ca?: string; chain?: boolean }) => {
      const store = await openStore(loadConfig().databaseUrl);
      try {
        const cas = await store.certificates.listCas();
        if (cas.length === 0) throw new CliFailure('The store holds no CA yet: start the server once (it creates the embedded CA).');
        const picked = opts.ca ? cas.find((c) => c.logicalName.toLowerCase() === opts.ca!.toLowerCase()) : cas[0];
        if (!picked) throw new CliFailure(`No CA named '${opts.ca}'; known: ${cas.map((c) => c.logicalName).join(', ')}.`);
        const pems = opts.chain ? picked.chainPem : [picked.chainPem[picked.chainPem.length - 1]!];
        process.stdout.write(pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''));
      } finally {
        await store.close();
      }
    });
}
