import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemo } from '../../src/cli/demo.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { basic, startTestApp } from '../support/server.ts';

/*
 * The operator's command line, run as the operator runs it (a child process against the store
 * DATABASE_URL names), on SQLite, or on PostgreSQL when COUNTERSIGN_TEST_STORE=postgres.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const EXPORTS = '/work/shared/keyfactor/exports';
const dir = mkdtempSync(join(tmpdir(), 'countersign-cli-'));
const urls: string[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { url: string; stdin?: string; env?: Record<string, string> }): Promise<Run> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: opts.url, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', fail);
    child.on('exit', (code) => ok({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

/** A fresh, empty database: a new SQLite file or a new PostgreSQL schema. */
async function freshUrl(): Promise<string> {
  const url = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(dir, `${urls.length}.db`)}`;
  urls.push(url);
  return url;
}

/** Asks a real server on that store whether the credentials sign in. */
async function signsIn(url: string, user: string, password: string): Promise<boolean> {
  const t = await startTestApp({ databaseUrl: url, adminPassword: undefined });
  try {
    const r = await t.call('GET', '/KeyfactorAPI/Workflow/Definitions', { auth: basic(user, password), unchecked: true });
    return r.status === 200;
  } finally {
    await t.close();
  }
}

let url: string;
beforeAll(async () => {
  // A store with the administrator "admin" and the demo (users, roles, a definition), then stopped.
  url = await freshUrl();
  const t = await startTestApp({ databaseUrl: url });
  await loadDemo(t.server.services.store, t.server.workflow, t.server.certificates, () => {});
  await t.close();
}, 120_000);

afterAll(async () => {
  if (usePostgres()) for (const u of urls) await dropTestDatabase(u);
  rmSync(dir, { recursive: true, force: true });
});

describe('usage and exit codes', () => {
  it('--help everywhere exits 0; unknown commands, missing arguments and bad flag combinations exit 2', async () => {
    const top = await cli(['--help'], { url });
    expect(top.code).toBe(0);
    for (const group of ['serve', 'migrate', 'identities', 'roles', 'definitions', 'backup', 'config']) expect(top.stdout).toContain(group);
    expect(top.stdout).toMatch(/Exit codes: 0 ok, 1 failure, 2 usage/);
    for (const args of [
      ['identities', '--help'],
      ['identities', 'reset-password', '--help'],
      ['migrate', 'status', '--help'],
      ['serve', '--help'],
    ]) {
      const r = await cli(args, { url });
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: countersign/);
    }
    expect((await cli(['frobnicate'], { url })).code).toBe(2);
    expect((await cli(['identities', 'add'], { url })).code).toBe(2);
    expect((await cli(['migrate'], { url })).code).toBe(2);
    const reseed = await cli(['serve', '--reseed'], { url });
    expect(reseed.code).toBe(2);
    expect(reseed.stderr).toMatch(/--reseed goes with --demo/);
  }, 60_000);
});

describe('migrate', () => {
  it('status lists pending migrations (exit 1) without applying them; up applies them; status is then 0', async () => {
    const fresh = await freshUrl();
    const before = await cli(['migrate', 'status', '--json'], { url: fresh });
    expect(before.code).toBe(1);
    const b = JSON.parse(before.stdout);
    expect(b.pending).toBeGreaterThanOrEqual(3);
    expect(b.migrations.every((m: { appliedAt: string | null }) => m.appliedAt === null)).toBe(true);
    // Status changed nothing: still pending.
    expect((await cli(['migrate', 'status'], { url: fresh })).stdout).toMatch(/pending: run countersign migrate up/);
    const up = await cli(['migrate', 'up'], { url: fresh });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/Applied: 0001_init\.sql/);
    const after = await cli(['migrate', 'status', '--json'], { url: fresh });
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout).migrations.every((m: { appliedAt: string | null }) => m.appliedAt !== null)).toBe(true);
    expect((await cli(['migrate', 'up'], { url: fresh })).stdout).toMatch(/up to date/);
  }, 60_000);
});

describe('identities and roles', () => {
  it('reset-password admin prints a new password once; it signs in, the old one does not, nothing is deleted', async () => {
    const before = JSON.parse((await cli(['identities', 'list', '--json'], { url })).stdout);
    const r = await cli(['identities', 'reset-password', 'admin'], { url });
    expect(r.code, r.stderr).toBe(0);
    const password = /Password \(shown once\): (\S+)/.exec(r.stdout)![1];
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(await signsIn(url, 'admin', password)).toBe(true);
    expect(await signsIn(url, 'admin', 'admin-test-password')).toBe(false);
    const after = JSON.parse((await cli(['identities', 'list', '--json'], { url })).stdout);
    expect(after).toEqual(before);
    expect(JSON.stringify(after)).not.toMatch(/scrypt|passwordHash/);
  }, 120_000);

  it('reset-password --password-stdin takes the password from a pipe and prints none; too short is refused (exit 1)', async () => {
    const short = await cli(['identities', 'reset-password', 'CORP\\bob', '--password-stdin'], { url, stdin: 'short\n' });
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/at least 8 characters/);
    const r = await cli(['identities', 'reset-password', 'CORP\\bob', '--password-stdin', '--json'], { url, stdin: 'bob-new-password-2\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ id: expect.any(Number), accountName: 'CORP\\bob' });
    expect(await signsIn(url, 'CORP\\bob', 'bob-new-password-2')).toBe(true);
    expect((await cli(['identities', 'reset-password', 'CORP\\nobody'], { url })).code).toBe(1);
  }, 120_000);

  it('add creates an identity; roles grant gives it a role; disable stops its sign-in and keeps its roles', async () => {
    const add = await cli(['identities', 'add', 'CORP\\dave', '--email', 'dave@corp.example', '--json'], { url });
    expect(add.code, add.stderr).toBe(0);
    const dave = JSON.parse(add.stdout);
    expect(dave).toMatchObject({ accountName: 'CORP\\dave', email: 'dave@corp.example', canSignIn: true });
    expect((await cli(['identities', 'add', 'corp\\DAVE'], { url })).code).toBe(1);

    const grant = await cli(['roles', 'grant', 'pki approvers', 'CORP\\dave'], { url });
    expect(grant.code, grant.stderr).toBe(0);
    expect((await cli(['roles', 'grant', 'PKI Approvers', String(dave.id)], { url })).stdout).toMatch(/already holds/);
    expect((await cli(['roles', 'grant', 'No Such Role', 'CORP\\dave'], { url })).code).toBe(1);
    const roles = JSON.parse((await cli(['roles', 'list', '--json'], { url })).stdout);
    expect(roles.find((r: { name: string }) => r.name === 'PKI Approvers').members).toEqual(['CORP\\alice', 'CORP\\bob', 'CORP\\dave']);
    expect(await signsIn(url, 'CORP\\dave', dave.password)).toBe(true);

    expect((await cli(['identities', 'disable', 'CORP\\dave'], { url })).code).toBe(0);
    expect(await signsIn(url, 'CORP\\dave', dave.password)).toBe(false);
    const listed = JSON.parse((await cli(['identities', 'list', '--json'], { url })).stdout);
    expect(listed.find((i: { accountName: string }) => i.accountName === 'CORP\\dave').canSignIn).toBe(false);
    const stillMember = JSON.parse((await cli(['roles', 'list', '--json'], { url })).stdout);
    expect(stillMember.find((r: { name: string }) => r.name === 'PKI Approvers').members).toContain('CORP\\dave');
  }, 180_000);
});

describe('definitions', () => {
  it("imports Keyfactor's six real exports and exports them back in the same shape", async () => {
    const fresh = await freshUrl();
    const files = readdirSync(EXPORTS).map((f) => join(EXPORTS, f));
    const imp = await cli(['definitions', 'import', ...files, '--json'], { url: fresh });
    expect(imp.code, imp.stdout + imp.stderr).toBe(0);
    const results = JSON.parse(imp.stdout);
    expect(results).toHaveLength(6);
    expect(results.filter((r: { published: boolean }) => r.published)).toHaveLength(5);

    const out = join(dir, 'exported.json');
    expect((await cli(['definitions', 'export', '--out', out], { url: fresh })).code).toBe(0);
    const exported = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(out, 'utf8')));
    expect(exported.map((d: { DisplayName: string }) => d.DisplayName).sort()).toEqual([
      '30 Day Auto Renew',
      '30 Day Expiration',
      '60 Day Expiration',
      '90 Day Expiration',
      'Auto Renew Failure',
      'Entra Group Emails',
    ]);
    const original = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(EXPORTS, '30-day-expiration.json'), 'utf8')));
    const mine = exported.find((d: { DisplayName: string }) => d.DisplayName === '30 Day Expiration');
    expect(Object.keys(mine)).toEqual(expect.arrayContaining(Object.keys(original)));
    expect(mine.Steps.map((s: { UniqueName: string }) => s.UniqueName).sort()).toEqual(original.Steps.map((s: { UniqueName: string }) => s.UniqueName).sort());
    // Export never overwrites a file.
    expect((await cli(['definitions', 'export', '--out', out], { url: fresh })).code).toBe(1);
  }, 120_000);

  it('a definition keeps its role ids for the same store; --exportable removes them; an invalid file imports nothing (exit 1)', async () => {
    const demo = JSON.parse((await cli(['definitions', 'export'], { url })).stdout);
    expect(demo).toHaveLength(1);
    const roleIds = (d: { Steps: { Signals: { RoleIds: number[] }[] }[] }) => d.Steps.flatMap((s) => s.Signals.flatMap((g) => g.RoleIds));
    expect(roleIds(demo[0]).length).toBeGreaterThan(0);
    const portable = JSON.parse((await cli(['definitions', 'export', '--exportable', '--id', demo[0].Id], { url })).stdout);
    expect(portable.DisplayName).toBe('Web Server Enrollment');
    expect(roleIds(portable)).toEqual([]);

    const file = join(dir, 'demo.json');
    writeFileSync(file, JSON.stringify({ ...demo[0], Key: '77' }));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...demo[0], Key: '78', Steps: [{ UniqueName: 'x', ExtensionName: 'NoSuchStep' }] }));
    const r = await cli(['definitions', 'import', bad, file], { url });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/bad\.json: not imported: .*NoSuchStep/);
    expect(r.stdout).toMatch(/demo\.json: imported as [0-9a-f-]{36} 'Web Server Enrollment', published/);
    const after = JSON.parse((await cli(['definitions', 'export'], { url })).stdout);
    expect(after.map((d: { Key: string }) => d.Key).sort()).toEqual(['2', '77']);

    // Another store has no such roles: the approval step cannot validate, and nothing is left behind.
    const fresh = await freshUrl();
    const elsewhere = await cli(['definitions', 'import', file], { url: fresh });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stdout).toMatch(/not imported: .*role/i);
    expect(JSON.parse((await cli(['definitions', 'export'], { url: fresh })).stdout)).toEqual([]);
    expect((await cli(['definitions', 'import', join(dir, 'missing.json')], { url: fresh })).code).toBe(1);
  }, 120_000);
});

describe('backup and config', () => {
  it.skipIf(usePostgres())(
    'backup copies the SQLite database online into a new file, and never overwrites one',
    async () => {
      const file = join(dir, 'backup.db');
      const r = await cli(['backup', file], { url });
      expect(r.code, r.stderr).toBe(0);
      const copy = new Database(file, { readonly: true });
      try {
        expect((copy.prepare('SELECT COUNT(*) AS n FROM instances').get() as { n: number }).n).toBe(3);
        expect((copy.prepare("SELECT COUNT(*) AS n FROM identities WHERE account_name = 'admin'").get() as { n: number }).n).toBe(1);
      } finally {
        copy.close();
      }
      expect((await cli(['backup', file], { url })).code).toBe(1);
    },
    60_000,
  );

  it.runIf(usePostgres())(
    'backup on PostgreSQL prints the pg_dump command without the password and exits 1',
    async () => {
      const withPassword = url.replace('postgres://postgres@', 'postgres://postgres:s3cret-pw@');
      const file = join(dir, 'pg.dump');
      const r = await cli(['backup', file], { url: withPassword });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/pg_dump --format=custom --schema=cs_[0-9a-f]+ /);
      expect(r.stderr).not.toContain('s3cret-pw');
      expect(existsSync(file)).toBe(false);
    },
    60_000,
  );

  it('config print shows the effective configuration with every secret masked; an invalid setting exits 1', async () => {
    const secrets = {
      COUNTERSIGN_ADMIN_PASSWORD: 'admin-secret-value-1',
      COUNTERSIGN_METRICS: 'token:metrics-secret-value-1',
      COUNTERSIGN_SMTP_HOST: 'mail.example',
      COUNTERSIGN_SMTP_FROM: 'cs@example.com',
      COUNTERSIGN_SMTP_PASSWORD: 'smtp-secret-value-1',
      COUNTERSIGN_LINK_SECRET: 'link-secret-value-that-is-32-chars-long!',
      COUNTERSIGN_AUDIT_KEY: 'audit-secret-value-1',
    };
    const r = await cli(['config', 'print', '--json'], { url: 'postgres://cs:db-secret-value-1@db.example/cs', env: { ...secrets, PORT: '9090' } });
    expect(r.code, r.stderr).toBe(0);
    for (const v of [...Object.values(secrets).filter((v) => v.includes('secret')), 'db-secret-value-1']) expect(r.stdout).not.toContain(v);
    const c = JSON.parse(r.stdout);
    expect(c).toMatchObject({
      port: 9090,
      databaseUrl: 'postgres://cs:***@db.example/cs',
      adminPassword: '***',
      auditKey: '***',
      metrics: { mode: 'token', token: '***' },
      shutdownGraceMs: 10000,
    });
    expect(c.steps.smtp).toMatchObject({ host: 'mail.example', password: '***' });
    const bad = await cli(['config', 'print'], { url, env: { COUNTERSIGN_SHUTDOWN_GRACE_MS: 'soon' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/COUNTERSIGN_SHUTDOWN_GRACE_MS must be a whole number/);
  }, 60_000);
});
