import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.ts';
import { hashPassword, hashPasswordScrypt } from '../../src/security/password.ts';
import { P } from '../../src/security/permissions.ts';
import { createRole } from '../support/fixtures.ts';
import { ADMIN, basic, startTestApp, type TestApp } from '../support/server.ts';

/*
 * Managed local passwords over real HTTP, on SQLite or PostgreSQL (COUNTERSIGN_TEST_STORE):
 * changing one's own (PUT /Security/My/Password), an administrator's reset
 * (POST /Security/Identities/{id}/Password), the policy, rehash on log-in, and local accounts
 * turned off except the break-glass account.
 */

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

const ENDPOINTS = '/KeyfactorAPI/Status/Endpoints';
const MY_PASSWORD = '/KeyfactorAPI/Security/My/Password';
const resetPath = (id: number) => `/KeyfactorAPI/Security/Identities/${id}/Password`;
const BREACHED = 'Summer2024!-breached';

const dir = mkdtempSync(join(tmpdir(), 'countersign-passwords-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('managed local passwords', () => {
  const log = new MemoryLog();
  let app: TestApp;
  let n = 0;

  beforeAll(async () => {
    const breachedFile = join(dir, 'breached.txt');
    // One plain line, one SHA-1 line (of "correct-horse-9", as Have I Been Pwned writes them), mixed.
    const sha1 = createHash('sha1').update('correct-horse-9').digest('hex').toUpperCase();
    writeFileSync(breachedFile, `${BREACHED}\n${sha1}:12\n`);
    app = await startTestApp(
      // All requests come from 127.0.0.1: the per-address limit would otherwise end the guessing cases early.
      { logLevel: 'info', passwords: { policy: { minLength: 10, maxLength: 64 }, breachedFile }, login: { maxFailuresPerClient: 10_000 } },
      { logger: createLogger('info', log) },
    );
  }, 60_000);
  afterAll(() => app?.close());

  /** A new User with a password through the API; its id and Basic header. */
  async function newUser(password = 'first-password-1'): Promise<{ id: number; name: string; auth: string; password: string }> {
    const name = `CORP\\password-user-${++n}`;
    const res = await app.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: name, Password: password } });
    expect(res.status).toBe(200);
    return { id: res.body.Id, name, auth: basic(name, password), password };
  }

  const signsIn = async (auth: string): Promise<number> => (await app.call('GET', ENDPOINTS, { auth })).status;
  const storedHash = async (id: number) => (await app.server.services.store.getIdentity(id))!.passwordHash;

  it('a user changes their own password: the old one is refused at once, the new one works, the event is logged without the password', async () => {
    const u = await newUser();
    expect(await signsIn(u.auth)).toBe(200); // cached on this node now
    const res = await app.call('PUT', MY_PASSWORD, { auth: u.auth, body: { CurrentPassword: u.password, NewPassword: 'second-password-2' }, unchecked: true });
    expect(res.status).toBe(204);
    expect(await signsIn(u.auth)).toBe(401);
    expect(await signsIn(basic(u.name, 'second-password-2'))).toBe(200);
    const event = log.lines().find((l) => l.event === 'identity.password_changed' && l.identityId === u.id);
    expect(event).toMatchObject({ accountName: u.name, level: 30 });
    expect(log.text.join('')).not.toContain('second-password-2');
    expect(log.text.join('')).not.toContain(u.password);
  });

  it('a wrong current password changes nothing (400), and counts against the account lock-out', async () => {
    const u = await newUser();
    const before = await storedHash(u.id);
    const res = await app.call('PUT', MY_PASSWORD, { auth: u.auth, body: { CurrentPassword: 'not-the-password', NewPassword: 'second-password-2' }, unchecked: true });
    expect(res.status).toBe(400);
    expect(res.body.ErrorCode).toBe('0xA5C00003');
    expect(res.body.Message).toMatch(/CurrentPassword/);
    expect(await storedHash(u.id)).toBe(before);
    expect(await signsIn(u.auth)).toBe(200);
    expect(await signsIn(basic(u.name, 'second-password-2'))).toBe(401);
    // Guessing through the change endpoint locks the account as guessing at log-in does.
    let last = 0;
    for (let i = 0; i < 10 && last !== 429; i++)
      last = (await app.call('PUT', MY_PASSWORD, { auth: u.auth, body: { CurrentPassword: `guess-${i}-xxxx`, NewPassword: 'second-password-2' }, unchecked: true })).status;
    expect(last).toBe(429);
    expect(await storedHash(u.id)).toBe(before);
  });

  it('refuses new passwords the policy does not allow, with Keyfactor-shaped 400s naming the rule', async () => {
    const u = await newUser();
    const before = await storedHash(u.id);
    const cases: [unknown, RegExp][] = [
      [{ CurrentPassword: u.password, NewPassword: 'short-1' }, /at least 10 characters/],
      [{ CurrentPassword: u.password, NewPassword: 'x'.repeat(65) }, /at most 64 characters/],
      [{ CurrentPassword: u.password, NewPassword: BREACHED }, /breaches/],
      [{ CurrentPassword: u.password, NewPassword: 'correct-horse-9' }, /breaches/], // listed by its SHA-1
      [{ CurrentPassword: u.password, NewPassword: u.name.split('\\')[1] }, /account name/],
      [{ CurrentPassword: u.password, NewPassword: u.password }, /differ/],
      [{ CurrentPassword: u.password }, /NewPassword is required/],
      [{ CurrentPassword: u.password, NewPassword: 12345678901 }, /NewPassword must be a string/],
      [{ NewPassword: 'second-password-2' }, /CurrentPassword is required/],
    ];
    for (const [body, message] of cases) {
      const res = await app.call('PUT', MY_PASSWORD, { auth: u.auth, body, unchecked: true });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual({ ErrorCode: '0xA5C00003', Message: expect.stringMatching(message) });
    }
    expect(await storedHash(u.id)).toBe(before);
    // The same policy at creation and at reset.
    const created = await app.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: 'CORP\\breached', Password: BREACHED } });
    expect(created.status).toBe(400);
    expect(created.body.Message).toMatch(/breaches/);
    const reset = await app.call('POST', resetPath(u.id), { body: { Password: 'short-1' }, unchecked: true });
    expect(reset.status).toBe(400);
    expect(reset.body.Message).toMatch(/at least 10/);
    expect(await app.call('PUT', MY_PASSWORD, { auth: null, body: { CurrentPassword: 'x', NewPassword: 'y' }, unchecked: true })).toMatchObject({ status: 401 });
  });

  it('an administrator resets a password: it works at once, even for a locked-out account, and the event names who', async () => {
    const u = await newUser();
    // Lock the account out by guessing (before the right password is ever cached).
    for (let i = 0; i < 6; i++) await signsIn(basic(u.name, `wrong-${i}`));
    expect(await signsIn(u.auth)).toBe(429);
    const res = await app.call('POST', resetPath(u.id), { body: { Password: 'reset-password-3' }, unchecked: true });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(await signsIn(basic(u.name, 'reset-password-3'))).toBe(200);
    expect(await signsIn(u.auth)).toBe(401);
    const event = log.lines().find((l) => l.event === 'identity.password_reset' && l.identityId === u.id);
    expect(event).toMatchObject({ accountName: u.name, by: ADMIN.user });
    expect(log.text.join('')).not.toContain('reset-password-3');
    expect((await app.call('POST', resetPath(999_999), { body: { Password: 'reset-password-3' }, unchecked: true })).status).toBe(404);
    expect((await app.call('POST', resetPath(u.id), { body: {}, unchecked: true })).status).toBe(400);
  });

  it('a non-administrator cannot reset others; a security administrator cannot reset one who holds more than they do', async () => {
    const plain = await newUser();
    const victim = await newUser();
    const res = await app.call('POST', resetPath(victim.id), { auth: plain.auth, body: { Password: 'taken-over-123' }, unchecked: true });
    expect(res.status).toBe(403);
    expect(res.body.ErrorCode).toBe('0xA5C00011');
    expect(await signsIn(victim.auth)).toBe(200);

    // A delegated security administrator (security permissions only) vs. the full administrator.
    const delegate = await newUser();
    await createRole(app.server.services.store, `Security admins ${delegate.id}`, [P.securityRead, P.securityModify], [delegate.id]);
    const admin = await app.server.services.store.findIdentityByName(ADMIN.user);
    const up = await app.call('POST', resetPath(admin!.id), { auth: delegate.auth, body: { Password: 'taken-over-123' }, unchecked: true });
    expect(up.status).toBe(403);
    expect(up.body.Message).toMatch(/do not hold/);
    expect(await signsIn(app.adminAuth)).toBe(200);
    // Someone holding less than they do: allowed.
    const down = await app.call('POST', resetPath(plain.id), { auth: delegate.auth, body: { Password: 'delegated-reset-1' }, unchecked: true });
    expect(down.status).toBe(204);
    expect(await signsIn(basic(plain.name, 'delegated-reset-1'))).toBe(200);
  });

  it('groups have no password to set', async () => {
    const g = await app.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: 'CORP\\Some Group', IdentityType: 'Group' } });
    expect(g.status).toBe(200);
    const res = await app.call('POST', resetPath(g.body.Id), { body: { Password: 'group-password-1' }, unchecked: true });
    expect(res.status).toBe(400);
    expect(res.body.Message).toMatch(/Group/);
  });

  it('remakes an scrypt or weaker argon2id hash at the next successful log-in (seen in the store), never on a failed one', async () => {
    const store = app.server.services.store;
    const u = await newUser();
    await store.updateIdentity(u.id, { passwordHash: await hashPasswordScrypt(u.password, 1024) });
    expect(await signsIn(basic(u.name, 'wrong-password-x'))).toBe(401);
    expect(await storedHash(u.id)).toMatch(/^scrypt\$/);
    expect(await signsIn(u.auth)).toBe(200);
    const rehashed = await storedHash(u.id);
    expect(rehashed).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);

    await store.updateIdentity(u.id, { passwordHash: await hashPassword(u.password, { memoryKiB: 8192, timeCost: 1, parallelism: 1 }) });
    expect(await signsIn(u.auth)).toBe(200);
    expect(await storedHash(u.id)).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    // Up to date: left alone (a fresh authenticator would verify again and find nothing to do).
    const current = await storedHash(u.id);
    expect(await signsIn(basic(u.name, u.password))).toBe(200);
    expect(await storedHash(u.id)).toBe(current);
  });
});

describe('local accounts off', () => {
  let app: TestApp;
  beforeAll(async () => {
    // The break-glass account is the bootstrap administrator, named in another case.
    app = await startTestApp({ localAccounts: { enabled: false, breakGlass: ADMIN.user.toUpperCase() } });
  }, 60_000);
  afterAll(() => app?.close());

  it('only the break-glass account signs in with a password; others are refused like a wrong password', async () => {
    expect((await app.call('GET', ENDPOINTS)).status).toBe(200);
    const created = await app.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: 'CORP\\local-user', Password: 'local-password-1' } });
    expect(created.status).toBe(200);
    const refused = await app.call('GET', ENDPOINTS, { auth: basic('CORP\\local-user', 'local-password-1') });
    const wrong = await app.call('GET', ENDPOINTS, { auth: basic('CORP\\local-user', 'not-the-password') });
    expect(refused.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(refused.text).toBe(wrong.text);
    expect(refused.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
    // An administrator's reset does not open a way in either.
    expect((await app.call('POST', resetPath(created.body.Id), { body: { Password: 'reset-password-3' }, unchecked: true })).status).toBe(204);
    expect((await app.call('GET', ENDPOINTS, { auth: basic('CORP\\local-user', 'reset-password-3') })).status).toBe(401);
    // The break-glass administrator can change their own password and keeps signing in.
    const change = await app.call('PUT', MY_PASSWORD, { body: { CurrentPassword: ADMIN.password, NewPassword: 'break-glass-password-2' }, unchecked: true });
    expect(change.status).toBe(204);
    expect((await app.call('GET', ENDPOINTS, { auth: basic(ADMIN.user, 'break-glass-password-2') })).status).toBe(200);
  });
});
