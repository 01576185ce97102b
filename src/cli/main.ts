#!/usr/bin/env node
import { loadConfig } from '../config.ts';
import { createServer } from '../server.ts';
import { loadDemo, reseedDemo } from './demo.ts';

const USAGE = `Usage: countersign serve [--demo [--reseed]]

  serve                   start the HTTP server (PORT, HOST, DATABASE_URL: see docs/configuration.md)
  serve --demo            the same, loading demo identities, a definition and waiting requests on an empty store
  serve --demo --reseed   on a store that has the demo, start three more waiting requests (deletes nothing)`;

async function main(argv: string[]): Promise<void> {
  const [command, ...flags] = argv;
  if (command !== 'serve') {
    console.error(USAGE);
    process.exit(command === undefined || command === '--help' ? 0 : 2);
  }
  if (flags.includes('--reseed') && !flags.includes('--demo')) {
    console.error(`--reseed goes with --demo.\n\n${USAGE}`);
    process.exit(2);
  }
  const config = loadConfig();
  const server = await createServer(config);
  const demo = flags.includes('--reseed') ? reseedDemo : flags.includes('--demo') ? loadDemo : null;
  if (demo) await demo(server.services.store, server.workflow, server.certificates, (m) => console.log(m));
  const address = await server.app.listen({ port: config.port, host: config.host });
  console.log(`Countersign is listening: API ${address}/KeyfactorAPI, portal ${address}/KeyfactorPortal (store: ${config.databaseUrl.replace(/\/\/[^@]*@/, '//***@')})`);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    console.log(`${signal}: finishing work and closing.`);
    server.close().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
