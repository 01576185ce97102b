import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS } from '../../src/cli/demo.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { basic } from '../support/server.ts';

/*
 * `countersign serve --demo` and `serve --demo --reseed` as real processes on the same store:
 * the second start adds three waiting requests for the approvers and deletes nothing.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const password = (user: string) => DEMO_USERS.find((u) => u.accountName === user)!.password;
const ALICE = basic('CORP\\alice', password('CORP\\alice'));

let dir: string;
let databaseUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-demo-'));
  databaseUrl = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(dir, 'demo.db')}`;
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (usePostgres()) await dropTestDatabase(databaseUrl);
});

/** Runs `serve` with the flags until it listens; returns its output so far, a caller, and a stop. */
async function serve(...flags: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...flags], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      COUNTERSIGN_ADMIN_PASSWORD: 'admin-test-password',
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s: ${err}`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const m = /listening: API (\S+)\/KeyfactorAPI/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  const get = async (path: string, auth: string) => {
    const res = await fetch(`${base}/KeyfactorAPI${path}`, { headers: { authorization: auth, 'x-keyfactor-requested-with': 'APIClient', accept: 'application/json' } });
    return { status: res.status, body: (await res.json()) as any };
  };
  const stop = async () => {
    child.kill('SIGTERM');
    return exited;
  };
  return { lines, get, stop };
}

describe('serve --demo --reseed', { timeout: 120_000 }, () => {
  it('loads the demo once, then reseeds three waiting requests on the same store without deleting anything', async () => {
    const first = await serve('--demo');
    try {
      expect(first.lines.join('\n')).toMatch(/Demo loaded: definition "Web Server Enrollment"/);
      const waiting = await first.get('/Workflow/Instances/AssignedToMe?ReturnLimit=100', ALICE);
      expect(waiting.status).toBe(200);
      expect(waiting.body).toHaveLength(3);
    } finally {
      expect(await first.stop()).toBe(0);
    }

    // Without --reseed a second start changes nothing.
    const again = await serve('--demo');
    try {
      expect(again.lines.join('\n')).not.toMatch(/Demo/);
      expect((await again.get('/Workflow/Instances/AssignedToMe?ReturnLimit=100', ALICE)).body).toHaveLength(3);
    } finally {
      await again.stop();
    }

    const reseeded = await serve('--demo', '--reseed');
    try {
      expect(reseeded.lines.join('\n')).toMatch(/Demo reseeded: 3 new requests by CORP\\carol wait on "Web Server Enrollment" .*; demo users and roles were already there\./);
      const waiting = await reseeded.get('/Workflow/Instances/AssignedToMe?ReturnLimit=100', ALICE);
      expect(waiting.body).toHaveLength(6);
      expect(waiting.body.filter((i: { Title: string }) => /reseeded/.test(i.Title))).toHaveLength(3);
      const admin = basic('admin', 'admin-test-password');
      expect((await reseeded.get('/Workflow/Definitions', admin)).body).toHaveLength(1);
      const roles = (await reseeded.get('/Security/Roles', admin)).body as { Name: string }[];
      expect(roles.filter((r) => r.Name === 'PKI Approvers' || r.Name === 'Requesters')).toHaveLength(2);
      const identities = (await reseeded.get('/Security/Identities', admin)).body as { AccountName: string }[];
      expect(identities.map((i) => i.AccountName).sort()).toEqual(['CORP\\alice', 'CORP\\bob', 'CORP\\carol', 'admin']);
    } finally {
      await reseeded.stop();
    }
  });

  it('refuses --reseed without --demo', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--reseed'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DATABASE_URL: databaseUrl, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/--reseed goes with --demo/);
  });
});
