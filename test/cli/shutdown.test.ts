import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLocked } from '../support/build.ts';
import { usePostgres } from '../support/database.ts';
import { basic } from '../support/server.ts';
import { startHttp, type HttpStandIn } from '../support/stand-ins/http.ts';

/*
 * SIGTERM for each way of starting the built server: `npm start`, the `countersign` bin, and
 * `node dist/server/cli/main.js serve`. Store-independent (the built server on its own SQLite
 * file), so it runs in the SQLite pass only.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'countersign-stop-'));
/** The built server, copied out of the worktree so another test's build (npm pack) cannot swap it mid-test. */
const APP = join(dir, 'app');
const H = { 'x-keyfactor-requested-with': 'APIClient', 'content-type': 'application/json' };
let n = 0;

interface Started {
  child: ChildProcess;
  base: string;
  exited: Promise<number | null>;
  output: () => string;
}

function start(command: string, args: string[], env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(command, args, {
    cwd: APP,
    env: {
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, `s${n++}.db`)}`,
      COUNTERSIGN_ADMIN_PASSWORD: 'shutdown-admin-pw-1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  return new Promise((ok, fail) => {
    const timer = setInterval(() => {
      const m = /API (http:\/\/[^\s]+)\/KeyfactorAPI/.exec(out);
      if (m) {
        clearInterval(timer);
        ok({ child, base: m[1], exited, output: () => out });
      }
    }, 50);
    exited.then((code) => {
      clearInterval(timer);
      fail(new Error(`exited (${code}) before listening:\n${out}`));
    });
  });
}

const answers = (base: string) =>
  fetch(`${base}/healthz`).then(
    (r) => r.status === 200,
    () => false,
  );

beforeAll(async () => {
  if (usePostgres()) return;
  mkdirSync(APP);
  await buildLocked(async () => cpSync(join(ROOT, 'dist'), join(APP, 'dist'), { recursive: true }));
  cpSync(join(ROOT, 'package.json'), join(APP, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(APP, 'node_modules'));
  // What `npm install` does for the bin: a `countersign` on the PATH linked to the built entry point.
  mkdirSync(join(dir, 'bin'));
  symlinkSync(join(APP, 'dist/server/cli/main.js'), join(dir, 'bin/countersign'));
}, 10 * 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(usePostgres())('SIGTERM stops the server cleanly', () => {
  const ways: [string, string, string[]][] = [
    ['npm start', 'npm', ['start']],
    ['countersign serve', 'countersign', ['serve']],
    ['node dist/server/cli/main.js serve', process.execPath, ['dist/server/cli/main.js', 'serve']],
  ];
  for (const [name, command, args] of ways) {
    it(`${name}: stops accepting, closes the store and exits 0`, async () => {
      const s = await start(command, args);
      expect(await answers(s.base)).toBe(true);
      s.child.kill('SIGTERM');
      expect(await s.exited, s.output()).toBe(0);
      expect(s.output()).toMatch(/SIGTERM: no new requests/);
      expect(s.output()).toMatch(/Stopped\./);
      // npm forwarded the signal to node: nothing is left listening.
      expect(await answers(s.base)).toBe(false);
    }, 60_000);
  }

  it('SIGINT works the same', async () => {
    const s = await start(process.execPath, ['dist/server/cli/main.js', 'serve']);
    s.child.kill('SIGINT');
    expect(await s.exited, s.output()).toBe(0);
    expect(await answers(s.base)).toBe(false);
  }, 60_000);

  it('a step still running when COUNTERSIGN_SHUTDOWN_GRACE_MS ends: exit 1 with a log line', async () => {
    let hang: HttpStandIn | null = null;
    let called!: () => void;
    const reached = new Promise<void>((ok) => (called = ok));
    // Answers nothing: the step holds its job until the grace period is over.
    hang = await startHttp(() => {
      called();
      return new Promise(() => {});
    });
    const s = await start(process.execPath, ['dist/server/cli/main.js', 'serve'], { COUNTERSIGN_SHUTDOWN_GRACE_MS: '1000', COUNTERSIGN_EGRESS_ALLOW: '127.0.0.1,localhost' });
    try {
      const auth = { ...H, authorization: basic('admin', 'shutdown-admin-pw-1') };
      const api = `${s.base}/KeyfactorAPI/Workflow`;
      const def = await (
        await fetch(`${api}/Definitions`, { method: 'POST', headers: auth, body: JSON.stringify({ DisplayName: 'Slow', WorkflowType: 'Expiration', Key: '9' }) })
      ).json();
      const step = (UniqueName: string, ExtensionName: string, next: string | null, ConfigurationParameters = {}) => ({
        UniqueName,
        ExtensionName,
        DisplayName: UniqueName,
        ConfigurationParameters,
        Outputs: next ? { continue: next } : {},
      });
      const steps = [
        step('StartNOOP', 'NOOPStep', 'Call'),
        step('Call', 'RESTRequest', 'EndNOOP', {
          Verb: 'GET',
          URL: `${hang.url}/slow`,
          Headers: {},
          ContentType: 'application/json',
          RequestContent: '',
          DataBucketProperty: 'Answer',
        }),
        step('EndNOOP', 'NOOPStep', null),
      ];
      expect((await fetch(`${api}/Definitions/${def.Id}/Steps`, { method: 'PUT', headers: auth, body: JSON.stringify(steps) })).status).toBe(200);
      expect((await fetch(`${api}/Definitions/${def.Id}/Publish`, { method: 'POST', headers: auth })).status).toBe(200);
      expect((await fetch(`${api}/Instances`, { method: 'POST', headers: auth, body: JSON.stringify({ DefinitionId: def.Id, InitialData: {} }) })).status).toBe(201);
      await reached;
      const sent = Date.now();
      s.child.kill('SIGTERM');
      expect(await s.exited, s.output()).toBe(1);
      expect(Date.now() - sent).toBeLessThan(5_000);
      expect(s.output()).toMatch(/did not finish within COUNTERSIGN_SHUTDOWN_GRACE_MS \(1000 ms\)/);
    } finally {
      s.child.kill('SIGKILL');
      await hang.close();
    }
  }, 60_000);
});
