import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { EgressPolicy } from '../domain/egress.ts';
import { CountersignError, RetryLaterError } from '../domain/errors.ts';
import { tokenCaller } from '../domain/security/external-claims.ts';
import { ConnectFailure, EgressDenied, ResponseFailure, egressRequest } from '../steps/support/egress-http.ts';
import type { Identity, SecurityStore } from '../store/store.ts';
import type { OidcIssuerSettings } from './auth-config.ts';
import { HashGate } from './hash-gate.ts';
import { principalFor, type Authenticator, type Principal } from './principal.ts';

/*
 * OAuth 2.0 bearer tokens (RFC 6750) from trusted OpenID Connect issuers.
 *
 * A JWT is verified with `jose` against its issuer's JWKS: the issuer is chosen by the token's
 * `iss` (exactly as configured), then signature (algorithms from the issuer's allow-list only,
 * never `none`), `iss`, `aud` (one of the configured audiences), `exp` (required), `nbf`, with the
 * configured clock skew. The JWKS is fetched through the egress policy (from the discovery
 * document's `jwks_uri`, or a configured URL), kept for JWKS_MAX_AGE_MS, and fetched again at
 * once when a token names a `kid` it lacks (the issuer rotated its keys), at most once per
 * JWKS_REFRESH_COOLDOWN_MS so made-up kids cannot make us hammer the issuer.
 *
 * An opaque token (not a JWT) is asked about at the introspection endpoint (RFC 7662) of each
 * issuer configured for it; an active answer must carry the issuer (when it names one), an
 * accepted audience and an unexpired `exp`. Introspection calls are bounded like password hashes.
 *
 * The verified claims become the caller (src/domain/security/external-claims.ts): the identity
 * DOMAIN\subject (created on first use, without a password), holding its own roles plus the roles
 * whose OAuth Subject / OAuth Role / OAuth Client Id claims the token carries. Results are cached
 * by the token's SHA-256 until the token expires or the cache TTL passes, and dropped when the
 * store's security generation changes (a role or identity changed).
 */

export interface BearerAuthenticatorOptions {
  store: SecurityStore;
  issuers: OidcIssuerSettings[];
  egress: EgressPolicy;
  /** How long a verified token's principal stays cached at most (ms). */
  ttlMs: number;
  now?: () => number;
  /** Receives why a token was refused (never the token); for the log. */
  onRefused?: (reason: string) => void;
}

/** What the portal needs to sign someone in through an issuer (public: no secret in it). */
export interface PortalProvider {
  name: string;
  issuer: string;
  clientId: string;
  scopes: string;
  accountDomain: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
}

const JWKS_MAX_AGE_MS = 10 * 60_000;
const JWKS_REFRESH_COOLDOWN_MS = 30_000;
const DISCOVERY_MAX_AGE_MS = 60 * 60_000;
const FETCH_TIMEOUT_MS = 10_000;
const MAX_DOCUMENT_BYTES = 512 * 1024;
const MAX_TOKEN_LENGTH = 16_384;
const MAX_CACHE_ENTRIES = 10_000;
const GENERATION_RECHECK_MS = 1_000;
const INTROSPECTION_CONCURRENCY = 4;
const INTROSPECTION_QUEUE = 128;

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

class Refused extends Error {}

interface CacheEntry {
  principal: Principal;
  expires: number;
  generation: number;
}

/** What one issuer publishes: its discovery document and keys, fetched lazily and kept. */
class IssuerState {
  private discovery: { doc: Record<string, unknown>; at: number } | null = null;
  private keys: { set: ReturnType<typeof createLocalJWKSet>; at: number } | null = null;
  private lastMissRefresh = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | null = null;

  constructor(
    readonly settings: OidcIssuerSettings,
    private readonly fetchJson: (url: string, init?: { method: string; headers: Record<string, string>; body: string }) => Promise<Record<string, unknown>>,
    private readonly now: () => number,
  ) {}

  async jwksUri(): Promise<string> {
    if (this.settings.jwksUri) return this.settings.jwksUri;
    const doc = await this.discoveryDocument();
    if (typeof doc.jwks_uri !== 'string') throw new Refused(`the discovery document of ${this.settings.issuer} has no jwks_uri`);
    return doc.jwks_uri;
  }

  /** Where the portal sends people to sign in (authorization code + PKCE); null without a portal client. */
  async portalEndpoints(): Promise<{ authorizationEndpoint: string; tokenEndpoint: string } | null> {
    if (!this.settings.portalClientId || !this.settings.discoveryUrl) return null;
    const doc = await this.discoveryDocument();
    const a = doc.authorization_endpoint;
    const t = doc.token_endpoint;
    return typeof a === 'string' && typeof t === 'string' && /^https?:/.test(a) && /^https?:/.test(t) ? { authorizationEndpoint: a, tokenEndpoint: t } : null;
  }

  async introspectionEndpoint(): Promise<string | null> {
    if (!this.settings.introspection) return null;
    if (this.settings.introspection.endpoint) return this.settings.introspection.endpoint;
    const doc = await this.discoveryDocument();
    return typeof doc.introspection_endpoint === 'string' ? doc.introspection_endpoint : null;
  }

  private async discoveryDocument(): Promise<Record<string, unknown>> {
    const d = this.discovery;
    if (d && this.now() - d.at < DISCOVERY_MAX_AGE_MS) return d.doc;
    const doc = await this.fetchJson(this.settings.discoveryUrl!);
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was asked about.
    if (doc.issuer !== this.settings.issuer)
      throw new Refused(`the discovery document at ${this.settings.discoveryUrl} names issuer ${JSON.stringify(doc.issuer)}, not ${this.settings.issuer}`);
    this.discovery = { doc, at: this.now() };
    return doc;
  }

  /**
   * The key set. `refresh` (a token named a kid we lack) fetches again, unless such a refresh
   * happened within the cooldown: made-up kids cost the issuer at most one fetch per cooldown.
   */
  async keySet(refresh = false): Promise<ReturnType<typeof createLocalJWKSet>> {
    const k = this.keys;
    const stale = !k || this.now() - k.at >= JWKS_MAX_AGE_MS;
    if (k && !stale && !refresh) return k.set;
    if (k && !stale && this.now() - this.lastMissRefresh < JWKS_REFRESH_COOLDOWN_MS) return k.set;
    if (k && !stale) this.lastMissRefresh = this.now();
    // Concurrent requests share one fetch.
    this.pending ??= (async () => {
      try {
        const doc = await this.fetchJson(await this.jwksUri());
        if (!Array.isArray(doc.keys)) throw new Refused(`the JWKS of ${this.settings.issuer} has no keys array`);
        this.keys = { set: createLocalJWKSet(doc as unknown as JSONWebKeySet), at: this.now() };
      } catch (e) {
        // Keep serving the keys we have when the issuer is briefly unreachable.
        if (!this.keys) throw e;
      }
    })().finally(() => {
      this.pending = null;
    });
    await this.pending;
    return this.keys!.set;
  }
}

export class BearerAuthenticator implements Authenticator {
  readonly challenge = 'Bearer realm="Countersign"';

  private readonly store: SecurityStore;
  private readonly issuers: Map<string, IssuerState>;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly onRefused: (reason: string) => void;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<Principal | null>>();
  private readonly introspectionGate = new HashGate(INTROSPECTION_CONCURRENCY, INTROSPECTION_QUEUE);
  private generation: { value: number; readAt: number } | null = null;
  private generationRead: Promise<number> | null = null;
  private readonly fetchJson: ReturnType<typeof jsonFetcher>;

  constructor(opts: BearerAuthenticatorOptions) {
    this.store = opts.store;
    this.ttlMs = opts.ttlMs;
    this.now = opts.now ?? Date.now;
    this.onRefused = opts.onRefused ?? (() => {});
    this.fetchJson = jsonFetcher(opts.egress);
    this.issuers = new Map(opts.issuers.map((s) => [s.issuer, new IssuerState(s, this.fetchJson, this.now)]));
  }

  async authenticate(authorization: string | undefined, remoteAddress: string): Promise<Principal | null> {
    if (typeof authorization !== 'string') return null;
    const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) return null; // not ours
    const token = m[1]!;
    if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) return this.refuse('the token is not a bearer token (RFC 6750 b64token)');

    const key = sha256(token);
    const cached = this.cache.get(key);
    if (cached) {
      if (cached.expires > this.now() && cached.generation === (await this.currentGeneration())) return cached.principal;
      this.cache.delete(key);
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const verification = this.verify(token, key, remoteAddress);
    this.inFlight.set(key, verification);
    try {
      return await verification;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async verify(token: string, key: string, remoteAddress: string): Promise<Principal | null> {
    const generation = await this.currentGeneration(true);
    let verified: { payload: JWTPayload; issuer: IssuerState } | null;
    try {
      verified = token.split('.').length === 3 ? await this.verifyJwt(token) : await this.introspect(token, remoteAddress);
    } catch (e) {
      if (e instanceof CountersignError) throw e;
      // The issuer did not answer (no keys cached yet, or introspection): nothing was decided about the token.
      if (e instanceof ConnectFailure || e instanceof ResponseFailure)
        throw new CountersignError('IdentityProviderUnavailable', `The identity provider could not be reached to check the token (${e.message}); try again.`);
      return this.refuse(e instanceof Refused || e instanceof joseErrors.JOSEError ? e.message : `the token could not be checked (${(e as Error).message})`);
    }
    if (!verified) return null;
    const caller = tokenCaller(verified.payload as Record<string, unknown>, verified.issuer.settings.mapping);
    if (!caller) return this.refuse(`the token has no usable ${verified.issuer.settings.mapping.subjectClaim} claim`);
    const identity = await this.identityFor(caller.accountName, caller.email);
    const principal = await principalFor(this.store, identity, caller.matches);
    // Remembered for notifications only (who is in a role when nobody is signed in); once per cache period.
    await this.store.recordExternalClaims(identity.id, caller.matches);
    const exp = typeof verified.payload.exp === 'number' ? verified.payload.exp * 1000 : Number.POSITIVE_INFINITY;
    this.remember(key, { principal, expires: Math.min(exp, this.now() + this.ttlMs), generation });
    return principal;
  }

  private async verifyJwt(token: string): Promise<{ payload: JWTPayload; issuer: IssuerState } | null> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      return this.refuse('the token is not a well-formed JWT');
    }
    const issuer = typeof claims.iss === 'string' ? this.issuers.get(claims.iss) : undefined;
    if (!issuer) return this.refuse(`the token's issuer ${JSON.stringify(claims.iss ?? null)} is not trusted`);
    const s = issuer.settings;
    if (typeof header.alg !== 'string' || !s.algorithms.includes(header.alg)) return this.refuse(`the token's algorithm ${JSON.stringify(header.alg ?? null)} is not accepted`);
    const options = {
      issuer: s.issuer,
      audience: s.audiences,
      algorithms: s.algorithms,
      clockTolerance: s.clockSkewSec,
      requiredClaims: ['exp'],
      currentDate: new Date(this.now()),
    };
    try {
      const { payload } = await jwtVerify(token, await issuer.keySet(), options);
      return { payload, issuer };
    } catch (e) {
      // A kid we do not know: the issuer may have rotated its keys; fetch them again (rate-limited) and retry once.
      if (!(e instanceof joseErrors.JWKSNoMatchingKey)) throw e;
      const { payload } = await jwtVerify(token, await issuer.keySet(true), options);
      return { payload, issuer };
    }
  }

  /** RFC 7662: the first configured issuer that calls the token active vouches for it. */
  private async introspect(token: string, remoteAddress: string): Promise<{ payload: JWTPayload; issuer: IssuerState } | null> {
    const candidates = [...this.issuers.values()].filter((i) => i.settings.introspection);
    if (!candidates.length) return this.refuse('the token is not a JWT and no issuer is configured for introspection');
    for (const issuer of candidates) {
      const s = issuer.settings;
      const endpoint = await issuer.introspectionEndpoint();
      if (!endpoint) continue;
      const auth = `Basic ${Buffer.from(`${encodeURIComponent(s.introspection!.clientId)}:${encodeURIComponent(s.introspection!.clientSecret)}`).toString('base64')}`;
      const ran = await this.introspectionGate.tryRun(
        () =>
          this.fetchJson(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, accept: 'application/json' },
            body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
          }),
        remoteAddress,
      );
      if (!ran) throw new RetryLaterError('TooManyAttempts', 'The server is busy checking other tokens; try again in a moment.', 1);
      const r = ran.value;
      if (r.active !== true) continue;
      const now = this.now() / 1000;
      if (typeof r.exp !== 'number' || r.exp + s.clockSkewSec <= now) return this.refuse('the introspected token has expired (or names no exp)');
      if (typeof r.nbf === 'number' && r.nbf - s.clockSkewSec > now) return this.refuse('the introspected token is not valid yet');
      if (r.iss !== undefined && r.iss !== s.issuer) return this.refuse('the introspected token names another issuer');
      const aud = Array.isArray(r.aud) ? r.aud : [r.aud];
      if (!aud.some((a) => typeof a === 'string' && s.audiences.includes(a))) return this.refuse('the introspected token is not for this audience');
      return { payload: r as JWTPayload, issuer };
    }
    return this.refuse('no issuer calls the token active');
  }

  /** The identity DOMAIN\subject, created (without a password) the first time it signs in. */
  private async identityFor(accountName: string, email: string | null): Promise<Identity> {
    const found = await this.store.findIdentityByName(accountName);
    if (found) return found;
    try {
      return await this.store.createIdentity({ accountName, identityType: 'User', sid: null, email, passwordHash: null, createdAt: new Date(this.now()).toISOString() });
    } catch (e) {
      // Another request (or node) created it at the same moment.
      const again = await this.store.findIdentityByName(accountName);
      if (again) return again;
      throw e;
    }
  }

  private refuse(reason: string): null {
    this.onRefused(reason);
    return null;
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

  /** The issuers people can sign in to the portal with, and where (from their discovery documents). */
  async portalProviders(): Promise<PortalProvider[]> {
    const out: PortalProvider[] = [];
    for (const i of this.issuers.values()) {
      const s = i.settings;
      const endpoints = await i.portalEndpoints().catch(() => null);
      if (!endpoints || !s.portalClientId) continue;
      out.push({ name: s.mapping.scheme, issuer: s.issuer, clientId: s.portalClientId, scopes: s.portalScopes, accountDomain: s.mapping.accountDomain, ...endpoints });
    }
    return out;
  }

  /** Drops every cached token (e.g. after a restore). */
  clearCache(): void {
    this.cache.clear();
    this.generation = null;
  }
}

/** GET (or POST) a JSON object through the egress policy, bounded in time and size. */
function jsonFetcher(policy: EgressPolicy) {
  return async (url: string, init?: { method: string; headers: Record<string, string>; body: string }): Promise<Record<string, unknown>> => {
    const res = await egressRequest(policy, {
      url: new URL(url),
      method: init?.method ?? 'GET',
      headers: init?.headers ?? { accept: 'application/json' },
      body: init?.body,
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      maxResponseBytes: MAX_DOCUMENT_BYTES,
    }).catch((e: unknown) => {
      if (e instanceof EgressDenied) throw new Refused(`the egress policy denies ${new URL(url).host} (${e.message}); COUNTERSIGN_OIDC_EGRESS_ALLOW can allow it for OIDC alone`);
      throw e;
    });
    if (res.status !== 200) throw new Refused(`${new URL(url).host} answered ${res.status}`);
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      throw new Refused(`${new URL(url).host} did not answer JSON`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Refused(`${new URL(url).host} did not answer a JSON object`);
    return body as Record<string, unknown>;
  };
}
