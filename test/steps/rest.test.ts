import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/domain/types.ts';
import { oauthRestRequestStep } from '../../src/steps/rest/oauth-rest.ts';
import { restRequestStep } from '../../src/steps/rest/rest.ts';
import { TokenCache, tokenCacheOf } from '../../src/steps/rest/token-cache.ts';
import { runEnvironment } from '../../src/steps/support/settings.ts';
import { LOOPBACK_EGRESS } from '../support/server.ts';
import { json, startHttp, tokenEndpoint, type HttpStandIn } from '../support/stand-ins/http.ts';
import { failureOf, runInput } from './run-input.ts';

let api: HttpStandIn;
let idp: HttpStandIn;
let tokens: ReturnType<typeof tokenEndpoint>;
const SECRET = 'client-Secret-~xyz987';
const env = runEnvironment({ rest: { timeoutMs: 1_000, maxResponseBytes: 64 * 1024 }, egress: LOOPBACK_EGRESS });

beforeAll(async () => {
  api = await startHttp();
  idp = await startHttp();
});
afterAll(async () => {
  await api.close();
  await idp.close();
});
beforeEach(() => {
  api.requests.length = 0;
  idp.requests.length = 0;
  tokens = tokenEndpoint({ clientId: 'app-1', clientSecret: SECRET });
  idp.handler = tokens.handle;
  tokenCacheOf(env).clear();
});

const rest = (config: JsonObject, key = 'inst-1/Call') =>
  restRequestStep.run!(
    runInput({ Verb: 'GET', Headers: {}, ContentType: 'application/json', RequestContent: '', DataBucketProperty: 'Out', ...config }, env, { idempotencyKey: key }),
  );
const oauth = (config: JsonObject, key = 'inst-1/Call') =>
  oauthRestRequestStep.run!(
    runInput(
      {
        Verb: 'GET',
        Headers: {},
        ContentType: 'application/json',
        RequestContent: '',
        DataBucketProperty: 'Out',
        client_id: 'app-1',
        client_secret: SECRET,
        TokenEndpoint: `${idp.url}${tokens.path}`,
        scope: 'https://graph.example/.default',
        audience: '',
        ...config,
      },
      env,
      { idempotencyKey: key },
    ),
  );

describe('RESTRequest', () => {
  it('stores the JSON response in the DataBucketProperty variable and sends the Idempotency-Key', async () => {
    api.handler = (_req, res) => json(res, 200, { value: [{ id: 'u-1', mail: 'pat@example.test' }] });
    const r = await rest({ URL: `${api.url}/v1.0/users?$filter=x&$select=id`, Headers: { 'x-keyfactor-requested-with': ['APIClient'], 'X-Multi': ['a', 'b'] } });
    expect(r.variables).toEqual({ Out: { value: [{ id: 'u-1', mail: 'pat@example.test' }] } });
    const req = api.requests[0];
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/v1.0/users?$filter=x&$select=id');
    expect(req.headers['idempotency-key']).toBe('inst-1/Call');
    expect(req.headers['x-keyfactor-requested-with']).toBe('APIClient');
    expect(req.headers['x-multi']).toBe('a, b');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toBe('');
  });

  it('a text response is stored as text; an empty one as null', async () => {
    api.handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('plain words');
    expect((await rest({ URL: api.url })).variables).toEqual({ Out: 'plain words' });
    api.handler = (_req, res) => res.writeHead(204).end();
    expect((await rest({ URL: api.url })).variables).toEqual({ Out: null });
  });

  it('POST sends RequestContent with ContentType; GET never sends a body', async () => {
    api.handler = (_req, res) => json(res, 201, { ok: true });
    await rest({ Verb: 'POST', URL: `${api.url}/things`, ContentType: 'application/json', RequestContent: '{"cn":"www.example.com"}' });
    expect(api.requests[0]).toMatchObject({ method: 'POST', body: '{"cn":"www.example.com"}' });
    expect(api.requests[0].headers['content-type']).toBe('application/json');
    await rest({ Verb: 'GET', URL: `${api.url}/things`, RequestContent: 'CORP\\jdoe' });
    expect(api.requests[1]).toMatchObject({ method: 'GET', body: '' });
  });

  it('Basic credentials from Username and Password; Content-Type, Authorization and Idempotency-Key headers cannot be overridden', async () => {
    api.handler = (_req, res) => json(res, 200, {});
    await rest({ URL: api.url, Username: 'svc', Password: 'pa:ss-Word1', Headers: { Authorization: ['Bearer evil'], 'Idempotency-Key': ['other'] } });
    expect(api.requests[0].headers.authorization).toBe(`Basic ${Buffer.from('svc:pa:ss-Word1').toString('base64')}`);
    expect(api.requests[0].headers['idempotency-key']).toBe('inst-1/Call');
  });

  it('5xx and 429 are retryable; other 4xx are not, with the status and an excerpt of the body', async () => {
    api.handler = (_req, res) => json(res, 503, { error: 'down for maintenance' });
    const f503 = await failureOf(rest({ URL: `${api.url}/x?secret=1` }));
    expect(f503.retryable).toBe(true);
    expect(f503.message).toBe(`GET ${api.url}/x answered 503: {"error":"down for maintenance"}.`);
    api.handler = (_req, res) => json(res, 429, {});
    expect((await failureOf(rest({ URL: api.url }))).retryable).toBe(true);
    api.handler = (_req, res) => json(res, 404, { Message: 'Certificate 42 not found', Detail: 'x'.repeat(1000) });
    const f404 = await failureOf(rest({ URL: `${api.url}/KeyfactorAPI/Certificates/42` }));
    expect(f404.retryable).toBe(false);
    expect(f404.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/KeyfactorAPI\/Certificates\/42 answered 404: \{"Message":"Certificate 42 not found","Detail":"x+…\.$/);
    expect(f404.message.length).toBeLessThan(300);
  });

  it('network errors and timeouts are retryable', async () => {
    const gone = await startHttp();
    const url = gone.url;
    await gone.close();
    const refused = await failureOf(rest({ URL: url }));
    expect(refused).toEqual({ message: `GET ${url}/: could not connect to ${new URL(url).host} or it did not answer in time.`, retryable: true });
    api.handler = () => new Promise(() => {});
    const slow = await failureOf(rest({ URL: `${api.url}/slow` }));
    // The same words as a refused connection: a step cannot tell a closed port from a filtered one.
    expect(slow).toEqual({ message: `GET ${api.url}/slow: could not connect to ${new URL(api.url).host} or it did not answer in time.`, retryable: true });
  });

  it('a response larger than the limit fails without being stored', async () => {
    api.handler = (_req, res) => json(res, 200, { big: 'x'.repeat(100 * 1024) });
    const f = await failureOf(rest({ URL: api.url }));
    expect(f.retryable).toBe(false);
    expect(f.message).toContain('COUNTERSIGN_REST_MAX_RESPONSE_BYTES');
  });

  it('rejects URLs that are not http(s) or carry credentials, and PAM references it cannot resolve', async () => {
    expect((await failureOf(rest({ URL: 'file:///etc/passwd' }))).message).toBe('URL must use http or https, not file:');
    expect((await failureOf(rest({ URL: 'not a url' }))).message).toBe("URL 'not a url' is not an absolute URL.");
    expect((await failureOf(rest({ URL: 'http://u:p@127.0.0.1/' }))).retryable).toBe(false);
    expect((await failureOf(rest({ URL: api.url, Password: { Provider: 1, Parameters: {} } }))).message).toContain('PAM secret reference');
  });

  it('validation: Verb must be an HTTP verb', () => {
    expect(restRequestStep.validate!({ Verb: 'FETCH', URL: 'https://api.example/x', DataBucketProperty: 'v' })).toEqual([
      'Verb: must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS',
    ]);
    expect(restRequestStep.validate!({ Verb: 'get', URL: 'https://api.example/x', DataBucketProperty: 'v' })).toEqual([]);
    expect(restRequestStep.validate!({ Verb: 'get', URL: 'x', DataBucketProperty: 'v' })).toEqual(['URL: is not an absolute http or https URL']);
  });
});

describe('OAuthRESTRequest', () => {
  it('gets a client-credentials token, sends it as a bearer token, and reuses it until it expires', async () => {
    api.handler = (req, res) => json(res, 200, { auth: req.headers.authorization });
    const a = await oauth({ URL: `${api.url}/a` });
    const b = await oauth({ URL: `${api.url}/b` }, 'inst-1/Other');
    expect(a.variables).toEqual({ Out: { auth: 'Bearer token-1' } });
    expect(b.variables).toEqual({ Out: { auth: 'Bearer token-1' } });
    expect(idp.requests).toHaveLength(1);
    const form = new URLSearchParams(idp.requests[0].body);
    expect(Object.fromEntries(form)).toEqual({ grant_type: 'client_credentials', client_id: 'app-1', client_secret: SECRET, scope: 'https://graph.example/.default' });
    expect(api.requests.map((r) => r.headers['idempotency-key'])).toEqual(['inst-1/Call', 'inst-1/Other']);
    // Another scope or audience is another token.
    await oauth({ URL: `${api.url}/c`, scope: 'api://other/.default', audience: 'urn:aud' });
    expect(tokens.issued.map((t) => [t.scope, t.audience])).toEqual([
      ['https://graph.example/.default', null],
      ['api://other/.default', 'urn:aud'],
    ]);
  });

  it('concurrent calls share one token request', async () => {
    api.handler = (_req, res) => json(res, 200, {});
    await Promise.all([1, 2, 3, 4].map((n) => oauth({ URL: `${api.url}/${n}` }, `i/${n}`)));
    expect(idp.requests).toHaveLength(1);
  });

  it('the cache keeps a token until its expiry minus a margin', async () => {
    let now = 1_000_000;
    const cache = new TokenCache(60_000, () => now);
    const client = { endpoint: `${idp.url}${tokens.path}`, id: 'app-1', secret: SECRET, scope: 's', audience: null };
    const signal = AbortSignal.timeout(5_000);
    const policy = LOOPBACK_EGRESS;
    expect(await cache.token(client, { timeoutMs: 1_000, signal, policy })).toBe('token-1');
    now += 3_599_000 - 60_000 - 1;
    expect(await cache.token(client, { timeoutMs: 1_000, signal, policy })).toBe('token-1');
    now += 1;
    expect(await cache.token(client, { timeoutMs: 1_000, signal, policy })).toBe('token-2');
    // A different secret never gets the cached token of the right one.
    const wrong = await failureOf(cache.token({ ...client, secret: 'guess' }, { timeoutMs: 1_000, signal, policy }));
    expect(wrong.retryable).toBe(false);
  });

  it('a 401 from the API with a cached token fetches a new token once', async () => {
    let calls = 0;
    api.handler = (req, res) => (calls++ === 0 ? json(res, 401, { error: 'expired' }) : json(res, 200, { auth: req.headers.authorization }));
    const r = await oauth({ URL: api.url });
    expect(r.variables).toEqual({ Out: { auth: 'Bearer token-2' } });
    expect(idp.requests).toHaveLength(2);
  });

  it('without TokenEndpoint (as in the exports) it fails naming the setting, not retryable, without calling anything', async () => {
    const f = await failureOf(oauth({ URL: api.url, TokenEndpoint: null }));
    expect(f.retryable).toBe(false);
    expect(f.message).toMatch(/^TokenEndpoint is not set: an OAuthRESTRequest step needs the OAuth token URL/);
    expect((await failureOf(oauth({ URL: api.url, client_secret: null }))).message).toMatch(/^client_secret is not set/);
    expect((await failureOf(oauth({ URL: api.url, client_id: null }))).message).toMatch(/^client_id is not set/);
    expect(api.requests).toHaveLength(0);
    expect(idp.requests).toHaveLength(0);
  });

  it('a refused client is not retryable and the secret never appears in the message; a failing token endpoint is retryable', async () => {
    const f = await failureOf(oauth({ URL: api.url, client_secret: 'wrong-Secret-000' }));
    expect(f.retryable).toBe(false);
    expect(f.message).toBe(`the token endpoint ${idp.url}${tokens.path} refused a token for client app-1 (401): invalid_client: AADSTS7000215: Invalid client secret provided.`);
    expect(f.message).not.toContain('wrong-Secret-000');
    idp.handler = (req, res) => json(res, 500, { error: 'server_error', echo: req.body });
    const g = await failureOf(oauth({ URL: api.url }));
    expect(g.retryable).toBe(true);
    expect(g.message).not.toContain(SECRET);
    expect(g.message).not.toContain(encodeURIComponent(SECRET));
    expect(api.requests).toHaveLength(0);
  });
});
