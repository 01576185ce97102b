/*
 * The server under test, in its own process (so the load generator does not share its event loop).
 * Run as: node --import tsx bench/server-process.ts
 *
 * Database: BENCH_DATABASE_URL if set (e.g. a postgres:// URL for a later PostgreSQL target),
 * otherwise a fresh SQLite file in a temp directory (removed on close).
 *
 * Protocol: one JSON object per line. On stdout it first prints {"type":"ready","url":...};
 * then it answers commands read from stdin:
 *   {"cmd":"prepare","approvers":32,"instances":8000,"password":"..."} -> {"type":"prepared",...}
 *   {"cmd":"populate","count":N,"password":"..."} -> {"type":"populated",...}  (after prepare: N more
 *                        instances with histories, 90 % taken to Complete by one approval; see scale.ts)
 *   {"cmd":"usage"}   -> {"type":"usage", cpu, elu, rss, breakdown?}   (CPU / event-loop use; with
 *                        BENCH_BREAKDOWN=1 also time per statement and store call, see instrument.ts)
 *   {"cmd":"profile-start"} / {"cmd":"profile-stop","path":"x.cpuprofile"} -> CPU profile of just that window
 * BENCH_EXPERIMENTS=bg-checkpoint,no-preread applies proposed changes (see experiments.ts).
 *   {"cmd":"close"}   -> {"type":"closed"} and exit (also on stdin end or SIGTERM)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { loadConfig, type Config } from '../src/config.ts';
import { createServer } from '../src/server.ts';
import { backgroundCheckpointer, connectionOf, inlineWalFlush, parseExperiments, patchSignalWithoutPreread } from './experiments.ts';
import { breakdown, instrument } from './instrument.ts';
import { populate } from './scale-setup.ts';
import { prepareWorkload, startInstances, type Workload } from './setup.ts';

const BENCH_ADMIN = { user: 'admin', password: 'bench-admin-password' };

const send = (msg: object): void => {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
};

async function main(): Promise<void> {
  const dir = process.env.BENCH_DATABASE_URL ? null : mkdtempSync(join(tmpdir(), 'countersign-bench-'));
  const databaseUrl = process.env.BENCH_DATABASE_URL || `sqlite:${join(dir!, 'bench.db')}`;
  // Production defaults (reconciler every 5 s, auth cache 60 s), except what a benchmark must fix.
  const config: Config = {
    // What bench/run.ts varies between HTTP lines reaches the server: the bearer line's issuer
    // (COUNTERSIGN_OIDC_*) and the audit-chain-off line (COUNTERSIGN_AUDIT_LOG).
    ...loadConfig(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('COUNTERSIGN_OIDC_') || k === 'COUNTERSIGN_AUDIT_LOG'))),
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    adminUser: BENCH_ADMIN.user,
    adminPassword: BENCH_ADMIN.password,
    // BENCH_LOG_LEVEL=warn shows the server's warnings (e.g. why a request got 503) in the run's output.
    logLevel: (process.env.BENCH_LOG_LEVEL as 'warn' | undefined) ?? 'silent',
  };
  const traced = process.env.BENCH_BREAKDOWN === '1';
  if (traced) instrument();
  const server = await createServer(config);
  const experiments = parseExperiments(process.env.BENCH_EXPERIMENTS);
  if (experiments.includes('no-preread')) patchSignalWithoutPreread();
  if (experiments.includes('inline-wal-flush')) inlineWalFlush(server.services.store);
  const checkpointer = experiments.includes('bg-checkpoint') && dir ? backgroundCheckpointer(connectionOf(server.services.store), join(dir, 'bench.db')) : null;
  const url = await server.app.listen({ port: 0, host: '127.0.0.1' });

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await checkpointer?.stop();
      await server.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      send({ type: 'closed' });
      process.exit(0);
    })());
  process.on('SIGTERM', () => void close());

  let profiler: Session | null = null;
  let workload: Workload | null = null;

  const rl = createInterface({ input: process.stdin });
  rl.on('close', () => void close());
  rl.on('line', (line) => {
    if (!line.trim()) return;
    const msg = JSON.parse(line) as { cmd: string; approvers?: number; instances?: number; password?: string; path?: string; count?: number };
    (async () => {
      switch (msg.cmd) {
        case 'prepare': {
          const t0 = performance.now();
          const w = await prepareWorkload(server.services.store, server.workflow, { approvers: msg.approvers!, password: msg.password! });
          workload = w;
          const instanceIds = await startInstances(server.workflow, w, msg.instances!);
          send({
            type: 'prepared',
            approvers: w.approvers.map((a) => a.identity.accountName),
            instanceIds,
            definitionId: w.definitionId,
            roleId: w.roleId,
            ms: performance.now() - t0,
          });
          break;
        }
        case 'populate': {
          if (!workload) throw new Error('populate needs prepare first');
          send({ type: 'populated', ...(await populate(server.services.store, server.workflow, workload, msg.count!, msg.password!)) });
          break;
        }
        case 'usage': {
          const elu = performance.eventLoopUtilization();
          send({
            type: 'usage',
            cpu: process.cpuUsage(),
            elu: { idle: elu.idle, active: elu.active },
            rss: process.memoryUsage().rss,
            at: performance.now(),
            breakdown: traced ? breakdown() : undefined,
          });
          break;
        }
        case 'profile-start': {
          profiler = new Session();
          profiler.connect();
          await profiler.post('Profiler.enable');
          await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
          await profiler.post('Profiler.start');
          send({ type: 'profile-started' });
          break;
        }
        case 'profile-stop': {
          const { profile } = await profiler!.post('Profiler.stop');
          profiler!.disconnect();
          profiler = null;
          writeFileSync(msg.path!, JSON.stringify(profile));
          send({ type: 'profile-stopped', path: msg.path });
          break;
        }
        case 'close':
          await close();
          break;
        default:
          send({ type: 'error', message: `unknown command ${msg.cmd}` });
      }
    })().catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  });

  send({ type: 'ready', url, pid: process.pid, databaseUrl: databaseUrl.replace(/\/\/[^@]*@/, '//***@') });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
