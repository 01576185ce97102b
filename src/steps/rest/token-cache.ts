import { DEFAULT_EGRESS_POLICY, type EgressPolicy } from '../../domain/egress.ts';
import { StepFailure, type RunEnvironment } from '../../domain/step-type.ts';
import { egressRequest, type EgressResponse } from '../support/egress-http.ts';
import { excerpt, redact, sha256Hex } from '../support/support.ts';
import { REDIRECTS, requestFailure } from './rest.ts';

/** An OAuth 2.0 client (client-credentials grant) as an OAuthRESTRequest step configures it. */
export interface OAuthClient {
  endpoint: string;
  id: string;
  secret: string;
  scope: string | null;
  audience: string | null;
}

interface CachedToken {
  token: string;
  /** Epoch ms after which the token is not used any more. */
  until: number;
}

/**
 * Client-credentials tokens in memory, keyed by endpoint, client, secret (hashed), scope and
 * audience, kept until their expiry minus a margin. Concurrent requests for one key share one
 * token request.
 */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(
    /** Tokens are dropped this long before they expire. */
    private readonly marginMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async token(client: OAuthClient, opts: { fresh?: boolean; timeoutMs: number; signal: AbortSignal; policy?: EgressPolicy }): Promise<string> {
    const key = [client.endpoint, client.id, sha256Hex(client.secret), client.scope ?? '', client.audience ?? ''].join('\n');
    if (opts.fresh) this.tokens.delete(key);
    const cached = this.tokens.get(key);
    if (cached && cached.until > this.now()) return cached.token;
    let p = this.pending.get(key);
    if (!p) {
      p = requestToken(client, opts.policy ?? DEFAULT_EGRESS_POLICY, opts.timeoutMs, opts.signal, this.marginMs, this.now).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    const got = await p;
    this.tokens.set(key, got);
    return got.token;
  }

  clear(): void {
    this.tokens.clear();
  }
}

async function requestToken(client: OAuthClient, policy: EgressPolicy, timeoutMs: number, signal: AbortSignal, marginMs: number, now: () => number): Promise<CachedToken> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret });
  if (client.scope) form.set('scope', client.scope);
  if (client.audience) form.set('audience', client.audience);
  const u = new URL(client.endpoint);
  const where = `the token endpoint ${u.origin}${u.pathname}`;
  let res: EgressResponse;
  try {
    res = await egressRequest(policy, {
      url: u,
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      maxResponseBytes: 1024 * 1024,
    });
  } catch (err) {
    throw requestFailure(err, where, 1024 * 1024, [client.secret]);
  }
  const text = res.text;
  // The client secret is never sent on to wherever a redirect points.
  if (REDIRECTS.has(res.status))
    throw new StepFailure(`${where} answered ${res.status} (a redirect); token endpoint redirects are not followed: set TokenEndpoint to the final URL.`, false);
  let body: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {};
  try {
    body = JSON.parse(text);
  } catch {
    /* handled below */
  }
  if (res.status < 200 || res.status > 299) {
    const detail = typeof body.error === 'string' ? `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}` : text;
    const note = detail.trim() ? `: ${redact(excerpt(detail, 200), [client.secret]).replace(/\.+$/, '')}` : '';
    const retryable = res.status === 429 || res.status >= 500;
    throw new StepFailure(`${where} refused a token for client ${client.id} (${res.status})${note}${retryable ? '' : ''}.`, retryable);
  }
  if (typeof body.access_token !== 'string' || body.access_token === '') throw new StepFailure(`${where} answered without an access_token.`, false);
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : typeof body.expires_in === 'string' ? Number(body.expires_in) : 3600;
  const lifetimeMs = (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600) * 1000;
  // Short-lived tokens keep at least half their life; long-lived ones are dropped marginMs early.
  return { token: body.access_token, until: now() + Math.max(lifetimeMs - marginMs, lifetimeMs / 2) };
}

const caches = new WeakMap<RunEnvironment, TokenCache>();

/** The server's token cache (one per RunEnvironment). */
export function tokenCacheOf(env: RunEnvironment): TokenCache {
  let c = caches.get(env);
  if (!c) {
    c = new TokenCache();
    caches.set(env, c);
  }
  return c;
}
