import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { createServer, type Server } from '../../server.ts';
import { revealOnStderr } from '../../security/bootstrap.ts';
import { loadDemo, reseedDemo } from '../demo.ts';
import { maskUrl } from '../support.ts';

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('start the HTTP server (PORT, HOST, DATABASE_URL: see docs/configuration.md); SIGTERM or SIGINT stops it')
    .option('--demo', 'load demo identities, a definition and waiting requests on an empty store')
    .option('--reseed', 'with --demo, on a store that has the demo: start three more waiting requests (deletes nothing)')
    .action(async (opts: { demo?: boolean; reseed?: boolean }, cmd: Command) => {
      if (opts.reseed && !opts.demo) cmd.error('error: --reseed goes with --demo', { exitCode: 2, code: 'countersign.usage' });
      const config = loadConfig();
      // A generated administrator password goes to the operator's terminal, never into the log.
      const server = await createServer(config, { onAdminCreated: revealOnStderr });
      const demo = opts.reseed ? reseedDemo : opts.demo ? loadDemo : null;
      if (demo) await demo(server.services.store, server.workflow, server.certificates, (m) => console.log(m));
      const address = await server.app.listen({ port: config.port, host: config.host });
      // Handlers first, then the announcement: whoever reacts to it (a supervisor, a test) may signal at once.
      stopOnSignals(server, config.shutdownGraceMs ?? 10_000);
      console.log(`Countersign is listening: API ${address}/KeyfactorAPI, portal ${address}/KeyfactorPortal (store: ${maskUrl(config.databaseUrl)})`);
    });
}

/**
 * SIGTERM/SIGINT: stop accepting requests (in-flight ones finish; new ones get 503), let the
 * runner finish the jobs it holds, close the store, exit 0. A job still running when the grace
 * period ends keeps its lease and runs again on some node once the lease expires (jobs are
 * at-least-once); the process exits 1 and says so.
 */
export function stopOnSignals(server: Server, graceMs: number): void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    console.log(`${signal}: no new requests; finishing work and closing (grace ${graceMs} ms).`);
    const timer = setTimeout(() => {
      console.error(`Shutdown did not finish within COUNTERSIGN_SHUTDOWN_GRACE_MS (${graceMs} ms); exiting with work unfinished (held jobs run again after their lease).`);
      process.exit(1);
    }, graceMs);
    server.close().then(
      () => {
        clearTimeout(timer);
        console.log('Stopped.');
        process.exit(0);
      },
      (err) => {
        console.error(`Shutdown failed: ${err instanceof Error ? err.message : err}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
