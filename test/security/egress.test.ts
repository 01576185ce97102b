import { lookup } from 'node:dns/promises';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkAddress, egressPolicy } from '../../src/domain/egress.ts';
import { checkedLookup, EgressDenied } from '../../src/steps/support/egress-http.ts';
import { noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { json, startHttp, type HttpStandIn } from '../support/stand-ins/http.ts';

/**
 * The REST-step attacks, performed over the API against loopback stand-ins: secrets sent to a new
 * host, SSRF (metadata, file:, gopher:, names resolving to denied addresses, port scanning),
 * cross-origin redirects, and token injection into URLs, JSON bodies and headers.
 */

let t: TestApp;
let api: HttpStandIn;
let other: HttpStandIn;
const D = '/KeyfactorAPI/Workflow/Definitions';

beforeAll(async () => {
  api = await startHttp();
  other = await startHttp();
  t = await startTestApp({ stepMaxAttempts: 1, steps: { rest: { timeoutMs: 700, maxResponseBytes: 1024 * 1024 } } });
});
afterAll(async () => {
  await t.close();
  await api.close();
  await other.close();
});
beforeEach(() => {
  api.requests.length = 0;
  other.requests.length = 0;
});

const rest = (config: Record<string, unknown>, ext = 'RESTRequest') => ({
  ExtensionName: ext,
  UniqueName: 'Call',
  DisplayName: 'Call',
  Enabled: true,
  ConfigurationParameters: { Verb: 'GET', Headers: {}, ContentType: 'application/json', RequestContent: '', DataBucketProperty: 'Answer', ...config },
  Signals: [],
  Conditions: [],
  Outputs: { continue: 'EndNOOP' },
});
const flow = (config: Record<string, unknown>, ext?: string) => [noop('StartNOOP', 'Call'), rest(config, ext), noop('EndNOOP')];

async function newDefinition(app: TestApp): Promise<string> {
  const created = await app.call('POST', D, {
    body: { DisplayName: `Egress ${Math.random().toString(36).slice(2)}`, Description: 'test', WorkflowType: 'Expiration', Key: Math.random().toString(36).slice(2) },
  });
  expect(created.status, created.text).toBe(200);
  return created.body.Id;
}

async function run(app: TestApp, steps: unknown[], initialData: Record<string, unknown> = {}): Promise<any> {
  const def = await publishedDefinition(app, steps, { type: 'Expiration' });
  const res = await app.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: def, InitialData: { cn: 'www.example.com', ...initialData } } });
  expect(res.status, res.text).toBe(201);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const got = await app.call('GET', `/KeyfactorAPI/Workflow/Instances/${res.body.Id}`);
    if ([3, 4, 5, 6].includes(got.body.Status) || Date.now() > deadline) return got.body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a stored secret stays bound to its destination', () => {
  it('PUT Steps with a new host and the secret left null is a 400 naming the parameter; the new host gets nothing', async () => {
    const id = await newDefinition(t);
    const first = await t.call('PUT', `${D}/${id}/Steps`, { body: flow({ URL: `${api.url}/v1/certs`, Username: 'svc', Password: 'Stored-Secret-1' }) });
    expect(first.status, first.text).toBe(200);
    // The editor's GET shows the secret as null; sending it back with another host must not carry it there.
    for (const url of [`${other.url}/collect`, `${api.url.replace('http:', 'https:')}/v1/certs`, `http://localhost:${new URL(api.url).port}/v1/certs`]) {
      const moved = await t.call('PUT', `${D}/${id}/Steps`, { body: flow({ URL: url, Username: 'svc', Password: null }) });
      expect(moved.status, url).toBe(400);
      expect(moved.body.Message).toContain("Step 'Call': ConfigurationParameters.Password: the stored secret is bound to its destination and URL");
    }
    // Same origin, another path: kept. A re-entered secret for a new host: accepted.
    const samePlace = await t.call('PUT', `${D}/${id}/Steps`, { body: flow({ URL: `${api.url}/v2/other`, Username: 'svc', Password: null }) });
    expect(samePlace.status, samePlace.text).toBe(200);
    const reentered = await t.call('PUT', `${D}/${id}/Steps`, { body: flow({ URL: `${other.url}/collect`, Username: 'svc', Password: 'New-Secret-2' }) });
    expect(reentered.status, reentered.text).toBe(200);
  });

  it('changing the token endpoint or the step type without re-entering the secret is a 400 naming the parameter', async () => {
    const id = await newDefinition(t);
    const oauth = { URL: `${api.url}/graph`, client_id: 'app', client_secret: 'Client-Secret-9', TokenEndpoint: `${api.url}/tenant-a/token`, scope: 's', audience: '' };
    expect((await t.call('PUT', `${D}/${id}/Steps`, { body: flow(oauth, 'OAuthRESTRequest') })).status).toBe(200);
    const moved = await t.call('PUT', `${D}/${id}/Steps`, { body: flow({ ...oauth, client_secret: null, TokenEndpoint: `${api.url}/tenant-b/token` }, 'OAuthRESTRequest') });
    expect(moved.status).toBe(400);
    expect(moved.body.Message).toContain('ConfigurationParameters.client_secret: the stored secret is bound to its destination and TokenEndpoint');
    // A REST step that held a Password becomes an OAuth step, then back: nothing is carried over silently.
    const id2 = await newDefinition(t);
    expect((await t.call('PUT', `${D}/${id2}/Steps`, { body: flow({ URL: `${api.url}/x`, Username: 'u', Password: 'P-secret-3' }) })).status).toBe(200);
    const asOauth = { ...oauth, Password: undefined };
    expect((await t.call('PUT', `${D}/${id2}/Steps`, { body: flow(asOauth, 'OAuthRESTRequest') })).status).toBe(200);
    const back = await t.call('PUT', `${D}/${id2}/Steps`, { body: flow({ URL: `${api.url}/x`, Username: 'u', Password: null }) });
    expect(back.status).toBe(200); // the OAuth version held no Password: nothing to carry
  });

  it('a step holding a secret may not take its host from a token', async () => {
    const id = await newDefinition(t);
    const res = await t.call('PUT', `${D}/${id}/Steps`, { body: flow({ URL: 'http://$(apihost)/v1', Username: 'svc', Password: 'pw-123456' }) });
    expect(res.status).toBe(400);
    expect(res.body.Message).toContain('URL: must name its host literally when the step holds a secret');
  });
});

describe('SSRF', () => {
  it('PUT Steps refuses metadata, link-local, private, file: and gopher: URLs with 400 and stores nothing', async () => {
    const id = await newDefinition(t);
    const cases: [string, string][] = [
      ['http://169.254.169.254/latest/meta-data/iam/', 'link-local'],
      ['http://metadata.google.internal/computeMetadata/v1/', 'cloud metadata'],
      ['http://[fd00:ec2::254]/latest/', 'private'],
      ['http://[::ffff:169.254.169.254]/', 'link-local'],
      ['http://10.0.0.5/admin', 'private'],
      ['file:///etc/passwd', 'must use http or https, not file:'],
      ['gopher://127.0.0.1:25/_HELO', 'must use http or https, not gopher:'],
    ];
    for (const [url, why] of cases) {
      const res = await t.call('PUT', `${D}/${id}/Steps`, { body: flow({ URL: url }) });
      expect(res.status, url).toBe(400);
      expect(res.body.Message, url).toContain('ConfigurationParameters.URL: ');
      expect(res.body.Message, url).toContain(why);
    }
    const oauth = await t.call('PUT', `${D}/${id}/Steps`, {
      body: flow({ URL: `${api.url}/x`, client_id: 'a', client_secret: 'b-secret', TokenEndpoint: 'http://169.254.169.254/token' }, 'OAuthRESTRequest'),
    });
    expect(oauth.status).toBe(400);
    expect(oauth.body.Message).toContain('ConfigurationParameters.TokenEndpoint: 169.254.169.254 is link-local');
    const got = await t.call('GET', `${D}/${id}`);
    expect(got.body.Steps ?? []).toEqual([]);
  });

  it('a host from a token is checked at run time: a denied name fails the step before anything connects', async () => {
    // This server allows the loopback address but not the name localhost.
    const strict = await startTestApp({ stepMaxAttempts: 1, steps: { egress: egressPolicy('127.0.0.1', '') } });
    try {
      const port = new URL(api.url).port;
      const denied = await run(strict, flow({ URL: 'http://$(apihost)/x' }), { apihost: `localhost:${port}` });
      expect(denied.Status).toBe(5);
      expect(denied.StatusMessage).toBe(
        `Step 'Call' (RESTRequest) failed: GET http://localhost:${port}/x is not allowed: localhost is the loopback interface; REST steps may not reach it unless COUNTERSIGN_EGRESS_ALLOW lists it.`,
      );
      const meta = await run(strict, flow({ URL: 'http://$(apihost)/latest' }), { apihost: '169.254.169.254' });
      expect(meta.StatusMessage).toContain('is not allowed: 169.254.169.254 is link-local');
      expect(api.requests).toHaveLength(0);
      // The allowed literal address still works on this server.
      api.handler = (_req, res) => json(res, 200, { ok: true });
      const fine = await run(strict, flow({ URL: 'http://$(apihost)/x' }), { apihost: `127.0.0.1:${port}` });
      expect(fine.Status, fine.StatusMessage).toBe(3);
    } finally {
      await strict.close();
    }
  });

  it('a name that resolves to a denied address is refused after DNS resolution, by the lookup the socket connects with', async () => {
    const policy = egressPolicy('', '');
    const got = await new Promise<unknown>((resolve) => checkedLookup(policy)('localhost', { all: true }, (err, addrs) => resolve(err ?? addrs)));
    expect(got).toBeInstanceOf(EgressDenied);
    expect((got as Error).message).toBe('localhost resolves to 127.0.0.1 is a loopback address; REST steps may not reach it unless COUNTERSIGN_EGRESS_ALLOW lists it');
    const allowed = await new Promise<unknown>((resolve) => checkedLookup(egressPolicy('localhost', ''))('localhost', { all: true }, (err, addrs) => resolve(err ?? addrs)));
    expect(allowed).toEqual(expect.arrayContaining([expect.objectContaining({ address: '127.0.0.1' })]));
  });

  // This machine's own name resolves to a loopback address (as /etc/hosts usually says): an innocent
  // looking host name that passes the PUT Steps check and must be refused once resolved.
  const own = hostname();
  it('over the API: a step whose URL names a host resolving to loopback is refused at run time', async () => {
    const addrs = await lookup(own, { all: true }).catch(() => []);
    expect(addrs.length, `${own} must resolve for this test`).toBeGreaterThan(0);
    expect(
      addrs.every((a) => !checkAddress(egressPolicy('', ''), a.address).ok),
      `${own} must resolve to loopback or private addresses`,
    ).toBe(true);
    // The default policy: nothing private is allowed.
    const strict = await startTestApp({ stepMaxAttempts: 1, steps: { egress: egressPolicy('', '') } });
    try {
      const port = new URL(api.url).port;
      const res = await run(strict, flow({ URL: `http://${own}:${port}/internal` }));
      expect(res.Status).toBe(5);
      expect(res.StatusMessage).toMatch(new RegExp(`is not allowed: ${own} resolves to .* (loopback|private)`));
      expect(api.requests).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });

  it('a closed port, a silent (filtered) port and a resetting port give the same error text', async () => {
    const closed = await startHttp();
    const closedUrl = closed.url;
    await closed.close();
    const sockets = new Set<Socket>();
    const tcp = async (onConnect: (s: Socket) => void): Promise<TcpServer> => {
      const s = createTcpServer((sock) => {
        sockets.add(sock);
        onConnect(sock);
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      return s;
    };
    const silent = await tcp(() => {});
    const resetting = await tcp((s) => s.resetAndDestroy());
    const urlOf = (s: TcpServer) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    try {
      const messages: string[] = [];
      for (const url of [closedUrl, urlOf(silent), urlOf(resetting)]) {
        const res = await run(t, flow({ URL: `${url}/probe` }));
        expect(res.Status).toBe(5);
        messages.push(String(res.StatusMessage).split(url).join('<target>').split(new URL(url).host).join('<host>'));
      }
      expect(messages[0]).toBe("Step 'Call' (RESTRequest) failed: GET <target>/probe: could not connect to <host> or it did not answer in time.");
      expect(new Set(messages).size).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      resetting.close();
    }
  });
});

describe('redirects', () => {
  it('a redirect to another origin is not followed by default: the second server gets nothing', async () => {
    api.handler = (_req, res) => res.writeHead(302, { location: `${other.url}/landing` }).end();
    other.handler = (req, res) => json(res, 200, { headers: req.headers });
    const res = await run(t, flow({ URL: `${api.url}/start`, Username: 'svc', Password: 'Redirect-Secret-7', Headers: { 'X-Api-Key': ['key-123456'] } }));
    expect(res.Status).toBe(5);
    expect(res.StatusMessage).toContain(`was redirected to another origin (${other.url}); it was not followed`);
    expect(other.requests).toHaveLength(0);
  });

  it('with AllowCrossOriginRedirects it is followed without custom headers or credentials; same-origin redirects keep them', async () => {
    api.handler = (req, res) => (req.path === '/start' ? res.writeHead(307, { location: '/moved' }).end() : res.writeHead(302, { location: `${other.url}/landing` }).end());
    other.handler = (_req, res) => json(res, 200, { ok: true });
    const res = await run(
      t,
      flow({ URL: `${api.url}/start`, Username: 'svc', Password: 'Redirect-Secret-7', Headers: { 'X-Api-Key': ['key-123456'] }, AllowCrossOriginRedirects: true }),
    );
    expect(res.Status, res.StatusMessage).toBe(3);
    expect(api.requests.map((r) => r.path)).toEqual(['/start', '/moved']);
    expect(api.requests[1].headers['x-api-key']).toBe('key-123456');
    expect(api.requests[1].headers.authorization).toMatch(/^Basic /);
    expect(other.requests).toHaveLength(1);
    expect(other.requests[0].headers['x-api-key']).toBeUndefined();
    expect(other.requests[0].headers.authorization).toBeUndefined();
    expect(JSON.stringify(other.requests[0])).not.toContain(Buffer.from('svc:Redirect-Secret-7').toString('base64'));
  });

  it('redirect loops stop after a few hops', async () => {
    api.handler = (_req, res) => res.writeHead(302, { location: '/again' }).end();
    const res = await run(t, flow({ URL: `${api.url}/loop` }));
    expect(res.StatusMessage).toContain('was redirected more than 5 times');
    expect(api.requests).toHaveLength(6);
  });
});

describe('token injection', () => {
  it('a token in a JSON body cannot add members; a token in the URL cannot leave its path segment or query value', async () => {
    api.handler = (_req, res) => json(res, 200, { ok: true });
    const evilCn = 'x","admin":true,"y":"';
    const evilUser = '../../admin?evil=1#';
    const res = await run(t, flow({ Verb: 'POST', URL: `${api.url}/users/$(user)/certs?owner=$(user)&fixed=1`, RequestContent: '{"cn":"$(cn)","count":$(count)}' }), {
      cn: evilCn,
      user: evilUser,
      count: 3,
    });
    expect(res.Status, res.StatusMessage).toBe(3);
    const got = api.requests[0];
    expect(JSON.parse(got.body)).toEqual({ cn: evilCn, count: 3 });
    expect(got.path).toBe(`/users/${encodeURIComponent(evilUser)}/certs`);
    expect(Object.fromEntries(got.query)).toEqual({ owner: evilUser, fixed: '1' });
    expect(got.url).not.toContain('/admin?');
  });

  it('a header value with a line break fails the step and nothing is sent', async () => {
    const res = await run(t, flow({ URL: `${api.url}/x`, Headers: { 'X-User': ['$(user)'], 'X-Fixed': ['pre-$(user)'] } }), { user: 'pat\r\nX-Admin: true' });
    expect(res.Status).toBe(5);
    expect(res.StatusMessage).toContain("Headers: the value of 'X-User' contains a line break or NUL; the request was not sent.");
    expect(api.requests).toHaveLength(0);
  });
});
