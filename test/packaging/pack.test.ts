import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLocked } from '../support/build.ts';
import { basic } from '../support/server.ts';
import { usePostgres } from '../support/database.ts';

/*
 * What an operator does: pack the project, install the tarball into an empty folder with
 * production dependencies only, start `countersign serve`, use it, stop it with SIGTERM.
 * Store-independent, so it runs once (in the SQLite pass of the suite).
 */
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const H = { 'x-keyfactor-requested-with': 'APIClient', 'content-type': 'application/json' };
const dir = mkdtempSync(join(tmpdir(), 'countersign-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function listening(child: ChildProcess): Promise<string> {
  return new Promise((ok, fail) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /API (http:\/\/[^\s]+)\/KeyfactorAPI/.exec(out);
      if (m) ok(m[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => fail(new Error(`countersign exited (${code}) before listening:\n${out}`)));
  });
}

describe.skipIf(usePostgres())('the packed package', () => {
  it('installs with production dependencies only, serves the approval flow, and exits 0 on SIGTERM', { timeout: 15 * 60_000 }, async () => {
    // Built under the lock the other build-using test shares, packed without rebuilding (prepack).
    await buildLocked(() => run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 << 20 }));
    const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
    const app = join(dir, 'app');
    await run('mkdir', ['-p', app]);
    // npm 11 runs install scripts only of packages the installing project allows.
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'operator', private: true, allowScripts: { 'better-sqlite3': true } }));
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], { cwd: app, maxBuffer: 64 << 20 });
    const installed = readdirSync(join(app, 'node_modules'));
    for (const dev of ['tsx', 'typescript', 'vite', 'vitest', 'react']) expect(installed).not.toContain(dev);

    const server = spawn(join(app, 'node_modules/.bin/countersign'), ['serve', '--demo'], {
      cwd: app,
      env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', COUNTERSIGN_ADMIN_PASSWORD: 'packaged-admin-password-1', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((ok) => server.once('exit', (code) => ok(code)));
    try {
      const base = `${await listening(server)}/KeyfactorAPI`;
      const as = (user: string, password: string) => ({ ...H, authorization: basic(user, password) });
      const inbox = await (await fetch(`${base}/Workflow/Instances/AssignedToMe`, { headers: as('CORP\\alice', 'alice-demo-1') })).json();
      const id = inbox[0].Id as string;
      for (const [user, password] of [
        ['CORP\\alice', 'alice-demo-1'],
        ['CORP\\bob', 'bob-demo-1'],
      ]) {
        const r = await fetch(`${base}/Workflow/Instances/${id}/Signals`, {
          method: 'POST',
          headers: as(user, password),
          body: JSON.stringify({ SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: 'True', Comment: 'packaged' } }),
        });
        expect(r.status).toBe(204);
      }
      // The demo's requests are real enrollments: after the second approval the EnrollStep issues
      // the certificate (a job), then the instance completes.
      let done: { Status: number } = { Status: 0 };
      for (const deadline = Date.now() + 60_000; done.Status !== 3 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 250)))
        done = await (await fetch(`${base}/Workflow/Instances/${id}`, { headers: as('CORP\\alice', 'alice-demo-1') })).json();
      expect(done.Status).toBe(3);
      const portal = await fetch(`${base.replace('/KeyfactorAPI', '')}/KeyfactorPortal/`);
      expect(portal.status).toBe(200);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
