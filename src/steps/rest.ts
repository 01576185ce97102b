import type { Json, JsonObject } from '../domain/types.ts';
import { param, StepFailure, type ParamDecl, type RunEnvironment, type RunInput, type RunResult, type StepType } from './plugin.ts';
import { stepSettings } from './settings.ts';
import { excerpt, isAbort, optionalString, redact, secretValue, sha256Hex, stringOf } from './support.ts';

/**
 * RESTRequest and OAuthRESTRequest: one HTTP call with the step's verb, URL, headers and body;
 * the response (JSON parsed, else text) goes into the variable named by DataBucketProperty.
 * Every call carries `Idempotency-Key: <instance id>/<step>`, the same on every attempt.
 */

const VERBS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

const restParameters: Record<string, ParamDecl> = {
  Verb: param('Verb', 'string', { required: true, potentialValues: Object.fromEntries(VERBS.map((v) => [v, v])) }),
  URL: param('URL', 'string', { required: true, tokens: true, tooltip: 'http or https URL; tokens are replaced as text.' }),
  Headers: param('Headers', 'stringListMap', { tokens: true, default: {}, tooltip: 'Header name to list of values. Content-Type and Authorization come from their own settings.' }),
  ContentType: param('Content type', 'string', { default: 'application/json' }),
  RequestContent: param('Request content', 'string', { tokens: true, default: '', tooltip: 'The body; not sent with GET or HEAD.' }),
  DataBucketProperty: param('Variable to store response in', 'string', { required: true }),
};

function validateRest(config: JsonObject): string[] {
  const problems: string[] = [];
  const verb = typeof config.Verb === 'string' ? config.Verb.trim().toUpperCase() : '';
  if (!(VERBS as readonly string[]).includes(verb)) problems.push(`Verb: must be one of ${VERBS.join(', ')}`);
  if (typeof config.DataBucketProperty === 'string' && config.DataBucketProperty.trim() === '') problems.push('DataBucketProperty: must name a variable');
  return problems;
}

export const restRequestStep: StepType = {
  extensionName: 'RESTRequest',
  displayName: 'Invoke REST Request',
  description: 'Calls an HTTP API (optionally with Basic credentials) and stores the response in a variable.',
  outputs: ['continue'],
  workflowTypes: 'all',
  signals: {},
  parameters: {
    ...restParameters,
    Username: param('Username', 'string', { tooltip: 'With Password: sent as HTTP Basic credentials.' }),
    Password: param('Password', 'string', { secret: true, allowSecretReference: true }),
  },
  validate: validateRest,
  enter: () => ({ kind: 'run' }),
  run: async (input) => {
    const user = optionalString(input.config, 'Username');
    const password = secretValue(input.config, 'Password');
    const authorization = user !== null || password !== null ? `Basic ${Buffer.from(`${user ?? ''}:${password ?? ''}`).toString('base64')}` : null;
    return callRest(input, async () => authorization, [password]);
  },
};

export const oauthRestRequestStep: StepType = {
  extensionName: 'OAuthRESTRequest',
  displayName: 'Invoke REST Request (OAuth)',
  description: 'Calls an HTTP API with an OAuth client-credentials token and stores the response in a variable.',
  outputs: ['continue'],
  workflowTypes: 'all',
  signals: {},
  parameters: {
    ...restParameters,
    client_id: param('Client ID', 'string', {}),
    client_secret: param('Client secret', 'string', { secret: true, allowSecretReference: true }),
    TokenEndpoint: param('Token endpoint', 'string', { tooltip: 'The OAuth 2.0 token URL, e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token.' }),
    scope: param('Scope', 'string', {}),
    audience: param('Audience', 'string', {}),
  },
  validate: validateRest,
  enter: () => ({ kind: 'run' }),
  run: async (input) => {
    const client = oauthClient(input.config);
    const cache = tokenCacheOf(input.env);
    const timeoutMs = stepSettings(input.env).rest.timeoutMs;
    return callRest(input, (fresh) => cache.token(client, { fresh, timeoutMs, signal: input.signal }).then((t) => `Bearer ${t}`), [client.secret]);
  },
};

// --- the call --------------------------------------------------------------------------------

async function callRest(input: RunInput, authorization: (fresh: boolean) => Promise<string | null>, secrets: (string | null)[]): Promise<RunResult> {
  const { timeoutMs, maxResponseBytes } = stepSettings(input.env).rest;
  const verb = stringOf(input.config.Verb ?? '').trim().toUpperCase();
  const target = targetUrl(input.config.URL);
  const variable = stringOf(input.config.DataBucketProperty ?? '').trim();
  if (!variable) throw new StepFailure('DataBucketProperty is empty: name the variable that receives the response.', false);
  const headers = new Headers();
  const configured = input.config.Headers;
  if (configured !== null && typeof configured === 'object' && !Array.isArray(configured)) {
    for (const [name, values] of Object.entries(configured)) {
      if (/^(authorization|content-type|idempotency-key|host|content-length)$/i.test(name)) continue;
      for (const v of Array.isArray(values) ? values : [values]) {
        try {
          headers.append(name, stringOf(v));
        } catch {
          throw new StepFailure(`Headers: '${excerpt(name, 40)}' with its value is not a valid HTTP header.`, false);
        }
      }
    }
  }
  headers.set('Idempotency-Key', input.idempotencyKey);
  if (!headers.has('accept')) headers.set('Accept', 'application/json, text/plain;q=0.9, */*;q=0.5');
  const content = stringOf(input.config.RequestContent ?? '');
  const withBody = verb !== 'GET' && verb !== 'HEAD' && content !== '';
  if (withBody) headers.set('Content-Type', stringOf(input.config.ContentType ?? '') || 'application/json');
  const where = `${verb} ${target.origin}${target.pathname}`;

  let auth = await authorization(false);
  for (let tryNo = 0; ; tryNo++) {
    if (auth) headers.set('Authorization', auth);
    let res: Response;
    try {
      res = await fetch(target, { method: verb, headers, body: withBody ? content : undefined, signal: AbortSignal.any([input.signal, AbortSignal.timeout(timeoutMs)]), redirect: 'follow' });
    } catch (err) {
      throw networkFailure(err, where, timeoutMs, secrets);
    }
    // A cached token the API no longer accepts (revoked, rotated): fetch a new one once.
    if (res.status === 401 && tryNo === 0 && auth?.startsWith('Bearer ')) {
      await res.body?.cancel().catch(() => {});
      auth = await authorization(true);
      continue;
    }
    const text = await readLimited(res, maxResponseBytes, where, secrets);
    if (res.status === 429 || res.status >= 500) throw new StepFailure(`${where} answered ${res.status}${bodyNote(text, secrets)}.`, true);
    if (res.status >= 300) throw new StepFailure(`${where} answered ${res.status}${bodyNote(text, secrets)}.`, false);
    return { variables: { [variable]: parseBody(text) }, message: `${where} answered ${res.status}; the response is in $(${variable}).` };
  }
}

function targetUrl(raw: Json | undefined): URL {
  const text = stringOf(raw ?? '').trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new StepFailure(`URL '${excerpt(text, 120)}' is not an absolute URL.`, false);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StepFailure(`URL must use http or https, not ${url.protocol}`, false);
  if (url.username || url.password) throw new StepFailure('URL must not carry credentials; use Username and Password.', false);
  return url;
}

const bodyNote = (text: string, secrets: (string | null)[]): string => (text.trim() ? `: ${redact(excerpt(text, 200), secrets)}` : '');

/** JSON when it parses (whatever the content type says), else the text; no body is null. */
export function parseBody(text: string): Json {
  if (text === '') return null;
  if (/^\s*[[{"\d\-tfn]/.test(text)) {
    try {
      return JSON.parse(text) as Json;
    } catch {
      /* not JSON */
    }
  }
  return text;
}

async function readLimited(res: Response, max: number, where: string, secrets: (string | null)[]): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        throw new StepFailure(`${where} answered with more than ${max} bytes; the limit is COUNTERSIGN_REST_MAX_RESPONSE_BYTES.`, false);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    throw networkFailure(err, where, 0, secrets);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function networkFailure(err: unknown, where: string, timeoutMs: number, secrets: (string | null)[]): StepFailure {
  if (err instanceof StepFailure) return err;
  if (isAbort(err)) return new StepFailure(`${where} did not answer within ${timeoutMs ? `${timeoutMs} ms` : 'the time allowed'}.`, true);
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new StepFailure(redact(`could not reach ${where}: ${why}.`, secrets), true);
}

// --- OAuth client credentials ----------------------------------------------------------------

export interface OAuthClient {
  endpoint: string;
  id: string;
  secret: string;
  scope: string | null;
  audience: string | null;
}

function oauthClient(config: JsonObject): OAuthClient {
  const endpoint = optionalString(config, 'TokenEndpoint');
  if (!endpoint)
    throw new StepFailure(
      'TokenEndpoint is not set: an OAuthRESTRequest step needs the OAuth token URL of its identity provider (for Microsoft Entra: https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token).',
      false,
    );
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new StepFailure(`TokenEndpoint '${excerpt(endpoint, 120)}' is not an absolute URL.`, false);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new StepFailure('TokenEndpoint must use http or https.', false);
  const id = optionalString(config, 'client_id');
  if (!id) throw new StepFailure('client_id is not set: an OAuthRESTRequest step needs the OAuth client id.', false);
  const secret = secretValue(config, 'client_secret');
  if (!secret) throw new StepFailure('client_secret is not set: an OAuthRESTRequest step needs the OAuth client secret (it is write-only: set it with PUT Steps).', false);
  return { endpoint: url.href, id, secret, scope: optionalString(config, 'scope'), audience: optionalString(config, 'audience') };
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

  async token(client: OAuthClient, opts: { fresh?: boolean; timeoutMs: number; signal: AbortSignal }): Promise<string> {
    const key = [client.endpoint, client.id, sha256Hex(client.secret), client.scope ?? '', client.audience ?? ''].join('\n');
    if (opts.fresh) this.tokens.delete(key);
    const cached = this.tokens.get(key);
    if (cached && cached.until > this.now()) return cached.token;
    let p = this.pending.get(key);
    if (!p) {
      p = requestToken(client, opts.timeoutMs, opts.signal, this.marginMs, this.now).finally(() => this.pending.delete(key));
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

async function requestToken(client: OAuthClient, timeoutMs: number, signal: AbortSignal, marginMs: number, now: () => number): Promise<CachedToken> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret });
  if (client.scope) form.set('scope', client.scope);
  if (client.audience) form.set('audience', client.audience);
  const u = new URL(client.endpoint);
  const where = `the token endpoint ${u.origin}${u.pathname}`;
  let res: Response;
  try {
    res = await fetch(client.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
  } catch (err) {
    throw networkFailure(err, where, timeoutMs, [client.secret]);
  }
  const text = await readLimited(res, 1024 * 1024, where, [client.secret]);
  let body: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {};
  try {
    body = JSON.parse(text);
  } catch {
    /* handled below */
  }
  if (!res.ok) {
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
