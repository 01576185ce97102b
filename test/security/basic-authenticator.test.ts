import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { RetryLaterError } from '../../src/domain/errors.ts';
import { lockDurationMs, DEFAULT_LOGIN_THROTTLE } from '../../src/domain/login-throttle.ts';
import { BasicAuthenticator } from '../../src/security/basic-authenticator.ts';
import { Passwords } from '../../src/security/passwords.ts';
import { hashPassword } from '../../src/security/password.ts';
import { P } from '../../src/security/permissions.ts';
import type { SecurityStore } from '../../src/store/store.ts';
import { openTestStore } from '../support/stores.ts';
import type { Identity } from '../../src/store/store.ts';
import { newRole } from '../support/fixtures.ts';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

const role = newRole;

let aliceHash: string;
let colonHash: string;
beforeAll(async () => {
  [aliceHash, colonHash] = await Promise.all([hashPassword('alice-secret'), hashPassword('pa:ss:word')]);
});

// Real argon2id on a shared 2-core machine: allow time for the hashes.
describe('BasicAuthenticator', { timeout: 90_000 }, () => {
  let store: SecurityStore;
  let clock: number;
  let auth: BasicAuthenticator;
  let alice: Identity;

  const newAuth = (ttlMs = 60_000) => new BasicAuthenticator({ store, ttlMs, now: () => clock });

  beforeEach(async () => {
    store = await openTestStore();
    clock = 1_700_000_000_000;
    alice = await store.createIdentity({
      accountName: 'CORP\\Alice',
      identityType: 'User',
      sid: null,
      email: null,
      passwordHash: aliceHash,
      createdAt: new Date(clock).toISOString(),
    });
    auth = newAuth();
  });

  it('signs in DOMAIN\\user, case-insensitively, with roles and permissions of enabled roles only', async () => {
    const readers = await store.createRole(role('Readers', [P.instancesReadAll, P.definitionsRead], [alice.id]));
    await store.createRole(role('Off', ['/'], [alice.id], { enabled: false }));
    const viaClaim = await store.createRole(
      role('ViaClaim', [P.securityRead], [], { claims: [{ claimType: 0, claimValue: 'corp\\alice', providerScheme: 'x', description: '' }] }),
    );
    const p = await auth.authenticate(basic('corp\\ALICE', 'alice-secret'), '10.0.0.1');
    expect(p?.identity.id).toBe(alice.id);
    expect(p?.roleIds).toEqual([readers.id, viaClaim.id]);
    expect(p?.permissions).toEqual([P.securityRead, P.definitionsRead, P.instancesReadAll].sort());
    expect(auth.challenge).toBe('Basic realm="Countersign", charset="UTF-8"');
  });

  it('accepts a bare user name when exactly one DOMAIN\\user matches', async () => {
    expect((await auth.authenticate(basic('alice', 'alice-secret'), 'ip'))?.identity.id).toBe(alice.id);
    await store.createIdentity({ ...alice, accountName: 'OTHER\\alice', passwordHash: aliceHash });
    const fresh = newAuth();
    expect(await fresh.authenticate(basic('alice', 'alice-secret'), 'ip')).toBeNull();
    // The exact name still works, and an exact bare name wins over suffix matches.
    expect((await fresh.authenticate(basic('OTHER\\alice', 'alice-secret'), 'ip'))?.identity.accountName).toBe('OTHER\\alice');
    const bare = await store.createIdentity({ ...alice, accountName: 'alice', passwordHash: aliceHash });
    expect((await newAuth().authenticate(basic('alice', 'alice-secret'), 'ip'))?.identity.id).toBe(bare.id);
  });

  it('splits user and password at the first colon', async () => {
    await store.createIdentity({ ...alice, accountName: 'carol', passwordHash: colonHash });
    expect((await auth.authenticate(basic('carol', 'pa:ss:word'), 'ip'))?.identity.accountName).toBe('carol');
  });

  it('rejects wrong passwords, unknown users, identities without a password and malformed headers', async () => {
    await store.createIdentity({ ...alice, accountName: 'nopass', passwordHash: null });
    expect(await auth.authenticate(basic('CORP\\Alice', 'wrong'), 'a')).toBeNull();
    expect(await auth.authenticate(basic('nobody', 'alice-secret'), 'b')).toBeNull();
    expect(await auth.authenticate(basic('nopass', ''), 'c')).toBeNull();
    expect(await auth.authenticate('Basic !!!notbase64', 'd')).toBeNull();
    expect(await auth.authenticate(`Basic ${Buffer.from('no-colon').toString('base64')}`, 'e')).toBeNull();
    expect(await auth.authenticate('Basic', 'f')).toBeNull();
  });

  it('leaves other schemes and absent headers to other authenticators, without counting failures', async () => {
    expect(await auth.authenticate(undefined, 'x')).toBeNull();
    expect(await auth.authenticate('Bearer abc.def.ghi', 'x')).toBeNull();
    expect(auth.recentClientFailures('x')).toBe(0);
  });

  it('runs the hash for unknown users too (no timing shortcut)', async () => {
    // Counted, not timed: an unknown name costs the same argon2id verification as a known one.
    const passwords = new Passwords();
    const verify = vi.spyOn(passwords, 'verify');
    const counted = new BasicAuthenticator({ store, ttlMs: 60_000, now: () => clock, passwords });
    expect(await counted.authenticate(basic('ghost', 'whatever'), 'ip')).toBeNull();
    expect(verify).toHaveBeenCalledTimes(1);
    const [, againstUnknown] = verify.mock.calls[0]!;
    expect(againstUnknown).toMatch(/^\$argon2id\$/);
    expect(await counted.authenticate(basic('CORP\\Alice', 'whatever'), 'ip')).toBeNull();
    expect(verify).toHaveBeenCalledTimes(2);
    expect(verify.mock.calls[1]![1]).toBe(aliceHash);
    expect(await verify.mock.results[0]!.value).toBe(false);
  });

  it('caches verified credentials (no second hash) until the TTL runs out', async () => {
    const readers = await store.createRole(role('Readers', [P.instancesReadAll], [alice.id]));
    const header = basic('CORP\\Alice', 'alice-secret');
    expect((await auth.authenticate(header, 'ip'))?.roleIds).toEqual([readers.id]);
    const find = vi.spyOn(store, 'findIdentityByName');
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) expect((await auth.authenticate(header, 'ip'))?.identity.id).toBe(alice.id);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(find).not.toHaveBeenCalled();
    clock += 60_001;
    expect((await auth.authenticate(header, 'ip'))?.identity.id).toBe(alice.id);
    expect(find).toHaveBeenCalledTimes(1);
  });

  it('checks each cached credential against a generation read begun after it arrived; a burst shares reads', async () => {
    const header = basic('CORP\\Alice', 'alice-secret');
    await auth.authenticate(header, 'ip');
    const gen = vi.spyOn(store, 'securityGeneration');
    for (let i = 0; i < 5; i++) await auth.authenticate(header, 'ip');
    expect(gen).toHaveBeenCalledTimes(5);
    gen.mockClear();
    // 50 at once: one read in flight, the rest wait for the one queued after it.
    const all = await Promise.all(Array.from({ length: 50 }, () => auth.authenticate(header, 'ip')));
    expect(all.every((p) => p?.identity.id === alice.id)).toBe(true);
    expect(gen.mock.calls.length).toBeLessThanOrEqual(2);
  });

  it('drops the cached principal when a role changes', async () => {
    const r = await store.createRole(role('Readers', [P.instancesReadAll], [alice.id]));
    const header = basic('CORP\\Alice', 'alice-secret');
    expect((await auth.authenticate(header, 'ip'))?.permissions).toEqual([P.instancesReadAll]);

    await store.updateRole(r.id, role('Readers', [P.instancesReadAll, P.securityModify], [alice.id]));
    // The change is seen by the very next request, without the clock moving.
    expect((await auth.authenticate(header, 'ip'))?.permissions).toEqual([P.instancesReadAll, P.securityModify].sort());

    await store.setRoleIdentities(r.id, []);
    const p = await auth.authenticate(header, 'ip');
    expect(p?.roleIds).toEqual([]);
    expect(p?.permissions).toEqual([]);

    // A password change (identity update) invalidates the old credentials entirely.
    await store.updateIdentity(alice.id, { passwordHash: await hashPassword('new-password') });
    expect(await auth.authenticate(header, 'ip')).toBeNull();
    expect((await auth.authenticate(basic('CORP\\Alice', 'new-password'), 'ip'))?.identity.id).toBe(alice.id);

    await store.deleteIdentity(alice.id);
    expect(await auth.authenticate(basic('CORP\\Alice', 'new-password'), 'ip')).toBeNull();
  });

  /** The 429 an attempt is refused with, or null when it was answered. */
  const refusal = async (header: string, ip: string): Promise<RetryLaterError | null> => {
    try {
      await auth.authenticate(header, ip);
      return null;
    } catch (e) {
      if (e instanceof RetryLaterError) return e;
      throw e;
    }
  };

  it('locks an account after 5 failures (any address, any spelling), for 1 min doubling to 1 h; success resets', async () => {
    expect([0, 1, 2, 5, 6, 7, 20].map((n) => lockDurationMs(n, DEFAULT_LOGIN_THROTTLE))).toEqual([60_000, 120_000, 240_000, 1_920_000, 3_600_000, 3_600_000, 3_600_000]);

    const spellings = ['CORP\\Alice', 'alice', 'corp\\ALICE', 'Alice', 'CORP\\alice'];
    for (let i = 0; i < 5; i++) expect(await auth.authenticate(basic(spellings[i]!, `guess-${i}`), `10.0.0.${i}`)).toBeNull();
    // Locked: even the right password is not checked.
    const locked = await refusal(basic('CORP\\Alice', 'alice-secret'), '10.0.0.99');
    expect(locked?.status).toBe(429);
    expect(locked?.code).toBe('0xA5C00012');
    expect(locked?.retryAfterSeconds).toBe(60);
    clock += 30_000;
    expect((await refusal(basic('alice', 'alice-secret'), '10.0.0.98'))?.retryAfterSeconds).toBe(30);

    // After the lock, 5 more attempts; then a lock twice as long.
    clock += 30_000;
    for (let i = 0; i < 5; i++) expect(await auth.authenticate(basic('CORP\\Alice', `again-${i}`), `10.1.0.${i}`)).toBeNull();
    expect((await refusal(basic('CORP\\Alice', 'alice-secret'), '10.1.0.99'))?.retryAfterSeconds).toBe(120);

    // Success (once unlocked) answers at once and resets the count.
    clock += 120_000;
    expect((await auth.authenticate(basic('CORP\\Alice', 'alice-secret'), '10.9.9.9'))?.identity.id).toBe(alice.id);
    for (let i = 0; i < 5; i++) expect(await auth.authenticate(basic('CORP\\Alice', `later-${i}`), `10.2.0.${i}`)).toBeNull();
    expect((await refusal(basic('CORP\\Alice', 'x'), '10.2.0.99'))?.retryAfterSeconds).toBe(60);
  });

  it('forgets failures after the 15-minute window', async () => {
    for (let i = 0; i < 4; i++) expect(await auth.authenticate(basic('CORP\\Alice', `guess-${i}`), `10.0.0.${i}`)).toBeNull();
    clock += DEFAULT_LOGIN_THROTTLE.windowMs;
    for (let i = 0; i < 5; i++) expect(await auth.authenticate(basic('CORP\\Alice', `guess-${i}`), `10.0.1.${i}`)).toBeNull();
    expect(await refusal(basic('CORP\\Alice', 'alice-secret'), 'z')).not.toBeNull();
  });

  it('limits failed log-ins per address (N per window), across names, without hashing', async () => {
    // 4 instead of the default 20 keeps this test short on a loaded machine; the rule is the same.
    auth = new BasicAuthenticator({ store, ttlMs: 60_000, now: () => clock, login: { maxFailuresPerClient: 4 } });
    for (let i = 0; i < 4; i++) expect(await auth.authenticate(basic(`user${i}`, 'x'), '192.0.2.7')).toBeNull();
    expect(auth.recentClientFailures('192.0.2.7')).toBe(4);
    const refused = await refusal(basic('CORP\\Alice', 'alice-secret'), '192.0.2.7');
    expect(refused?.status).toBe(429);
    expect(refused?.retryAfterSeconds).toBe(300);
    // Another address is not affected; successes do not count.
    expect((await auth.authenticate(basic('CORP\\Alice', 'alice-secret'), '192.0.2.8'))?.identity.id).toBe(alice.id);
    expect(auth.recentClientFailures('192.0.2.8')).toBe(0);
    clock += 5 * 60_000;
    expect(await auth.authenticate(basic('user0', 'x'), '192.0.2.7')).toBeNull();
  });
});
