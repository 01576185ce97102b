import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { json, startHttp, type HttpStandIn } from '../support/stand-ins/http.ts';

let t: TestApp;
let api: HttpStandIn;

beforeAll(async () => {
  api = await startHttp();
  t = await startTestApp({ stepMaxAttempts: 2, steps: { rest: { timeoutMs: 2_000, maxResponseBytes: 1024 * 1024 } } });
});
afterAll(async () => {
  await t.close();
  await api.close();
});

const rest = (uniqueName: string, next: string, config: Record<string, unknown>) => ({
  ExtensionName: 'RESTRequest',
  UniqueName: uniqueName,
  DisplayName: `Call ${uniqueName}`,
  Enabled: true,
  ConfigurationParameters: { Verb: 'GET', Headers: {}, ContentType: 'application/json', RequestContent: '', DataBucketProperty: 'Answer', ...config },
  Signals: [],
  Conditions: [],
  Outputs: { continue: next },
});

async function finished(id: string): Promise<any> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const got = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
    if ([3, 4, 5, 6].includes(got.body.Status) || Date.now() > deadline) return got.body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function start(definitionId: string): Promise<string> {
  const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: definitionId, InitialData: { cn: 'www.example.com' } } });
  expect(res.status, res.text).toBe(201);
  return res.body.Id;
}

describe('the runner with real step executors', () => {
  it('retries a retryable failure with backoff, then fails the instance with the reason; Restart runs it again', async () => {
    let healthy = false;
    api.handler = (_req, res) => (healthy ? json(res, 200, { ok: true }) : json(res, 503, { error: 'maintenance' }));
    const def = await publishedDefinition(t, [noop('StartNOOP', 'Lookup'), rest('Lookup', 'EndNOOP', { URL: `${api.url}/lookup/$(cn)` }), noop('EndNOOP')], { type: 'Expiration' });
    const id = await start(def);
    const failed = await finished(id);
    expect(failed.Status).toBe(5);
    expect(failed.StatusMessage).toBe(`Step 'Call Lookup' (RESTRequest) failed (after 2 attempts): GET ${api.url}/lookup/www.example.com answered 503: {"error":"maintenance"}.`);
    const calls = api.requests.filter((r) => r.path === '/lookup/www.example.com');
    expect(calls).toHaveLength(2);
    expect(new Set(calls.map((r) => r.headers['idempotency-key']))).toEqual(new Set([`${id}/Lookup`]));

    healthy = true;
    const restarted = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Restart`);
    expect(restarted.status).toBe(204);
    const newId = restarted.headers.get('location')!.split('/').pop()!;
    const done = await finished(newId);
    expect(done).toMatchObject({ Status: 3, CurrentStateData: { Answer: { ok: true } } });
    // The new instance is a new execution: a new idempotency key.
    expect(api.requests.at(-1)!.headers['idempotency-key']).toBe(`${newId}/Lookup`);
  });

  it('a permanent failure fails at once, without retries', async () => {
    api.handler = (_req, res) => json(res, 404, { Message: 'no such certificate' });
    const before = api.requests.length;
    const def = await publishedDefinition(t, [noop('StartNOOP', 'Get'), rest('Get', 'EndNOOP', { URL: `${api.url}/cert/1` }), noop('EndNOOP')], { type: 'Expiration' });
    const failed = await finished(await start(def));
    expect(failed.StatusMessage).toBe(`Step 'Call Get' (RESTRequest) failed: GET ${api.url}/cert/1 answered 404: {"Message":"no such certificate"}.`);
    expect(api.requests.length - before).toBe(1);
  });

  it('a later step addresses the stored response as $(Var.path)', async () => {
    api.handler = (req, res) => (req.path === '/first' ? json(res, 200, { owner: { mail: 'pat@example.test' }, ids: [7, 8] }) : json(res, 200, { got: req.path }));
    const def = await publishedDefinition(
      t,
      [
        noop('StartNOOP', 'First'),
        rest('First', 'Second', { URL: `${api.url}/first`, DataBucketProperty: 'First' }),
        rest('Second', 'EndNOOP', { URL: `${api.url}/people/$(First.owner.mail)/$(First.ids.1)`, DataBucketProperty: 'Second' }),
        noop('EndNOOP'),
      ],
      { type: 'Expiration' },
    );
    const done = await finished(await start(def));
    // Token values are percent-encoded as path components.
    expect(done.CurrentStateData.Second).toEqual({ got: '/people/pat%40example.test/8' });
  });

  it('the catalogue describes the automatic steps from their declarations', async () => {
    const oauth = await t.call('GET', '/KeyfactorAPI/Workflow/Definitions/Steps/OAuthRESTRequest');
    expect(oauth.status).toBe(200);
    expect(Object.keys(oauth.body.ConfigurationParametersDefinition).sort()).toEqual(
      [
        'Verb',
        'URL',
        'Headers',
        'ContentType',
        'RequestContent',
        'DataBucketProperty',
        'AllowCrossOriginRedirects',
        'client_id',
        'client_secret',
        'TokenEndpoint',
        'scope',
        'audience',
      ].sort(),
    );
    expect(oauth.body.ConfigurationParametersDefinition.URL).toMatchObject({ SupportTokenReplacement: true });
    const names = (await t.call('GET', '/KeyfactorAPI/Workflow/Definitions/Steps')).body.map((s: any) => s.ExtensionName);
    for (const n of ['Email', 'RESTRequest', 'OAuthRESTRequest', 'PowerShell', 'Script']) expect(names).toContain(n);
  });
});

describe('configuration', () => {
  it('reads the SMTP, script, REST, lease and attempts settings, checking them', () => {
    const c = loadConfig({
      COUNTERSIGN_SMTP_HOST: 'mail.example.test',
      COUNTERSIGN_SMTP_USER: 'mailer',
      COUNTERSIGN_SMTP_PASSWORD: 'pw',
      COUNTERSIGN_SMTP_FROM: 'pki@example.test',
      COUNTERSIGN_PWSH: '/usr/bin/pwsh',
      COUNTERSIGN_SCRIPT_TIMEOUT_MS: '2000',
      COUNTERSIGN_JOB_LEASE_MS: '5000',
      COUNTERSIGN_STEP_MAX_ATTEMPTS: '3',
    });
    expect(c.steps!.smtp).toEqual({
      host: 'mail.example.test',
      port: 587,
      security: 'opportunistic',
      rejectUnauthorized: true,
      user: 'mailer',
      password: 'pw',
      from: 'pki@example.test',
      timeoutMs: 15_000,
    });
    expect(c.steps!.pwshPath).toBe('/usr/bin/pwsh');
    expect(c.steps!.script).toEqual({ timeoutMs: 2000, memoryMb: 64, maxOutputBytes: 1024 * 1024 });
    expect(c).toMatchObject({ jobLeaseMs: 5000, stepMaxAttempts: 3 });
    expect(loadConfig({ COUNTERSIGN_SMTP_HOST: 'm', COUNTERSIGN_SMTP_PORT: '465', COUNTERSIGN_SMTP_FROM: 'a@b.test' }).steps!.smtp).toMatchObject({ port: 465, security: 'tls' });
    expect(loadConfig({}).steps!.smtp).toBeNull();
    expect(() => loadConfig({ COUNTERSIGN_SMTP_HOST: 'm' })).toThrow('COUNTERSIGN_SMTP_FROM must be set when COUNTERSIGN_SMTP_HOST is');
    expect(() => loadConfig({ COUNTERSIGN_SMTP_HOST: 'm', COUNTERSIGN_SMTP_FROM: 'a@b.test', COUNTERSIGN_SMTP_SECURE: 'ssl' })).toThrow(
      /^COUNTERSIGN_SMTP_SECURE must be one of tls, starttls, opportunistic, none/,
    );
    expect(() => loadConfig({ COUNTERSIGN_JOB_LEASE_MS: '10' })).toThrow('COUNTERSIGN_JOB_LEASE_MS must be a whole number from 500 to 3600000');
  });
});
