import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { startHttp, type HttpStandIn } from '../support/stand-ins/http.ts';

/*
 * Attacks on robustness, over real HTTP, on both stores (COUNTERSIGN_TEST_STORE=postgres):
 * results that cannot be stored, instances that could not be ended, JSON that overflows stacks
 * or holds text PostgreSQL refuses, response headers, repeated Authorization headers.
 */

let t: TestApp;
let api: HttpStandIn;
const MAX_ATTEMPTS = 2;

beforeAll(async () => {
  api = await startHttp();
  // A short lease: a job whose result was never recorded would be claimed again within the test.
  t = await startTestApp({ stepMaxAttempts: MAX_ATTEMPTS, jobLeaseMs: 1_000, steps: { rest: { timeoutMs: 10_000, maxResponseBytes: 1024 * 1024 } } });
});
afterAll(async () => {
  await t.close();
  await api.close();
});

const restStep = (uniqueName: string, next: string, path: string) => ({
  ExtensionName: 'RESTRequest',
  UniqueName: uniqueName,
  DisplayName: `Call ${uniqueName}`,
  Enabled: true,
  ConfigurationParameters: { Verb: 'GET', Headers: {}, ContentType: 'application/json', RequestContent: '', DataBucketProperty: 'Answer', URL: `${api.url}${path}` },
  Signals: [],
  Conditions: [],
  Outputs: { continue: next },
});

async function startWithRest(path: string): Promise<string> {
  const def = await publishedDefinition(t, [noop('StartNOOP', 'Call'), restStep('Call', 'EndNOOP', path), noop('EndNOOP')], { type: 'Expiration' });
  const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: def } });
  expect(res.status, res.text).toBe(201);
  return res.body.Id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function finished(id: string): Promise<any> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const got = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true });
    if ([3, 4, 5, 6].includes(got.body.Status) || Date.now() > deadline) return got.body;
    await sleep(50);
  }
}

const callsTo = (path: string) => api.requests.filter((r) => r.path === path).length;

describe('a step result that cannot be stored as is', () => {
  it('a 20,000-deep JSON response fails the step with the reason; the call is made once, never repeated', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    api.handler = (req, res) => (req.path === '/deep' ? res.writeHead(200, { 'content-type': 'application/json' }).end(deep) : res.writeHead(404).end());
    const id = await startWithRest('/deep');
    const done = await finished(id);
    expect(done.Status).toBe(5);
    expect(done.StatusMessage).toBe(
      "Step 'Call Call' (RESTRequest) succeeded, but its result cannot be stored: it is nested deeper than 64 levels (the limits are 262144 bytes and 64 levels).",
    );
    // Longer than the lease and the retry backoff: a job left behind would have run again by now.
    await sleep(2_500);
    expect(callsTo('/deep')).toBe(1);
    expect((await t.call('DELETE', `/KeyfactorAPI/Workflow/Instances/${id}`)).status).toBe(204);
  });

  it('a lone surrogate (\\ud800 in the JSON text) is kept as U+FFFD; the instance completes; one call', async () => {
    api.handler = (req, res) =>
      req.path === '/surrogate'
        ? res.writeHead(200, { 'content-type': 'application/json' }).end('{"cn":"a\\ud800b","\\udc00key":["\\u0000"],"ok":"😀"}')
        : res.writeHead(404).end();
    const id = await startWithRest('/surrogate');
    const done = await finished(id);
    expect(done.Status, done.StatusMessage).toBe(3);
    expect(done.CurrentStateData.Answer).toEqual({ cn: 'a\ufffdb', '\ufffdkey': ['\ufffd'], ok: '😀' });
    await sleep(1_500);
    expect(callsTo('/surrogate')).toBe(1);
  });

  it('a result over the size bound fails the step with the limit named', async () => {
    api.handler = (req, res) => (req.path === '/big' ? res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(300 * 1024)) : res.writeHead(404).end());
    const done = await finished(await startWithRest('/big'));
    expect(done.Status).toBe(5);
    expect(done.StatusMessage).toMatch(/its result cannot be stored: it is larger than 262144 bytes as JSON/);
    expect(callsTo('/big')).toBe(1);
  });
});

describe('an operator can always end a Running instance', () => {
  it('Stop and then Delete while a REST call is in flight; the call finishing later changes nothing and is not repeated', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    api.handler = async (req, res) => {
      if (req.path !== '/hang') return res.writeHead(404).end();
      await released;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}');
    };
    const id = await startWithRest('/hang');
    for (let i = 0; callsTo('/hang') === 0 && i < 400; i++) await sleep(25);
    expect(callsTo('/hang')).toBe(1);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body.Status).toBe(1);

    // Restart still refuses a Running instance (it restarts Failed or Suspended ones).
    expect((await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Restart`)).status).toBe(400);
    expect((await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Stop`)).status).toBe(204);
    const stopped = (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body;
    expect(stopped).toMatchObject({ Status: 4, StatusMessage: 'Stopped by admin.' });

    // The step finishes after the Stop: its result is ignored.
    release();
    await sleep(500);
    const after = (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body;
    expect(after).toMatchObject({ Status: 4, StatusMessage: 'Stopped by admin.' });
    expect(after.CurrentStateData.Answer).toBeUndefined();
    expect((await t.call('DELETE', `/KeyfactorAPI/Workflow/Instances/${id}`)).status).toBe(204);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).status).toBe(404);
    await sleep(1_500);
    expect(callsTo('/hang')).toBe(1);
  });

  it('Delete while Running, the call still in flight: its jobs go with it, the late result finds no instance', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    api.handler = async (req, res) => {
      if (req.path !== '/hang2') return res.writeHead(404).end();
      await released;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}');
    };
    const id = await startWithRest('/hang2');
    for (let i = 0; callsTo('/hang2') === 0 && i < 400; i++) await sleep(25);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body.Status).toBe(1);
    expect((await t.call('DELETE', `/KeyfactorAPI/Workflow/Instances/${id}`)).status).toBe(204);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).status).toBe(404);
    release();
    await sleep(1_500);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).status).toBe(404);
    expect(callsTo('/hang2')).toBe(1);
    expect((await t.call('GET', '/KeyfactorAPI/Status/Endpoints')).status).toBe(200);
  });
});

describe('JSON and text at the API edge', () => {
  const deepArray = `${'['.repeat(20_000)}"\\u0000"${']'.repeat(20_000)}`;

  it('a 20,000-deep body is 400, authenticated or not, at a route or not; never 500', async () => {
    const authed = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { raw: deepArray });
    expect(authed.status).toBe(400);
    expect(authed.body).toMatchObject({ ErrorCode: '0xA5C00003', Message: expect.stringMatching(/nested deeper than 64 levels/) });
    // Authentication comes first at API routes; an unknown route parses the body with no authentication at all.
    const anonymous = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { raw: deepArray, auth: null });
    expect(anonymous.status).toBe(401);
    const unknownRoute = await t.call('POST', '/KeyfactorAPI/NoSuchThing', { raw: deepArray, auth: null, unchecked: true });
    expect(unknownRoute.status).toBe(400);
    const outsideApi = await t.call('POST', '/NoSuchThing', { raw: deepArray, auth: null, unchecked: true });
    expect(outsideApi.status).toBe(400);
  });

  it('InitialData 4,200 levels deep is 400 and starts nothing; 60 levels are accepted', async () => {
    const def = await publishedDefinition(t, [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP')]);
    const before = (await t.call('GET', '/KeyfactorAPI/Workflow/Instances')).body.length;
    const deep = `{"DefinitionId":"${def}","InitialData":${'{"a":'.repeat(4_200)}1${'}'.repeat(4_200)}}`;
    const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { raw: deep });
    expect(res.status).toBe(400);
    expect(res.body.Message).toMatch(/nested deeper than 64 levels/);
    expect((await t.call('GET', '/KeyfactorAPI/Workflow/Instances')).body.length).toBe(before);
    const fine = `{"DefinitionId":"${def}","InitialData":${'{"a":'.repeat(60)}1${'}'.repeat(60)}}`;
    expect((await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { raw: fine })).status).toBe(201);
  });

  it('a lone surrogate anywhere in a body is 400 on both stores, and changes nothing', async () => {
    const before = (await t.call('GET', '/KeyfactorAPI/Workflow/Definitions')).body;
    const res = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { raw: '{"DisplayName":"a\\ud800b","WorkflowType":"Enrollment"}' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ ErrorCode: '0xA5C00003', Message: expect.stringMatching(/lone surrogate/) });
    const inKey = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { raw: '{"DisplayName":"ok","WorkflowType":"Enrollment","x":{"\\udfffk":1}}' });
    expect(inKey.status).toBe(400);
    expect((await t.call('GET', '/KeyfactorAPI/Workflow/Definitions')).body).toEqual(before);
    // A proper pair is text like any other.
    const pair = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { raw: '{"DisplayName":"pair \\ud83d\\ude00","WorkflowType":"Enrollment"}' });
    expect(pair.status, pair.text).toBe(200);
    expect(pair.body.DisplayName).toBe('pair 😀');
  });

  it('NUL in a query value or path parameter is 400, not a store error', async () => {
    for (const path of [
      '/KeyfactorAPI/Workflow/Instances?QueryString=Title%20-eq%20%22a%00b%22',
      '/KeyfactorAPI/Workflow/Definitions?pq.queryString=%00',
      '/KeyfactorAPI/Workflow/Definitions/Steps/NOOP%00',
      '/KeyfactorAPI/Security/Identities?QueryString=AccountName%20-eq%20%22a%00%22',
    ]) {
      const res = await t.call('GET', path, { unchecked: true });
      expect(res.status, `${path}: ${res.text}`).toBe(400);
      expect(res.body.ErrorCode).toBe('0xA5C00003');
    }
  });
});

describe('response headers', () => {
  const expectApiHeaders = (res: { status: number; headers: Headers }, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
  };

  it('nosniff and no-store on API answers: 200, 401, 404 (route and resource), 400, 413', async () => {
    expectApiHeaders(await t.call('GET', '/KeyfactorAPI/Status/Endpoints'), 200);
    expectApiHeaders(await t.call('GET', '/KeyfactorAPI/Workflow/Definitions', { auth: null }), 401);
    expectApiHeaders(await t.call('GET', '/KeyfactorAPI/NoSuchRoute', { unchecked: true }), 404);
    expectApiHeaders(await t.call('GET', '/keyfactorapi/Workflow/Instances/00000000-0000-4000-8000-000000000000'), 404);
    expectApiHeaders(await t.call('GET', '/KeyfactorAPI/Workflow/Instances/not-a-guid'), 400);
    expectApiHeaders(await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { raw: `"${'x'.repeat(5 * 1024 * 1024)}"` }), 413);
  });

  it('outside the API, nosniff only: the portal sets its own caching', async () => {
    const res = await fetch(`${t.url}/NoSuchThing`);
    await res.text();
    expect(res.status).toBe(404);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBeNull();
  });
});

describe('Authorization', () => {
  /** Raw HTTP: fetch would merge the two headers into one. */
  function rawRequest(lines: string[]): Promise<string> {
    const { hostname, port } = new URL(t.url);
    return new Promise((resolve, reject) => {
      // write, not end: a half-closed client may see its connection closed before a slow answer ("Connection: close" ends it).
      const socket = connect(Number(port), hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
      let data = '';
      socket.on('data', (c) => (data += c.toString('utf8')));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
  }

  it('two Authorization headers in one request are 400, even when the first one is valid', async () => {
    const head = ['GET /KeyfactorAPI/Workflow/Definitions HTTP/1.1', `Host: ${new URL(t.url).host}`, 'x-keyfactor-requested-with: APIClient', 'Connection: close'];
    const twice = await rawRequest([...head, `Authorization: ${t.adminAuth}`, 'authorization: Basic bm9ib2R5Om5vdGhpbmc=']);
    expect(twice).toMatch(/^HTTP\/1\.1 400 /);
    expect(twice).toMatch(/"ErrorCode":"0xA5C00003"/);
    expect(twice).toMatch(/Send one Authorization header; this request has 2/);
    expect(twice.toLowerCase()).toContain('cache-control: no-store');
    const once = await rawRequest([...head, `Authorization: ${t.adminAuth}`]);
    expect(once).toMatch(/^HTTP\/1\.1 200 /);
  });
});
