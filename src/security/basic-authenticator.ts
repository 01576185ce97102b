import { createHash } from 'node:crypto';
import type { Identity, SecurityStore } from '../store/store.ts';
import { verifyPassword } from './password.ts';
import { principalFor, type Authenticator, type Principal } from './principal.ts';

/*
 * HTTP Basic authentication against Countersign's own identities.
 *
 * Design: this is one Authenticator among possible others. An OIDC bearer-token authenticator
 * would implement the same interface and be chained beside this one (first non-null principal
 * wins; the challenges are joined). That is why a header that is not "Basic ..." yields null
 * here without counting as a failure.
 *
 * Costs and caching: scrypt makes a password check deliberately slow (~50-100 ms), so verified
 * credentials are cached in memory for ttlMs, keyed by sha256 of the whole Authorization header
 * (the password itself is never kept). The cached principal is only trusted while the store's
 * security generation is unchanged: any change to identities or roles bumps it. The generation
 * is re-read at most once per second, so a change takes effect within a second (plus nothing
 * else) without a database round trip on every request.
 *
 * Guessing is slowed: failures are counted per account name and per remote address over a
 * 15-minute window, and the 401 answer is delayed by min(2^(failures-1) x 100 ms, 5 s). Unknown
 * names still cost one scrypt computation (against a dummy hash), so response timing does not
 * reveal which account names exist.
 */

export interface BasicAuthenticatorOptions {
  store: SecurityStore;
  /** How long a verified credential stays cached (ms). */
  ttlMs: number;
  /** Clock (ms since epoch); injectable for tests. */
  now?: () => number;
  /** How the failure delay is waited; injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

interface CacheEntry {
  identityId: number;
  principal: Principal;
  expires: number;
  generation: number;
}

export const FAILURE_WINDOW_MS = 15 * 60_000;
export const MAX_FAILURE_DELAY_MS = 5_000;
const GENERATION_RECHECK_MS = 1_000;
const MAX_CACHE_ENTRIES = 10_000;
const MAX_TRACKED_KEYS = 50_000;
/** Longer headers are not credentials anyone means to send. */
const MAX_HEADER_LENGTH = 8_192;

/** The delay before answering a failed attempt, given the number of recent failures (this one included). */
export function failureDelayMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(2 ** Math.min(failures - 1, 16) * 100, MAX_FAILURE_DELAY_MS);
}

/**
 * Checked when the account is unknown or has no password, so that case costs one scrypt too.
 * Same parameters as hashPassword; the password behind it is random and was thrown away.
 */
const DUMMY_HASH = 'scrypt$32768$8$1$dMk8/GqG4TFlN+cHktpoHA==$9V9A906DvvM9UuLBJy7Q4nlO/XE4Mor4wAimBunTCJs=';

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

export class BasicAuthenticator implements Authenticator {
  readonly challenge = 'Basic realm="Countersign", charset="UTF-8"';

  private readonly store: SecurityStore;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly failures = new Map<string, number[]>();
  private generation: { value: number; readAt: number } | null = null;
  private generationRead: Promise<number> | null = null;
  private readonly inFlight = new Map<string, Promise<Principal | null>>();

  constructor(opts: BasicAuthenticatorOptions) {
    this.store = opts.store;
    this.ttlMs = opts.ttlMs;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? defaultSleep;
  }

  async authenticate(authorization: string | undefined, remoteAddress: string): Promise<Principal | null> {
    if (typeof authorization !== 'string') return null;
    const m = /^\s*Basic\s+(\S*)\s*$/i.exec(authorization);
    if (!m) return null; // not ours: another authenticator may understand it

    const key = sha256(authorization.trim());
    const cached = this.cache.get(key);
    if (cached) {
      const generation = await this.currentGeneration();
      if (cached.expires > this.now() && cached.generation === generation) return cached.principal;
      this.cache.delete(key);
    }

    // Concurrent first requests with the same credentials share one verification: a burst of
    // approvers' requests must not pay the hash cost once per request.
    const pending = this.inFlight.get(key);
    if (pending) return (await pending) ?? this.reject(null, remoteAddress);
    const verification = this.verify(authorization, m[1]!, key, remoteAddress);
    this.inFlight.set(key, verification);
    try {
      return await verification;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async verify(authorization: string, encoded: string, key: string, remoteAddress: string): Promise<Principal | null> {
    const creds = authorization.length <= MAX_HEADER_LENGTH ? decode(encoded) : null;
    if (!creds) return this.reject(null, remoteAddress);

    // Read the generation before the principal: if security changes meanwhile, the entry is
    // tagged with the older value and is dropped on its next use.
    const generation = await this.currentGeneration(true);
    const identity = await this.resolve(creds.user);
    const hash = identity?.passwordHash ?? DUMMY_HASH;
    const ok = (await verifyPassword(creds.password, hash)) && identity !== null && identity.passwordHash !== null;
    if (!ok || !identity) return this.reject(creds.user, remoteAddress);

    this.failures.delete(accountKey(creds.user));
    if (identity.accountName.toLowerCase() !== creds.user.toLowerCase()) this.failures.delete(accountKey(identity.accountName));
    const principal = await this.principalOf(identity);
    this.remember(key, { identityId: identity.id, principal, expires: this.now() + this.ttlMs, generation });
    return principal;
  }

  /** Drops every cached credential (e.g. after a restore); normal changes need not call it. */
  clearCache(): void {
    this.cache.clear();
    this.generation = null;
  }

  /** The number of failures recorded within the window for this key (tests, diagnostics). */
  recentFailures(accountName: string | null, remoteAddress: string | null): number {
    const now = this.now();
    const a = accountName === null ? 0 : this.count(accountKey(accountName), now);
    const b = remoteAddress === null ? 0 : this.count(addressKey(remoteAddress), now);
    return Math.max(a, b);
  }

  // Internals -----------------------------------------------------------------------------------

  /** The exact account name first; then, for a bare name, the one DOMAIN\name identity if unique. */
  private async resolve(user: string): Promise<Identity | null> {
    if (user === '' || user.length > 512) return null;
    const exact = await this.store.findIdentityByName(user);
    if (exact) return exact;
    if (user.includes('\\')) return null;
    const suffix = `\\${user.toLowerCase()}`;
    const matches: Identity[] = [];
    const page = 500;
    for (let offset = 0; ; offset += page) {
      const batch = await this.store.listIdentities({ limit: page, offset, sortColumn: 'id', ascending: true });
      for (const i of batch) if (i.accountName.toLowerCase().endsWith(suffix)) matches.push(i);
      if (matches.length > 1) return null;
      if (batch.length < page) break;
    }
    return matches.length === 1 ? matches[0]! : null;
  }

  private principalOf(identity: Identity): Promise<Principal> {
    return principalFor(this.store, identity);
  }

  private async reject(user: string | null, remoteAddress: string): Promise<null> {
    const now = this.now();
    const keys = [addressKey(remoteAddress)];
    if (user !== null && user !== '') keys.push(accountKey(user));
    let worst = 0;
    for (const k of keys) worst = Math.max(worst, this.record(k, now));
    const delay = failureDelayMs(worst);
    if (delay > 0) await this.sleep(delay);
    return null;
  }

  private record(key: string, now: number): number {
    const list = (this.failures.get(key) ?? []).filter((t) => now - t < FAILURE_WINDOW_MS);
    list.push(now);
    // Keep only what the delay formula can use; the cap keeps memory bounded per key.
    if (list.length > 64) list.splice(0, list.length - 64);
    this.failures.delete(key); // re-insert to keep Map order = least recently failed first
    this.failures.set(key, list);
    if (this.failures.size > MAX_TRACKED_KEYS) this.pruneFailures(now);
    return list.length;
  }

  private count(key: string, now: number): number {
    return (this.failures.get(key) ?? []).filter((t) => now - t < FAILURE_WINDOW_MS).length;
  }

  private pruneFailures(now: number): void {
    for (const [k, list] of this.failures) {
      if (list.every((t) => now - t >= FAILURE_WINDOW_MS)) this.failures.delete(k);
    }
    // Still too many (a flood of distinct names): drop the oldest.
    for (const k of this.failures.keys()) {
      if (this.failures.size <= MAX_TRACKED_KEYS) break;
      this.failures.delete(k);
    }
  }

  private remember(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    if (this.cache.size <= MAX_CACHE_ENTRIES) return;
    const now = this.now();
    for (const [k, e] of this.cache) if (e.expires <= now) this.cache.delete(k);
    for (const k of this.cache.keys()) {
      if (this.cache.size <= MAX_CACHE_ENTRIES) break;
      this.cache.delete(k);
    }
  }

  /** The store's security generation, re-read at most once per second unless forced. */
  private async currentGeneration(force = false): Promise<number> {
    const now = this.now();
    const g = this.generation;
    if (!force && g && now - g.readAt < GENERATION_RECHECK_MS && now >= g.readAt) return g.value;
    // Concurrent requests share one read.
    this.generationRead ??= this.store.securityGeneration().finally(() => {
      this.generationRead = null;
    });
    const value = await this.generationRead;
    this.generation = { value, readAt: now };
    return value;
  }
}

const accountKey = (user: string): string => `a:${user.toLowerCase()}`;
const addressKey = (address: string): string => `ip:${address}`;

/** Decodes base64(user:password), split at the first colon; null when malformed. */
function decode(b64: string): { user: string; password: string } | null {
  if (b64 === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return null;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  if (text.includes('\uFFFD')) return null; // not UTF-8
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  const user = text.slice(0, colon).trim();
  const password = text.slice(colon + 1);
  if (/[\u0000-\u001f\u007f]/.test(user)) return null;
  return { user, password };
}
