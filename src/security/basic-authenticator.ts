import { createHash, randomBytes } from 'node:crypto';
import { RetryLaterError } from '../domain/errors.ts';
import { DEFAULT_LOGIN_THROTTLE, beginAttempt, retryAfterSeconds, type LoginThrottlePolicy } from '../domain/login-throttle.ts';
import type { Identity, SecurityStore } from '../store/store.ts';
import { HashGate } from './hash-gate.ts';
import { Passwords } from './passwords.ts';
import type { Directory, DirectoryVerdict } from './ldap-directory.ts';
import { principalFor, type Authenticator, type Principal } from './principal.ts';

/*
 * HTTP Basic authentication against Countersign's own identities.
 *
 * Design: this is one Authenticator among possible others. An OIDC bearer-token authenticator
 * would implement the same interface and be chained beside this one (first non-null principal
 * wins; the challenges are joined). That is why a header that is not "Basic ..." yields null
 * here without counting as a failure.
 *
 * Costs and caching: argon2id makes a password check deliberately slow (~50 ms), so verified
 * credentials are cached in memory for ttlMs, keyed by sha256 of the whole Authorization header
 * (the password itself is never kept). The cached principal is only trusted while the store's
 * security generation is unchanged: any change to identities or roles (a changed or reset
 * password included) bumps it. Every cache hit compares against a generation read that started
 * after the request arrived (concurrent hits share one such read), so once a password change has
 * been answered, no node accepts the old password any more. A cached credential is not a guess
 * (it was proven within the TTL), so it skips the throttles and the hash queue: a flood cannot
 * slow signed-in users.
 *
 * Rehash: a successful log-in whose stored hash is older or weaker than the configured argon2id
 * parameters remakes it (in the same hash slot) and stores it only if the stored hash is still
 * the one verified, so it can never undo a password change made meanwhile.
 *
 * Local accounts off (COUNTERSIGN_LOCAL_ACCOUNTS=off, meant for when an identity provider signs
 * people in): only the break-glass account (COUNTERSIGN_BREAK_GLASS) signs in here; every other
 * account is refused exactly as a wrong password is (same hash cost, same counters), so the
 * answer reveals nothing about which accounts exist.
 *
 * Guessing (docs/security/authentication.md), in the order an uncached attempt meets them:
 *  1. per client address (this node): failed log-ins within `clientWindowMs`; at
 *     `maxFailuresPerClient` the address is refused (429) without a hash, checked on arrival and
 *     again just before the hash (so a burst from one address queued behind the gate stops
 *     being hashed once it has failed enough). Attempts still being checked do not count: an
 *     automation host signing in 32 approvers at once is not a guesser;
 *  2. per account name (the store, so every node agrees; src/domain/login-throttle.ts): the
 *     attempt is counted before the hash, so at most `maxFailures` are ever evaluated; then the
 *     name is locked (429 + Retry-After), the right password included, for a doubling time;
 *  3. the hash queue (HashGate): at most `hashConcurrency` hashes, `hashQueue` waiting; when full,
 *     429 at once rather than an unbounded wait.
 * Unknown names pass through the same steps and cost one hash (against a dummy hash), so
 * neither timing nor lock-out reveals which account names exist.
 */

export interface LoginSettings extends LoginThrottlePolicy {
  /** Failed log-ins from one client address within clientWindowMs before it is refused. */
  maxFailuresPerClient: number;
  clientWindowMs: number;
  /** Password hashes computed at once, and waiting, for log-ins. */
  hashConcurrency: number;
  hashQueue: number;
}

export const DEFAULT_LOGIN_SETTINGS: LoginSettings = {
  ...DEFAULT_LOGIN_THROTTLE,
  maxFailuresPerClient: 20,
  clientWindowMs: 5 * 60_000,
  hashConcurrency: 2,
  hashQueue: 256,
};

/** Whether local passwords sign in at all, and the one account that always may (docs/security/passwords.md). */
export interface LocalAccounts {
  enabled: boolean;
  /** Account name of the break-glass administrator, signing in even when local accounts are off. */
  breakGlass: string | null;
}

export const LOCAL_ACCOUNTS_ON: LocalAccounts = { enabled: true, breakGlass: null };

export interface BasicAuthenticatorOptions {
  store: SecurityStore;
  /** Hashing parameters (rehash on log-in); default argon2id defaults. */
  passwords?: Passwords;
  localAccounts?: LocalAccounts;
  /** An LDAP / Active Directory that checks the passwords of its own accounts (DOMAIN\\user, user@suffix). */
  directory?: Directory;
  /** Binds to the directory at once (its connection pool); more wait in the log-in queue. */
  directoryConcurrency?: number;
  /** How long a verified credential stays cached (ms). */
  ttlMs: number;
  login?: Partial<LoginSettings>;
  /** Clock (ms since epoch); injectable for tests. */
  now?: () => number;
}

interface CacheEntry {
  identityId: number;
  principal: Principal;
  expires: number;
  generation: number;
}

const MAX_CACHE_ENTRIES = 10_000;
const MAX_TRACKED_CLIENTS = 50_000;
/** Longer headers are not credentials anyone means to send. */
const MAX_HEADER_LENGTH = 8_192;
/** How often this node deletes throttle rows nobody has touched for a long time. */
const PRUNE_EVERY_MS = 10 * 60_000;
/** Retry-After when the hash queue is full: a hash takes well under a second. */
const BUSY_RETRY_SECONDS = 1;

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export class BasicAuthenticator implements Authenticator {
  readonly challenge = 'Basic realm="Countersign", charset="UTF-8"';

  private readonly store: SecurityStore;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly settings: LoginSettings;
  private readonly gate: HashGate;
  private readonly directory: Directory | null;
  private readonly directoryGate: HashGate;
  private readonly cache = new Map<string, CacheEntry>();
  /** Per client address: times of failed attempts, oldest first. */
  private readonly clientFailures = new Map<string, number[]>();
  private readonly passwords: Passwords;
  private readonly localAccounts: LocalAccounts;
  /**
   * Checked when the account is unknown, has no password or may not sign in here, so that case
   * costs one hash too: made at start with the configured parameters from a password thrown away.
   */
  private dummyHash: Promise<string> | null = null;
  /** The generation read in flight, and the one queued to start after it (see freshGeneration). */
  private generationRead: Promise<number> | null = null;
  private generationQueued: Promise<number> | null = null;
  private readonly inFlight = new Map<string, Promise<Principal | null>>();
  private lastPrune = 0;

  constructor(opts: BasicAuthenticatorOptions) {
    this.store = opts.store;
    this.ttlMs = opts.ttlMs;
    this.now = opts.now ?? Date.now;
    this.settings = { ...DEFAULT_LOGIN_SETTINGS, ...opts.login };
    this.passwords = opts.passwords ?? new Passwords();
    this.localAccounts = opts.localAccounts ?? LOCAL_ACCOUNTS_ON;
    this.gate = new HashGate(this.settings.hashConcurrency, this.settings.hashQueue);
    this.directory = opts.directory ?? null;
    this.directoryGate = new HashGate(opts.directoryConcurrency ?? 4, this.settings.hashQueue);
    this.lastPrune = this.now();
  }

  async authenticate(authorization: string | undefined, remoteAddress: string): Promise<Principal | null> {
    if (typeof authorization !== 'string') return null;
    const m = /^\s*Basic\s+(\S*)\s*$/i.exec(authorization);
    if (!m) return null; // not ours: another authenticator may understand it

    const key = sha256(authorization.trim());
    const cached = this.cache.get(key);
    if (cached) {
      const generation = await this.freshGeneration();
      if (cached.expires > this.now() && cached.generation === generation) return cached.principal;
      this.cache.delete(key);
    }

    // Concurrent first requests with the same credentials share one verification: a burst of
    // approvers' requests must not pay the hash cost once per request.
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const verification = this.verify(authorization, m[1]!, key, remoteAddress);
    this.inFlight.set(key, verification);
    try {
      return await verification;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async verify(authorization: string, encoded: string, key: string, remoteAddress: string): Promise<Principal | null> {
    this.checkClient(remoteAddress);
    const creds = authorization.length <= MAX_HEADER_LENGTH ? decode(encoded) : null;
    if (!creds || creds.user === '' || creds.user.length > 512) return this.clientFailed(remoteAddress);

    // Read the generation before the identity: if security changes meanwhile (a new password),
    // the entry is tagged with the older value and is dropped on its next use.
    const generation = await this.freshGeneration();
    // A directory account (DOMAIN\\user, user@suffix of the configured directory) is checked by the directory only.
    const external = this.directory?.owns(creds.user) ?? null;
    // The name is resolved before counting (an indexed look-up, no hash) so that every spelling
    // of one identity (DOMAIN\\name, name, any case) shares one counter.
    const identity = external ? await this.store.findIdentityByName(external.accountName) : await this.resolve(creds.user);
    const account = identity ? identityThrottleKey(identity.id) : nameThrottleKey(external?.accountName ?? creds.user);
    const verdict = await this.store.updateLoginThrottle(account, (s) => {
      const d = beginAttempt(s, this.now(), this.settings);
      return { state: d.state, result: d.verdict };
    });
    if (!verdict.allowed)
      throw new RetryLaterError(
        'TooManyAttempts',
        `Too many failed log-ins for this account name: it is locked for ${retryAfterSeconds(verdict.retryAfterMs)} s. An administrator can unlock it (docs/security/authentication.md).`,
        retryAfterSeconds(verdict.retryAfterMs),
      );
    this.maybePrune();

    // The address is checked again when the hash (or bind) would start: failures recorded while this
    // attempt waited in the queue stop it before it costs a hash.
    // A failure is recorded before the slot passes on, so the next waiter's check sees it.
    const directory = external && this.directory;
    // A local account that may not sign in here is checked against the dummy hash: same cost, same answer.
    const stored = identity && this.mayUsePassword(identity) ? identity.passwordHash : null;
    const dummy = directory ? '' : await this.dummy();
    const checked = await (directory ? this.directoryGate : this.gate)
      .tryRun(async (): Promise<typeof CLIENT_REFUSED | DirectoryVerdict | boolean> => {
        if (this.clientRefusal(remoteAddress)) return CLIENT_REFUSED;
        if (directory) {
          const v = await directory.verify(external.user, creds.password);
          if (!v.ok) this.clientFailed(remoteAddress);
          return v;
        }
        const ok = (await this.passwords.verify(creds.password, stored ?? dummy)) && stored !== null;
        if (!ok) this.clientFailed(remoteAddress);
        else if (this.passwords.needsRehash(stored!)) await this.rehash(identity!.id, stored!, creds.password);
        return ok;
      }, remoteAddress)
      .catch(async (e: unknown) => {
        // The directory did not answer: nothing was evaluated, so the attempt is given back.
        await this.giveBack(account);
        throw e;
      });
    if (!checked || checked.value === CLIENT_REFUSED) {
      // Not evaluated: give the attempt back, so a busy server does not lock real users out.
      await this.giveBack(account);
      if (checked) this.checkClient(remoteAddress);
      throw new RetryLaterError('TooManyAttempts', 'The server is busy checking other log-ins; try again in a moment.', BUSY_RETRY_SECONDS);
    }
    const result = checked.value;
    let principal: Principal;
    if (typeof result === 'object') {
      if (!result.ok) return null; // stays counted per name (and was counted per address)
      await this.store.updateLoginThrottle(account, () => ({ state: null, result: undefined }));
      const known = identity ?? (await this.provision(result.account.accountName, result.account.email));
      principal = await principalFor(this.store, known, result.account.matches);
      // Remembered for notifications only (who is in a role when nobody is signed in).
      await this.store.recordExternalClaims(known.id, result.account.matches);
    } else {
      if (!result || !identity) return null; // stays counted per name (and was counted per address)
      await this.store.updateLoginThrottle(account, () => ({ state: null, result: undefined }));
      principal = await principalFor(this.store, identity);
    }
    this.remember(key, { identityId: principal.identity.id, principal, expires: this.now() + this.ttlMs, generation });
    return principal;
  }

  private async giveBack(account: string): Promise<void> {
    await this.store.updateLoginThrottle(account, (s) => ({ state: s && { ...s, failures: Math.max(0, s.failures - 1) }, result: undefined }));
  }

  /** A directory user's identity, created (without a password) on the first log-in. */
  private async provision(accountName: string, email: string | null): Promise<Identity> {
    try {
      return await this.store.createIdentity({ accountName, identityType: 'User', sid: null, email, passwordHash: null, createdAt: new Date(this.now()).toISOString() });
    } catch (e) {
      const again = await this.store.findIdentityByName(accountName); // created by a parallel log-in
      if (again) return again;
      throw e;
    }
  }

  /** Drops every cached credential (e.g. after a restore); normal changes need not call it. */
  clearCache(): void {
    this.cache.clear();
  }

  /** Failed attempts from this address within the client window (tests, diagnostics). */
  recentClientFailures(remoteAddress: string): number {
    return this.liveClientFailures(remoteAddress, this.now()).length;
  }

  /** Hashes running and waiting. */
  get hashLoad(): { running: number; waiting: number } {
    return this.gate.load;
  }

  // Internals -----------------------------------------------------------------------------------

  /** Whether this identity's local password may sign in (docs/security/passwords.md, "Local accounts off"). */
  private mayUsePassword(identity: Identity): boolean {
    if (this.localAccounts.enabled) return true;
    const glass = this.localAccounts.breakGlass;
    return glass !== null && asciiLower(glass) === asciiLower(identity.accountName);
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= this.passwords.hash(randomBytes(18).toString('base64'));
    return this.dummyHash;
  }

  /** Remakes a weaker stored hash; best effort (the log-in succeeds either way). */
  private async rehash(identityId: number, verified: string, password: string): Promise<void> {
    try {
      await this.store.replacePasswordHash(identityId, verified, await this.passwords.hash(password), false);
    } catch {
      // The store was unavailable: the next log-in tries again.
    }
  }

  /** The exact account name first; then, for a bare name, the one DOMAIN\\name identity if unique (by index). */
  private async resolve(user: string): Promise<Identity | null> {
    const exact = await this.store.findIdentityByName(user);
    if (exact) return exact;
    if (user.includes('\\')) return null;
    const matches = await this.store.findIdentitiesByNamePart(user, 2);
    return matches.length === 1 ? matches[0]! : null;
  }

  /** Refuses the address (429) when it has failed `maxFailuresPerClient` times within the window. */
  private checkClient(address: string): void {
    const refusal = this.clientRefusal(address);
    if (refusal) throw refusal;
  }

  private clientRefusal(address: string): RetryLaterError | null {
    const now = this.now();
    const list = this.liveClientFailures(address, now);
    if (list.length < this.settings.maxFailuresPerClient) return null;
    const wait = retryAfterSeconds(list[0]! + this.settings.clientWindowMs - now);
    return new RetryLaterError('TooManyAttempts', `Too many failed log-ins from this address; try again in ${wait} s.`, wait);
  }

  /** Records a failed log-in against the address; answers the failure (null). */
  private clientFailed(address: string): null {
    const now = this.now();
    const list = this.liveClientFailures(address, now);
    list.push(now);
    this.clientFailures.delete(address); // re-insert: Map order = least recently active first
    this.clientFailures.set(address, list);
    if (this.clientFailures.size > MAX_TRACKED_CLIENTS) this.pruneClients(now);
    return null;
  }

  private liveClientFailures(address: string, now: number): number[] {
    const list = this.clientFailures.get(address) ?? [];
    while (list.length && now - list[0]! >= this.settings.clientWindowMs) list.shift();
    return list;
  }

  private pruneClients(now: number): void {
    for (const [k, list] of this.clientFailures) if (list.every((t) => now - t >= this.settings.clientWindowMs)) this.clientFailures.delete(k);
    // Still too many (a flood from many addresses): forget the least recently active.
    for (const k of this.clientFailures.keys()) {
      if (this.clientFailures.size <= MAX_TRACKED_CLIENTS) break;
      this.clientFailures.delete(k);
    }
  }

  /** Now and then, delete throttle rows that can no longer matter (flooded made-up names). */
  private maybePrune(): void {
    const now = this.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    const before = now - this.settings.windowMs - this.settings.maxLockMs;
    this.store.pruneLoginThrottle(before).catch(() => {}); // best effort; the next prune retries
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

  /**
   * The store's security generation, from a read that starts after this call: a change committed
   * before the request arrived (a password changed on another node) is always seen. Concurrent
   * callers share reads: when one is in flight (it may have started too early), they wait for
   * the one queued after it, so a burst costs at most two reads at a time.
   */
  private freshGeneration(): Promise<number> {
    if (!this.generationRead) return this.startGenerationRead();
    this.generationQueued ??= this.generationRead.then(
      () => this.startQueuedRead(),
      () => this.startQueuedRead(),
    );
    return this.generationQueued;
  }

  private startQueuedRead(): Promise<number> {
    this.generationQueued = null;
    return this.startGenerationRead();
  }

  private startGenerationRead(): Promise<number> {
    const read: Promise<number> = this.store.securityGeneration().finally(() => {
      if (this.generationRead === read) this.generationRead = null;
    });
    this.generationRead = read;
    return read;
  }
}

/** The throttle row of an existing identity: every spelling of its name shares it. */
/** The gate's answer when the address went over its limit while the attempt waited. */
const CLIENT_REFUSED = Symbol('client refused');

export const identityThrottleKey = (id: number): string => `identity:${id}`;
const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (c) => c.toLowerCase());
/** The throttle row of a name no identity has; ASCII lowercase, as the stores compare names. */
const nameThrottleKey = (user: string): string => `name:${asciiLower(user)}`;

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
