import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.ts';
import { noop, startInstance } from '../support/fixtures.ts';
import { ADMIN, basic, startTestApp, type TestApp } from '../support/server.ts';

/** The server's JSON log, written to memory through a real pino destination stream. */
class MemoryLog extends Writable {
  readonly text: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text.push(chunk.toString('utf8'));
    done();
  }
  lines(): Record<string, any>[] {
    return this.text
      .join('')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
  }
}

const USER_PASSWORD = 'log-user-password-1';

describe('the structured log', () => {
  const log = new MemoryLog();
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ logLevel: 'info' }, { logger: createLogger('info', log) });
  });
  afterAll(() => app?.close());

  it('writes JSON lines: access log, security events, no credentials', async () => {
    const created = await app.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: 'logger', Password: USER_PASSWORD } });
    expect(created.status).toBe(200);
    const failed = await app.call('GET', '/KeyfactorAPI/Status/Endpoints', { auth: basic('logger', 'wrong-password-here'), unchecked: true });
    expect(failed.status).toBe(401);
    expect((await app.call('GET', '/KeyfactorAPI/Workflow/Definitions', { auth: basic('logger', USER_PASSWORD), unchecked: true })).status).toBe(403);
    const role = await app.call('POST', '/KeyfactorAPI/Security/Roles', {
      body: { Name: 'Loggers', Description: 'x', Permissions: ['WorkflowDefinitions:Read'], Identities: [{ AccountName: 'logger' }] },
    });
    expect(role.status).toBe(200);
    const def = await app.call('POST', '/KeyfactorAPI/Workflow/Definitions', { body: { DisplayName: 'Logged', Key: 'k', WorkflowType: 'Enrollment' } });
    const D = `/KeyfactorAPI/Workflow/Definitions/${def.body.Id}`;
    expect((await app.call('PUT', `${D}/Steps`, { body: [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP')] })).status).toBe(200);
    expect((await app.call('POST', `${D}/Publish`)).status).toBe(200);
    // Events whose audit entry is written with the action (the outbox) still log their line after the commit.
    const instanceId = await startInstance(app, def.body.Id);
    expect((await app.call('DELETE', `/KeyfactorAPI/Workflow/Instances/${instanceId}`)).status).toBe(204);
    // A successful call with Basic credentials.
    expect((await app.call('GET', '/KeyfactorAPI/Workflow/Definitions', { unchecked: true })).status).toBe(200);
    await app.close();
    app = undefined as unknown as TestApp;

    const raw = log.text.join('');
    const lines = log.lines();
    const events = lines.filter((l) => l.event);
    expect(events.map((e) => e.event)).toEqual([
      'identity.created',
      'login.failed',
      'role.created',
      'definition.created',
      'definition.changed',
      'definition.published',
      'instance.started',
      'instance.deleted',
    ]);
    expect(events.every((e) => e.level === 30)).toBe(true);
    expect(events.find((e) => e.event === 'login.failed')).toMatchObject({ accountName: 'logger', remoteAddress: '127.0.0.1' });
    expect(events.find((e) => e.event === 'role.created')).toMatchObject({ name: 'Loggers', by: ADMIN.user });
    expect(events.find((e) => e.event === 'definition.published')).toMatchObject({ definitionId: def.body.Id, version: 1 });
    expect(events.find((e) => e.event === 'instance.deleted')).toMatchObject({ instanceId, by: ADMIN.user });

    const access = lines.filter((l) => l.msg === 'request');
    expect(access.length).toBeGreaterThanOrEqual(8);
    const last = access.at(-1)!;
    expect(last).toMatchObject({ method: 'GET', route: '/KeyfactorAPI/Workflow/Definitions', status: 200, account: ADMIN.user, remoteAddress: '127.0.0.1' });
    expect(typeof last.reqId).toBe('string');
    expect(typeof last.durationMs).toBe('number');
    expect(access.find((l) => l.status === 401)).toMatchObject({ account: null });
    expect(access.find((l) => l.status === 403)).toMatchObject({ account: 'logger' });

    for (const secret of [USER_PASSWORD, ADMIN.password, 'wrong-password-here', app?.adminAuth ?? basic(ADMIN.user, ADMIN.password), basic('logger', USER_PASSWORD)])
      expect(raw).not.toContain(secret);
    expect(raw.toLowerCase()).not.toContain('authorization');
  });
});

describe('a generated administrator password', () => {
  it('reaches the operator callback, never the log', async () => {
    const log = new MemoryLog();
    const shown: string[] = [];
    const first = await startTestApp({ logLevel: 'info', adminPassword: undefined }, { logger: createLogger('info', log), onAdminCreated: (_a, pw) => shown.push(pw) });
    await first.close();
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(log.lines().some((l) => /administrator account/.test(l.msg))).toBe(true);
    expect(log.text.join('')).not.toContain(shown[0]);
  });
});

describe('the source', () => {
  it('has no console.* outside the CLI and the portal app (everything logs through the one logger)', () => {
    const root = join(import.meta.dirname, '../../src');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        const rel = path.slice(root.length + 1).replaceAll('\\', '/');
        if (rel === 'cli' || rel === 'portal/app') continue;
        if (statSync(path).isDirectory()) walk(path);
        else if (/\.tsx?$/.test(name) && /\bconsole\./.test(readFileSync(path, 'utf8'))) offenders.push(rel);
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});

describe('createLogger', () => {
  it('redacts credential headers wherever a caller logs them', () => {
    const log = new MemoryLog();
    createLogger('info', log).info({ req: { headers: { authorization: 'Basic c2VjcmV0', cookie: 'sid=s3cr3t', accept: 'x' } } }, 'headers');
    const [line] = log.lines();
    expect(line!.req.headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]', accept: 'x' });
  });

  it('redacts the fields of a password change or reset, should a body ever reach a line', () => {
    const log = new MemoryLog();
    createLogger('info', log).info({ body: { CurrentPassword: 'old-secret-1', NewPassword: 'new-secret-2', Password: 'set-secret-3' }, NewPassword: 'top-4' }, 'body');
    expect(log.text.join('')).not.toMatch(/secret|top-4/);
    expect(log.lines()[0]!.body).toEqual({ CurrentPassword: '[redacted]', NewPassword: '[redacted]', Password: '[redacted]' });
  });
});
