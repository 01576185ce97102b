import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageIdFor } from '../../src/steps/email/email.ts';
import { EXPORTS_DIR } from '../fixtures/paths.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { createRole, createUser } from '../support/fixtures.ts';
import { waitFor } from '../support/until.ts';
import { P } from '../../src/security/permissions.ts';
import { json, startHttp, tokenEndpoint, type HttpStandIn, type RecordedRequest } from '../support/stand-ins/http.ts';
import { startSmtp, type SmtpStandIn } from '../support/stand-ins/smtp.ts';

/*
 * The six export fixtures (test/fixtures/exports: shaped like real Keyfactor Command exports, with
 * their step types and token patterns), imported through the API as Keyfactor exports them, with
 * only their service URLs pointed at loopback stand-ins (a Graph-style directory, Keyfactor's
 * API, an OAuth token endpoint) and the OAuth settings the exports leave empty filled in. Email goes to a real
 * SMTP server on loopback, PowerShell to the pwsh stand-in.
 */

const PWSH = fileURLToPath(new URL('../support/stand-ins/pwsh', import.meta.url));
const CLIENT_ID = '9d7c1a52-3e0b-4f6a-8c21-5b4e7f90a1d3';
const SECRET = 'entra-Client-Secret-value';
const D = '/KeyfactorAPI/Workflow/Definitions';

let t: TestApp;
let smtp: SmtpStandIn;
let graph: HttpStandIn;
let keyfactor: HttpStandIn;
let idp: HttpStandIn;
let tokens: ReturnType<typeof tokenEndpoint>;

const INITIAL = {
  cn: 'www.example.com',
  expdate: '2026-12-31',
  issuancedate: '2025-12-31',
  certid: '4242',
  thumbprint: 'AB12CD34EF56',
  ownerroleemail: 'owner@example.test',
  Metadata: { NotifyGroup: 'PKI Admins' },
};

beforeAll(async () => {
  smtp = await startSmtp();
  tokens = tokenEndpoint({ clientId: CLIENT_ID, clientSecret: SECRET });
  idp = await startHttp(tokens.handle);
  keyfactor = await startHttp(keyfactorApi);
  graph = await startHttp(microsoftGraph);
  t = await startTestApp({
    steps: {
      smtp: {
        host: '127.0.0.1',
        port: smtp.port,
        security: 'none',
        rejectUnauthorized: true,
        user: null,
        password: null,
        from: 'Countersign <pki@example.test>',
        timeoutMs: 5_000,
      },
      pwshPath: PWSH,
      script: { timeoutMs: 10_000, memoryMb: 64, maxOutputBytes: 1024 * 1024 },
      rest: { timeoutMs: 5_000, maxResponseBytes: 1024 * 1024 },
    },
  });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([smtp, graph, keyfactor, idp].map((s) => s?.close()));
});

function keyfactorApi(req: RecordedRequest, res: import('node:http').ServerResponse) {
  const m = /^\/KeyfactorAPI\/Certificates\/(\d+)$/.exec(req.path);
  if (req.method === 'GET' && m) return json(res, 200, { Id: Number(m[1]), IssuedCN: 'www.example.com', RequesterName: 'jdoe@example.test', Metadata: {} });
  json(res, 404, { Message: 'not found' });
}

function microsoftGraph(req: RecordedRequest, res: import('node:http').ServerResponse) {
  if (req.method !== 'GET') return json(res, 405, {});
  if (/^\/v1\.0\/users$/.test(req.path)) {
    const known = req.query.get('$filter') === "othermails/any(p:p eq 'jdoe@example.test')";
    return json(res, 200, { '@odata.context': 'https://graph/$metadata#users(id)', value: known ? [{ id: 'user-obj-1' }] : [] });
  }
  if (req.path === '/V1.0/users/user-obj-1/manager') return json(res, 200, { '@odata.context': 'x', mail: 'manager@example.test' });
  if (req.path === '/v1.0/groups' && req.query.get('$filter') === "displayName eq 'PKI Admins'")
    return json(res, 200, { '@odata.count': 1, value: [{ id: 'grp-1', displayName: 'PKI Admins' }] });
  if (req.path === '/v1.0/groups/grp-1/transitiveMembers/microsoft.graph.user')
    return json(res, 200, {
      value: [
        { mail: 'Alice@Example.test ', userPrincipalName: 'alice@example.test', userType: 'Member' },
        { mail: 'guest@elsewhere.test', userPrincipalName: 'guest_elsewhere', userType: 'Guest' },
        { mail: null, userPrincipalName: 'svc@example.test', userType: 'Member' },
        { mail: 'bob@example.test', userPrincipalName: 'bob@example.test', userType: 'Member' },
        { mail: 'alice@example.test', userPrincipalName: 'alice2@example.test', userType: 'Member' },
      ],
    });
  json(res, 404, { error: { code: 'Request_ResourceNotFound' } });
}

/** The export's steps with loopback URLs and the OAuth settings the export leaves empty. */
function rewrite(steps: any[]): any[] {
  return steps.map(({ Id: _id, ...s }) => {
    if (s.ExtensionName !== 'OAuthRESTRequest') return s;
    const c = { ...s.ConfigurationParameters };
    c.URL = String(c.URL).replace('https://directory.example.test', graph.url).replace('https://pki.example.test', keyfactor.url);
    c.TokenEndpoint = `${idp.url}${tokens.path}`;
    c.client_id = c.client_id ?? CLIENT_ID;
    c.client_secret = SECRET;
    return { ...s, ConfigurationParameters: c };
  });
}

async function importExport(file: string, rewriteUrls = true, app: TestApp = t, key?: string): Promise<string> {
  const t = app;
  const exported = JSON.parse(readFileSync(join(EXPORTS_DIR, file), 'utf8'));
  const created = await t.call('POST', D, {
    body: {
      DisplayName: exported.DisplayName,
      Description: exported.Description,
      Key: key ?? (rewriteUrls ? exported.Key : `${exported.Key}-as-exported`),
      WorkflowType: exported.WorkflowType,
    },
  });
  expect(created.status, created.text).toBe(200);
  const id = created.body.Id as string;
  const steps = rewriteUrls ? rewrite(exported.Steps) : exported.Steps.map(({ Id: _id, ...s }: any) => s);
  const put = await t.call('PUT', `${D}/${id}/Steps`, { body: steps });
  expect(put.status, put.text).toBe(200);
  // Secrets are write-only: the client_secret reads back as null.
  for (const s of put.body.Steps.filter((x: any) => x.ExtensionName === 'OAuthRESTRequest')) expect(s.ConfigurationParameters.client_secret).toBeNull();
  expect((await t.call('POST', `${D}/${id}/Publish`)).status).toBe(200);
  return id;
}

async function runToEnd(definitionId: string, initialData: Record<string, unknown> = INITIAL): Promise<any> {
  const started = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: definitionId, Title: 'expiring certificate', InitialData: initialData } });
  expect(started.status, started.text).toBe(201);
  const id = started.body.Id as string;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const got = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
    if ([3, 4, 5, 6].includes(got.body.Status) || Date.now() > deadline) return got.body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the six export fixtures run end to end against loopback services', () => {
  it('notice-90-days.json: one email to the owner with the certificate tokens replaced', async () => {
    const inst = await runToEnd(await importExport('notice-90-days.json'));
    expect(inst).toMatchObject({ Status: 3, StatusMessage: 'The workflow completed.' });
    const mail = smtp.messages.find((m) => m.messageId === messageIdFor(`${inst.Id}/Notice90`))!;
    expect(mail.rcptTo).toEqual(['owner@example.test']);
    expect(mail.subject).toBe('Certificate expiry in 90 days');
    expect(mail.body).toContain('<b>Subject CN:</b> www.example.com<br>');
    expect(mail.body).toContain('<b>Valid until:</b> 2026-12-31<br>');
    expect(mail.body).toContain('<b>Issued on:</b> 2025-12-31<br>');
    expect(mail.body).not.toContain('$(');
  });

  it('notice-60-days.json: one email to the owner', async () => {
    const inst = await runToEnd(await importExport('notice-60-days.json'));
    expect(inst.Status).toBe(3);
    const mail = smtp.messages.find((m) => m.messageId === messageIdFor(`${inst.Id}/Notice60`))!;
    expect(mail.rcptTo).toEqual(['owner@example.test']);
    expect(mail.subject).toBe('Certificate expiry in 60 days');
    expect(mail.body).toContain('expires in 60 days</h1>');
  });

  it('renewal-failed.json: an email to its fixed recipient, with the thumbprint', async () => {
    const inst = await runToEnd(await importExport('renewal-failed.json'));
    expect(inst.Status).toBe(3);
    const mail = smtp.messages.find((m) => m.messageId === messageIdFor(`${inst.Id}/RenewalFailedMail`))!;
    expect(mail.rcptTo).toEqual(['pki-team@example.test']);
    expect(mail.subject).toBe('Automatic renewal failed');
    expect(mail.body).toContain('<b>SHA-1 thumbprint:</b> AB12CD34EF56<br>');
  });

  // Against real expiring certificates (started by an alert): test/certificates/alerts.test.ts.
  it('renew-30-days.json started by hand: ExpirationRenewal fails, as no certificate is named by the server; nothing is sent', async () => {
    const before = smtp.messages.length;
    const inst = await runToEnd(await importExport('renew-30-days.json'));
    expect(inst.Status).toBe(5);
    expect(inst.StatusMessage).toBe("Step 'Renew' (ExpirationRenewal) failed: This instance was not started by an expiration alert: it names no certificate to renew.");
    expect(smtp.messages.length).toBe(before);
  });

  it('notice-30-days-manager.json: Keyfactor API and directory calls with bearer tokens, PowerShell in between, email to owner and manager', async () => {
    const issuedBefore = tokens.issued.length;
    const inst = await runToEnd(await importExport('notice-30-days-manager.json'));
    expect(inst, JSON.stringify(inst)).toMatchObject({ Status: 3 });
    const id = inst.Id as string;

    const kf = keyfactor.requests.filter((r) => r.headers['idempotency-key'] === `${id}/ReadCertificate`);
    expect(kf).toHaveLength(1);
    expect(kf[0]).toMatchObject({ method: 'GET', path: '/KeyfactorAPI/Certificates/4242' });
    expect(kf[0].headers['x-keyfactor-requested-with']).toBe('APIClient');
    expect(kf[0].headers.authorization).toMatch(/^Bearer token-\d+$/);

    const byKey = (step: string) => graph.requests.filter((r) => r.headers['idempotency-key'] === `${id}/${step}`);
    const lookup = byKey('FindRequester');
    expect(lookup).toHaveLength(1);
    expect(lookup[0].query.get('$filter')).toBe("othermails/any(p:p eq 'jdoe@example.test')");
    expect(lookup[0].query.get('$select')).toBe('id');
    expect(lookup[0].body).toBe('');
    const manager = byKey('FindManager');
    expect(manager).toHaveLength(1);
    expect(manager[0].path).toBe('/V1.0/users/user-obj-1/manager');
    for (const r of [...lookup, ...manager]) expect(r.headers.authorization).toMatch(/^Bearer token-\d+$/);

    // Two scopes (none for Keyfactor, the directory's for the directory): two tokens, each fetched once and reused.
    const issued = tokens.issued.slice(issuedBefore);
    expect(issued.map((x) => x.scope).sort()).toEqual(['https://directory.example.test/.default', null].sort());
    expect(kf[0].headers.authorization).toBe(`Bearer ${issued.find((x) => x.scope === null)!.token}`);
    expect(manager[0].headers.authorization).toBe(`Bearer ${issued.find((x) => x.scope !== null)!.token}`);

    const mail = smtp.messages.find((m) => m.messageId === messageIdFor(`${id}/Notice30`))!;
    expect(mail.rcptTo).toEqual(['owner@example.test', 'manager@example.test']);
    expect(mail.subject).toBe('Certificate expiry in 30 days');
    expect(mail.body).toContain('the requester\'s manager "manager@example.test" gets this notice too.');
    expect(mail.body).toContain('<b>Subject CN:</b> www.example.com<br>');

    const full = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
    expect(full.body.CurrentStateData).toMatchObject({
      Certificate: { Id: 4242, RequesterName: 'jdoe@example.test' },
      RequesterName: 'jdoe@example.test',
      RequesterLookup: { value: [{ id: 'user-obj-1' }] },
      RequesterObjectId: 'user-obj-1',
      Manager: { mail: 'manager@example.test' },
    });
  });

  it('group-mail.json: metadata -> group -> members -> de-duplicated member emails, sent to each', async () => {
    const inst = await runToEnd(await importExport('group-mail.json'));
    expect(inst, JSON.stringify(inst)).toMatchObject({ Status: 3 });
    const id = inst.Id as string;
    const group = graph.requests.filter((r) => r.headers['idempotency-key'] === `${id}/LookUpGroup`);
    expect(group).toHaveLength(1);
    expect(group[0].query.get('$filter')).toBe("displayName eq 'PKI Admins'");
    expect(group[0].query.get('$count')).toBe('true');
    const members = graph.requests.filter((r) => r.headers['idempotency-key'] === `${id}/ListMembers`);
    expect(members[0].path).toBe('/v1.0/groups/grp-1/transitiveMembers/microsoft.graph.user');
    const mail = smtp.messages.find((m) => m.messageId === messageIdFor(`${id}/MailGroup`))!;
    expect(mail.rcptTo).toEqual(['alice@example.test', 'bob@example.test']);
    expect(mail.subject).toBe('Certificate notice for your group');
    expect(mail.body.trim()).toBe('A certificate your group relies on needs attention.');
    const full = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
    expect(full.body.CurrentStateData).toMatchObject({ groupname: 'PKI Admins', GroupObjectId: 'grp-1', Addresses: 'alice@example.test;bob@example.test' });
  });

  it('as exported (TokenEndpoint null), an OAuth step fails the instance with a message naming the setting', async () => {
    const inst = await runToEnd(await importExport('notice-30-days-manager.json', false));
    expect(inst.Status).toBe(5);
    expect(inst.StatusMessage).toMatch(/^Step 'Read the certificate' \(OAuthRESTRequest\) failed: TokenEndpoint is not set: /);
  });
});

/*
 * The same six definitions, each bound to an expiration alert (Key = the alert id) and started by
 * the alert for a real certificate issued by the embedded CA that is about to expire: what their
 * tokens read comes from the certificate (and its owner), not from hand-written InitialData.
 */
describe('the six export fixtures started by expiration alerts for real expiring certificates', () => {
  let app: TestApp;
  let owner: { id: number; auth: string };
  const CASES = [
    { file: 'notice-90-days.json', cn: 'n90.example.test', mail: 'Notice90' },
    { file: 'notice-60-days.json', cn: 'n60.example.test', mail: 'Notice60' },
    { file: 'notice-30-days-manager.json', cn: 'n30.example.test', mail: 'Notice30' },
    { file: 'group-mail.json', cn: 'group.example.test', mail: 'MailGroup' },
    { file: 'renew-30-days.json', cn: 'renew.example.test', mail: 'RenewedMail' },
    { file: 'renewal-failed.json', cn: 'failed.example.test', mail: 'RenewalFailedMail' },
  ];

  beforeAll(async () => {
    app = await startTestApp({
      alertPollMs: 100,
      steps: {
        smtp: {
          host: '127.0.0.1',
          port: smtp.port,
          security: 'none',
          rejectUnauthorized: true,
          user: null,
          password: null,
          from: 'Countersign <pki@example.test>',
          timeoutMs: 5_000,
        },
        pwshPath: PWSH,
        script: { timeoutMs: 10_000, memoryMb: 64, maxOutputBytes: 1024 * 1024 },
        rest: { timeoutMs: 5_000, maxResponseBytes: 1024 * 1024 },
      },
    });
    const s = app.server.services.store;
    owner = await createUser(s, 'owner');
    await s.updateIdentity(owner.id, { email: 'owner@example.test' });
    await createRole(s, 'Owners', [P.enrollPfx], [owner.id]);
    const tpl = await app.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'Expiring', ValidityDays: 20 }, unchecked: true });
    expect(tpl.status, tpl.text).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('each one runs to Complete for its certificate, with the certificate and owner tokens replaced', async () => {
    const started: { file: string; cn: string; mail: string; certId: number; definitionId: string }[] = [];
    for (const c of CASES) {
      const enrolled = await app.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
        auth: owner.auth,
        headers: { 'x-certificateformat': 'PFX' },
        body: { Subject: `CN=${c.cn}`, Template: 'Expiring', KeyType: 'ECC', Curve: 'P-256', Password: 'Pfx-pass-12', Metadata: { NotifyGroup: 'PKI Admins' } },
      });
      expect(enrolled.status, enrolled.text).toBe(200);
      const col = await app.call('POST', '/KeyfactorAPI/CertificateCollections', { body: { Name: c.file, Query: `IssuedCN -eq "${c.cn}"` } });
      const alert = await app.call('POST', '/KeyfactorAPI/Alerts/Expiration', {
        body: { DisplayName: c.file, ExpirationWarningDays: 90, CertificateQueryId: col.body.Id, UseWorkflows: true },
      });
      expect(alert.status, alert.text).toBe(200);
      started.push({ ...c, certId: enrolled.body.CertificateInformation.KeyfactorId, definitionId: await importExport(c.file, true, app, String(alert.body.Id)) });
    }
    // Renewed certificates get a year (outside every window); the alerts run now.
    const tplId = (await app.call('GET', '/KeyfactorAPI/Templates')).body.find((x: any) => x.CommonName === 'Expiring').Id;
    expect((await app.call('PUT', '/KeyfactorAPI/Templates', { body: { Id: tplId, ValidityDays: 365 } })).status).toBe(200);
    expect((await app.call('PUT', '/KeyfactorAPI/Alerts/Expiration/Schedule', { body: { Schedule: { Immediate: true } } })).status).toBe(200);

    for (const c of started) {
      const list = await waitFor(`the instance of ${c.file}`, async () => {
        const r = await app.call('GET', `/KeyfactorAPI/Workflow/Instances?QueryString=${encodeURIComponent(`DefinitionId -eq "${c.definitionId}"`)}`);
        return r.body.length === 1 && [3, 5].includes(r.body[0].Status) ? r.body : null;
      });
      const inst = (await app.call('GET', `/KeyfactorAPI/Workflow/Instances/${list[0].Id}`)).body;
      expect(inst, JSON.stringify(inst.StatusMessage)).toMatchObject({ Status: 3 });
      expect(inst.InitialData).toMatchObject({ certid: c.certId, cn: c.cn, ownerroleemail: 'owner@example.test', Metadata: { NotifyGroup: 'PKI Admins' } });
      const cert = (await app.call('GET', `/KeyfactorAPI/Certificates/${c.certId}`, { unchecked: true })).body;
      const mail = await waitFor(`the mail of ${c.file}`, () => smtp.messages.find((m) => m.messageId === messageIdFor(`${inst.Id}/${c.mail}`)));
      if (c.file !== 'group-mail.json') {
        expect(mail.body).toContain(`<b>Subject CN:</b> ${c.cn}<br>`);
        expect(mail.body).toContain(`<b>Valid until:</b> ${cert.NotAfter}<br>`);
        expect(mail.body).not.toContain('$(');
      } else expect(mail.rcptTo).toEqual(['alice@example.test', 'bob@example.test']);
      if (c.file === 'renewal-failed.json') expect(mail.body).toContain(`<b>SHA-1 thumbprint:</b> ${cert.Thumbprint}<br>`);
      if (c.file === 'notice-30-days-manager.json') expect(mail.rcptTo).toEqual(['owner@example.test', 'manager@example.test']);
      if (c.file === 'renew-30-days.json') {
        expect(cert.RenewedById).toBeGreaterThan(c.certId);
        expect(mail.rcptTo).toEqual(['owner@example.test']);
      }
    }
  }, 90_000);
});
