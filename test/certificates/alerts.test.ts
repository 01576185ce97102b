import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x509 } from '../../src/certificates/x509.ts';
import { InstanceStatus } from '../../src/domain/status.ts';
import { P } from '../../src/security/permissions.ts';
import { messageIdFor } from '../../src/steps/email/email.ts';
import { EXPORTS_DIR } from '../fixtures/paths.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { createRole, createUser } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { startSmtp, type SmtpStandIn } from '../support/stand-ins/smtp.ts';
import { waitFor } from '../support/until.ts';
import { opensslCsr } from './openssl.ts';

/*
 * Certificate collections, expiration alerts (e-mail and workflow), the exported Expiration
 * definitions against real certificates from the embedded CA, and renewal, over HTTP.
 */

const A = '/KeyfactorAPI/Alerts/Expiration';
const C = '/KeyfactorAPI/CertificateCollections';
const D = '/KeyfactorAPI/Workflow/Definitions';
const DAY = 24 * 3600_000;

let smtp: SmtpStandIn;
const smtpSettings = () => ({
  host: '127.0.0.1',
  port: smtp.port,
  security: 'none' as const,
  rejectUnauthorized: true,
  user: null,
  password: null,
  from: 'Countersign <pki@example.test>',
  timeoutMs: 5_000,
});

beforeAll(async () => {
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp?.close();
});

async function template(t: TestApp, name: string, body: Record<string, unknown> = {}): Promise<number> {
  const r = await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: name, ValidityDays: 10, ...body }, unchecked: true });
  expect(r.status, r.text).toBe(200);
  return r.body.Id;
}

async function pfx(t: TestApp, auth: string, cn: string, tpl: string, key: Record<string, unknown> = { KeyType: 'ECC', Curve: 'P-256' }): Promise<number> {
  const r = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
    auth,
    headers: { 'x-certificateformat': 'PFX' },
    body: { Subject: `CN=${cn}`, Template: tpl, Password: 'Pfx-pass-12', SANs: { dns: [cn] }, ...key },
  });
  expect(r.status, r.text).toBe(200);
  return r.body.CertificateInformation.KeyfactorId;
}

async function importExport(t: TestApp, file: string, key: string): Promise<string> {
  const exported = JSON.parse(readFileSync(join(EXPORTS_DIR, file), 'utf8'));
  const created = await t.call('POST', D, { body: { DisplayName: `${exported.DisplayName} ${key}`, Description: exported.Description, Key: key, WorkflowType: 'Expiration' } });
  expect(created.status, created.text).toBe(200);
  const id = created.body.Id as string;
  const put = await t.call('PUT', `${D}/${id}/Steps`, { body: exported.Steps.map(({ Id: _id, ...s }: any) => s) });
  expect(put.status, put.text).toBe(200);
  expect((await t.call('POST', `${D}/${id}/Publish`)).status).toBe(200);
  return id;
}

const collection = async (t: TestApp, name: string, query: string): Promise<number> => {
  const r = await t.call('POST', C, { body: { Name: name, Query: query } });
  expect(r.status, r.text).toBe(200);
  return r.body.Id;
};

const alert = async (t: TestApp, body: Record<string, unknown>): Promise<any> => {
  const r = await t.call('POST', A, { body: { ExpirationWarningDays: 30, Schedule: { Immediate: true }, ...body } });
  expect(r.status, r.text).toBe(200);
  return r.body;
};

const instancesOf = async (t: TestApp, definitionId: string): Promise<any[]> => {
  const r = await t.call('GET', `/KeyfactorAPI/Workflow/Instances?QueryString=${encodeURIComponent(`DefinitionId -eq "${definitionId}"`)}&ReturnLimit=100`);
  expect(r.status, r.text).toBe(200);
  return r.body;
};

const settled = (t: TestApp, id: string) =>
  waitFor(`instance ${id} to end`, async () => {
    const r = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
    return [InstanceStatus.Complete, InstanceStatus.Failed, InstanceStatus.Rejected].includes(r.body.Status) ? r.body : null;
  });

const spki = (pem: string) => Buffer.from(new x509.X509Certificate(pem).publicKey.rawData).toString('base64');
const certPem = async (t: TestApp, id: number) => {
  const r = await t.call('POST', '/KeyfactorAPI/Certificates/Download', { headers: { 'x-certificateformat': 'PEM' }, body: { CertID: id } });
  return Buffer.from(r.body.Content, 'base64').toString('utf8');
};

describe('expiration alerts, collections and renewal', () => {
  let t: TestApp;
  let alice: { id: number; auth: string };
  let eve: { id: number; auth: string };

  beforeAll(async () => {
    t = await startTestApp({ alertPollMs: 100, steps: { smtp: smtpSettings() } });
    const s = t.server.services.store;
    alice = await createUser(s, 'alice');
    eve = await createUser(s, 'eve');
    await s.updateIdentity(alice.id, { email: 'alice@example.test' });
    await createRole(s, 'Requesters', [P.enrollCsr, P.enrollPfx], [alice.id, eve.id]);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('collections: create, read, change, delete; a bad query or a taken name changes nothing', async () => {
    const id = await collection(t, 'Web servers', 'IssuedCN -contains "web"');
    const got = await t.call('GET', `${C}/${id}`);
    expect(got.body).toMatchObject({ Id: id, Name: 'Web servers', Content: 'IssuedCN -contains "web"', Automated: false });
    const before = (await t.call('GET', C)).body.length;
    const bad = await t.call('POST', C, { body: { Name: 'Broken', Query: 'IssuedCN -like "x"' } });
    expect(bad.status).toBe(400);
    expect(bad.body.ErrorCode).toBe('0xA5C00005');
    const unknownField = await t.call('POST', C, { body: { Name: 'Broken', Query: 'NoSuchField -eq 1' } });
    expect(unknownField.status).toBe(400);
    const taken = await t.call('POST', C, { body: { Name: 'WEB SERVERS', Query: '' } });
    expect(taken.status).toBe(409);
    expect(await t.call('POST', C, { body: { Query: 'x' } }).then((r) => r.status)).toBe(400);
    expect((await t.call('GET', C)).body.length).toBe(before);
    const put = await t.call('PUT', C, { body: { Id: id, Name: 'Web servers', Query: 'IssuedCN -startswith "web"' } });
    expect(put.body).toMatchObject({ Id: id, Query: 'IssuedCN -startswith "web"' });
    const filtered = await t.call('GET', `${C}?QueryString=${encodeURIComponent('Name -eq "Web servers"')}`);
    expect(filtered.body.map((c: any) => c.Id)).toEqual([id]);
    // Forbidden without the permission; unknown ids are 404.
    expect((await t.call('POST', C, { auth: eve.auth, body: { Name: 'x', Query: '' } })).status).toBe(403);
    expect((await t.call('GET', `${C}/999999`)).status).toBe(404);
    expect((await t.call('DELETE', `${C}/${id}`)).status).toBe(204);
    expect((await t.call('GET', `${C}/${id}`)).status).toBe(404);
  });

  it('alerts: create, read, change, delete, the schedule; bad input is refused and nothing changes', async () => {
    const col = await collection(t, 'Crud', 'IssuedCN -eq "nothing.example.test"');
    const before = (await t.call('GET', A)).body.length;
    for (const body of [
      { ExpirationWarningDays: 30 },
      { DisplayName: '', ExpirationWarningDays: 30 },
      { DisplayName: 'x' },
      { DisplayName: 'x', ExpirationWarningDays: -1 },
      { DisplayName: 'x', ExpirationWarningDays: 2147483647 },
      { DisplayName: 'x', ExpirationWarningDays: 30, CertificateQueryId: 999999 },
      { DisplayName: 'x', ExpirationWarningDays: 30, Recipients: 'a@example.test' },
      { DisplayName: 'x', ExpirationWarningDays: 30, Schedule: { Immediate: true, Interval: { Minutes: 5 } } },
      { DisplayName: 'x', ExpirationWarningDays: 30, Schedule: { Interval: { Minutes: 0 } } },
      { DisplayName: 'x', ExpirationWarningDays: 30, Schedule: { Weekly: { Days: [7], Time: '2026-01-01T06:00:00Z' } } },
      { DisplayName: 'x', ExpirationWarningDays: 30, Schedule: { Daily: { Time: 'tomorrow' } } },
    ]) {
      const r = await t.call('POST', A, { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await t.call('POST', A, { raw: '{"DisplayName":' })).status).toBe(400);
    expect((await t.call('GET', A)).body.length).toBe(before);

    const created = await alert(t, {
      DisplayName: 'Thirty days',
      Subject: 'Expiring: {cn}',
      Message: '<p>{cn}</p>',
      CertificateQueryId: col,
      Recipients: ['pki@example.test'],
      Schedule: { Weekly: { Days: [1, 3], Time: '2026-01-01T06:30:00Z' } },
    });
    expect(created).toMatchObject({
      DisplayName: 'Thirty days',
      ExpirationWarningDays: 30,
      CertificateQuery: { Id: col, Name: 'Crud' },
      UseWorkflows: false,
      WorkflowId: null,
      Schedule: { Weekly: { Days: [1, 3], Time: '2026-01-01T06:30:00.000Z' } },
    });
    const id = created.Id;
    expect((await t.call('GET', `${A}/${id}`)).body.Recipients).toEqual(['pki@example.test']);
    const put = await t.call('PUT', A, { body: { Id: id, DisplayName: 'Sixty days', ExpirationWarningDays: 60, CertificateQueryId: col, UseWorkflows: true } });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toMatchObject({ Id: id, DisplayName: 'Sixty days', ExpirationWarningDays: 60, UseWorkflows: true });
    expect((await t.call('PUT', A, { body: { Id: 999999, DisplayName: 'x', ExpirationWarningDays: 1 } })).status).toBe(404);
    // The collection is in use: it cannot be deleted from under the alert.
    expect((await t.call('DELETE', `${C}/${col}`)).status).toBe(409);

    expect((await t.call('GET', `${A}/Schedule`)).body.Schedule).toEqual({ Daily: { Time: '1970-01-01T06:00:00.000Z' } });
    const sched = await t.call('PUT', `${A}/Schedule`, { body: { Schedule: { Monthly: { Day: 31, Time: '2026-01-01T23:00:00Z' } } } });
    expect(sched.status, sched.text).toBe(200);
    expect((await t.call('GET', `${A}/Schedule`)).body.Schedule).toEqual({ Monthly: { Day: 31, Time: '2026-01-01T23:00:00.000Z' } });
    expect((await t.call('PUT', `${A}/Schedule`, { body: { Schedule: { Monthly: { Day: 32, Time: '2026-01-01T23:00:00Z' } } } })).status).toBe(400);
    expect((await t.call('GET', `${A}/Schedule`)).body.Schedule.Monthly.Day).toBe(31);
    expect((await t.call('GET', A, { auth: alice.auth })).status).toBe(403);

    expect((await t.call('DELETE', `${A}/${id}`)).status).toBe(204);
    expect((await t.call('GET', `${A}/${id}`)).status).toBe(404);
    expect((await t.call('DELETE', `${A}/${id}`)).status).toBe(404);
    expect((await t.call('GET', `${A}/abc`)).status).toBe(400);
  });

  it('without workflows: one e-mail per certificate entering the window, tokens replaced, never twice', async () => {
    await template(t, 'ShortMail');
    const inside = await pfx(t, alice.auth, 'mail-1.example.test', 'ShortMail');
    await pfx(t, alice.auth, 'other-1.example.test', 'ShortMail');
    const col = await collection(t, 'Mail', 'IssuedCN -startswith "mail-"');
    expect((await t.call('GET', `${C}/${col}`)).body.EstimatedCertCount).toBe(1);
    const a = await alert(t, {
      DisplayName: 'Mail me',
      Subject: 'Expiring: {cn}',
      Message: '<p>{CN} (serial {serial}) expires {expdate}; {unknown} stays; {metadata:Missing}.</p>',
      CertificateQueryId: col,
      Recipients: ['pki@example.test', '{ownerroleemail}'],
    });
    const id = `<expiration-alert-${a.Id}-certificate-${inside}@countersign>`;
    const mail = await waitFor('the alert e-mail', () => smtp.messages.find((m) => m.messageId === id));
    expect(mail.subject).toBe('Expiring: mail-1.example.test');
    expect(mail.rcptTo).toEqual(['pki@example.test', 'alice@example.test']);
    const cert = (await t.call('GET', `/KeyfactorAPI/Certificates/${inside}`)).body;
    expect(mail.body).toContain(`<p>mail-1.example.test (serial ${cert.SerialNumber}) expires ${cert.NotAfter}; {unknown} stays; .</p>`);
    expect(smtp.messages.filter((m) => m.messageId.startsWith(`<expiration-alert-${a.Id}-`))).toHaveLength(1);

    // Run again (the global schedule, set to Immediate, makes every alert due once more): nothing new.
    expect((await t.call('PUT', `${A}/Schedule`, { body: { Schedule: { Immediate: true } } })).status).toBe(200);
    await waitFor('the alert to run again', async () => {
      const r = await t.server.alerts.getAlert(a.Id);
      return r.lastRunAt !== null && r.lastRunAt >= r.setAt;
    });
    await t.server.alertScheduler.tick();
    expect(smtp.messages.filter((m) => m.messageId.startsWith(`<expiration-alert-${a.Id}-`))).toHaveLength(1);

    // The test endpoint lists what the alert builds between two evaluations, without recording anything.
    const now = new Date().toISOString();
    const test = await t.call('POST', `${A}/Test`, {
      body: { AlertId: a.Id, EvaluationDate: now, PreviousEvaluationDate: new Date(Date.now() - 30 * DAY).toISOString(), SendAlerts: false },
    });
    expect(test.status, test.text).toBe(200);
    expect(test.body.ExpirationAlerts).toHaveLength(1);
    expect(test.body.ExpirationAlerts[0]).toMatchObject({ CARow: inside, IssuedCN: 'mail-1.example.test', Subject: 'Expiring: mail-1.example.test' });
    const notYet = await t.call('POST', `${A}/Test`, { body: { AlertId: a.Id, EvaluationDate: now, PreviousEvaluationDate: now } });
    expect(notYet.body.ExpirationAlerts).toHaveLength(0);
    expect((await t.call('POST', `${A}/TestAll`, { body: { EvaluationDate: now, PreviousEvaluationDate: new Date(Date.now() - 30 * DAY).toISOString() } })).status).toBe(200);
    expect((await t.call('POST', `${A}/Test`, { body: { AlertId: a.Id, EvaluationDate: 'soon' } })).status).toBe(400);
    expect((await t.call('POST', `${A}/Test`, { body: { AlertId: 999999 } })).status).toBe(404);
    expect((await t.call('POST', `${A}/Test`, { body: { AlertId: a.Id, EvaluationDate: now, PreviousEvaluationDate: '2999-01-01T00:00:00Z' } })).status).toBe(400);
  });

  it('certificate text cannot add a header or a recipient to an alert e-mail, nor HTML to its body', async () => {
    await template(t, 'ShortInject');
    const r = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'PFX' },
      body: {
        Subject: 'CN=inject-1.example.test',
        Template: 'ShortInject',
        KeyType: 'ECC',
        Password: 'Pfx-pass-12',
        Metadata: { Team: 'pki\r\nBcc: evil@example.test', Html: '<img src=x onerror=alert(1)>' },
      },
    });
    expect(r.status, r.text).toBe(200);
    const cert = r.body.CertificateInformation.KeyfactorId;
    const col = await collection(t, 'Inject', 'IssuedCN -eq "inject-1.example.test"');
    const a = await alert(t, {
      DisplayName: 'Inject',
      Subject: 'Team {metadata:Team}',
      Message: '<p>{metadata:Html}</p>',
      CertificateQueryId: col,
      Recipients: ['pki@example.test', '{metadata:Team}'],
    });
    const mail = await waitFor('the alert e-mail', () => smtp.messages.find((m) => m.messageId === `<expiration-alert-${a.Id}-certificate-${cert}@countersign>`));
    expect(mail.rcptTo).toEqual(['pki@example.test']);
    expect(mail.headers.bcc).toBeUndefined();
    expect(mail.subject).toBe('Team pki Bcc: evil@example.test');
    expect(mail.body).toContain('<p>&lt;img src=x onerror=alert(1)&gt;</p>');
  });

  it('a mail server that refuses: the claim is given back and the next run sends; SendAlerts sends test e-mails without recording', async () => {
    await template(t, 'ShortRetry');
    const cert = await pfx(t, alice.auth, 'retry-1.example.test', 'ShortRetry');
    const col = await collection(t, 'Retry', 'IssuedCN -eq "retry-1.example.test"');
    let refused = 0;
    smtp.onMessage = async (m) => (m.subject.startsWith('Retry') && refused++ === 0 ? { code: 451, message: 'try again later' } : null);
    try {
      const a = await alert(t, { DisplayName: 'Retry', Subject: 'Retry {cn}', CertificateQueryId: col, Recipients: ['pki@example.test'] });
      const id = `<expiration-alert-${a.Id}-certificate-${cert}@countersign>`;
      await waitFor('the refused attempt', () => refused >= 1);
      await waitFor('the alert run to end', async () => (await t.server.alerts.getAlert(a.Id)).lastRunAt !== null);
      expect(await t.server.services.store.alerts.listAlerted([a.Id])).toEqual([]);
      // The next run (the global schedule set: Immediate alerts run once more) sends it, once.
      expect((await t.call('PUT', `${A}/Schedule`, { body: { Schedule: { Immediate: true } } })).status).toBe(200);
      // The refused attempt and the accepted one carry the same Message-ID; the claim is kept now.
      await waitFor('the accepted e-mail', () => smtp.messages.filter((m) => m.messageId === id).length === 2);
      await waitFor('the claim', async () => (await t.server.services.store.alerts.listAlerted([a.Id])).length === 1);
      await t.server.alertScheduler.tick();
      expect(smtp.messages.filter((m) => m.messageId === id)).toHaveLength(2);

      const before = smtp.messages.length;
      const sent = await t.call('POST', `${A}/Test`, {
        body: { AlertId: a.Id, EvaluationDate: new Date().toISOString(), PreviousEvaluationDate: new Date(Date.now() - 30 * DAY).toISOString(), SendAlerts: true },
      });
      expect(sent.status, sent.text).toBe(200);
      expect(sent.body.ExpirationAlerts[0].SendDate).toBeTruthy();
      const test = await waitFor('the test e-mail', () => smtp.messages.slice(before).find((m) => m.messageId.startsWith(`<expiration-alert-test-${a.Id}-`)));
      expect(test.subject).toBe('Retry retry-1.example.test');
      expect(await t.server.services.store.alerts.listAlerted([a.Id])).toHaveLength(1);
      // Sending from a test needs the modify permission.
      expect((await t.call('POST', `${A}/Test`, { auth: alice.auth, body: { AlertId: a.Id, SendAlerts: true } })).status).toBe(403);
    } finally {
      smtp.onMessage = async () => null;
    }
  });

  it('with workflows: the 30-day auto-renew export renews through the CA and completes; the failure export mails when renewal fails', async () => {
    await template(t, 'ShortRenew');
    const failTemplate = await template(t, 'ShortFail');
    const old = await pfx(t, alice.auth, 'auto-1.example.test', 'ShortRenew');
    const doomed = await pfx(t, alice.auth, 'fail-1.example.test', 'ShortFail');
    // Renewed certificates get a year, so they are outside the window; ShortFail now refuses ECC keys.
    const renewTemplate = (await t.call('GET', '/KeyfactorAPI/Templates')).body.find((x: any) => x.CommonName === 'ShortRenew').Id;
    expect((await t.call('PUT', '/KeyfactorAPI/Templates', { body: { Id: renewTemplate, ValidityDays: 365 } })).status).toBe(200);
    expect((await t.call('PUT', '/KeyfactorAPI/Templates', { body: { Id: failTemplate, KeyTypes: 'RSA' } })).status).toBe(200);

    const col = await collection(t, 'Auto', 'IssuedCN -startswith "auto-" OR IssuedCN -startswith "fail-"');
    // The definition is bound first (Key = the alert id), then the alert starts running.
    const a = await alert(t, { DisplayName: 'Auto renew', CertificateQueryId: col, UseWorkflows: true, Schedule: {} });
    const renewDef = await importExport(t, 'renew-30-days.json', String(a.Id));
    expect((await t.call('GET', `${A}/${a.Id}`)).body).toMatchObject({ WorkflowId: renewDef, WorkflowPublishedVersion: 1, WorkflowEnabled: true });
    expect(
      (
        await t.call('PUT', A, {
          body: { Id: a.Id, DisplayName: 'Auto renew', ExpirationWarningDays: 30, CertificateQueryId: col, UseWorkflows: true, Schedule: { Immediate: true } },
        })
      ).status,
    ).toBe(200);

    const started = await waitFor('two Expiration instances', async () => {
      const list = await instancesOf(t, renewDef);
      return list.length === 2 ? list : null;
    });
    const ended = await Promise.all(started.map((i: any) => settled(t, i.Id)));
    const byCert = new Map(ended.map((i: any) => [i.InitialData.certid, i]));
    const renewed = byCert.get(old)!;
    expect(renewed, JSON.stringify(ended)).toMatchObject({ Status: InstanceStatus.Complete, Definition: { WorkflowType: 'Expiration' } });
    expect(renewed.InitialData).toMatchObject({ cn: 'auto-1.example.test', alertId: a.Id, ownerroleemail: 'alice@example.test' });
    const failed = byCert.get(doomed)!;
    expect(failed.Status).toBe(InstanceStatus.Failed);
    expect(failed.StatusMessage).toMatch(/Template 'ShortFail' refuses the renewal of certificate \d+: KeyType/);

    // The renewed certificate: same subject and SANs, a new key, a year long, linked both ways.
    const oldView = (await t.call('GET', `/KeyfactorAPI/Certificates/${old}`, { unchecked: true })).body;
    const newId = oldView.RenewedById as number;
    expect(newId).toBeGreaterThan(old);
    const newView = (await t.call('GET', `/KeyfactorAPI/Certificates/${newId}`, { unchecked: true })).body;
    expect(newView).toMatchObject({ RenewedFromId: old, IssuedDN: oldView.IssuedDN, TemplateId: oldView.TemplateId, RequesterName: 'alice' });
    expect(newView.SubjectAltNameElements.map((s: any) => s.Value)).toEqual(['auto-1.example.test']);
    expect(Date.parse(newView.NotAfter) - Date.now()).toBeGreaterThan(300 * DAY);
    expect(spki(await certPem(t, newId))).not.toBe(spki(await certPem(t, old)));
    const history = (await t.call('GET', `/KeyfactorAPI/Certificates/${old}/History`)).body;
    expect(history.map((h: any) => h.Comment ?? '')).toContainEqual(expect.stringContaining(`Renewed by certificate ${newId}`));
    // Its new key waits sealed for the owner.
    const rec = await t.call('POST', '/KeyfactorAPI/Certificates/Recover', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'PFX' },
      body: { CertID: newId, Password: 'Rec-pass-12' },
    });
    expect(rec.status, rec.text).toBe(200);

    const renewedMail = await waitFor('the renewed e-mail', () => smtp.messages.find((m) => m.messageId === messageIdFor(`${renewed.Id}/RenewedMail`)));
    expect(renewedMail.rcptTo).toEqual(['alice@example.test']);
    expect(renewedMail.body).toContain('<b>Subject CN:</b> auto-1.example.test<br>');

    // UpdateMetadata (Retired = True) in the finished instance lands on the old certificate.
    await waitFor('Retired on the renewed certificate', async () => {
      const r = await t.call('GET', `/KeyfactorAPI/Certificates/${old}?includeMetadata=true`, { unchecked: true });
      return r.body.Metadata?.Retired === 'True';
    });
    expect((await t.call('GET', `/KeyfactorAPI/Certificates/${doomed}?includeMetadata=true`)).body.Metadata?.Retired).toBeUndefined();

    // The failure alert: certificates not retired, its own definition.
    expect((await t.call('POST', '/KeyfactorAPI/MetadataFields', { body: { Name: 'Retired', DataType: 1, Description: 'Replaced' } })).status).toBe(200);
    const notRetired = await collection(t, 'Not retired', '(IssuedCN -startswith "auto-" OR IssuedCN -startswith "fail-") AND Retired -ne "True"');
    const f = await alert(t, { DisplayName: 'Renewal failed', CertificateQueryId: notRetired, UseWorkflows: true, Schedule: {} });
    const failDef = await importExport(t, 'renewal-failed.json', String(f.Id));
    expect(
      (
        await t.call('PUT', A, {
          body: { Id: f.Id, DisplayName: 'Renewal failed', ExpirationWarningDays: 30, CertificateQueryId: col, UseWorkflows: true, Schedule: { Immediate: true } },
        })
      ).status,
    ).toBe(200);
    const failures = await waitFor('one failure instance', async () => {
      const list = await instancesOf(t, failDef);
      return list.length >= 1 ? list : null;
    });
    const done = await settled(t, failures[0].Id);
    expect(done.Status).toBe(InstanceStatus.Complete);
    const failMail = await waitFor('the failure e-mail', () => smtp.messages.find((m) => m.messageId === messageIdFor(`${done.Id}/RenewalFailedMail`)));
    expect(failMail.rcptTo).toEqual(['pki-team@example.test']);
    const thumb = (await t.call('GET', `/KeyfactorAPI/Certificates/${doomed}`)).body.Thumbprint;
    expect(failMail.body).toContain(`<b>SHA-1 thumbprint:</b> ${thumb}<br>`);

    // Run everything again: still one instance per (certificate, alert).
    expect((await t.call('PUT', `${A}/Schedule`, { body: { Schedule: { Immediate: true } } })).status).toBe(200);
    await t.server.alertScheduler.tick();
    await t.server.alertScheduler.tick();
    expect(await instancesOf(t, renewDef)).toHaveLength(2);
    expect(await instancesOf(t, failDef)).toHaveLength(1);
  }, 60_000);

  it('POST /Enrollment/Renew and AvailableRenewal: a new key for PFX, the same key for a CSR only when the template allows it', async () => {
    const tpl = await template(t, 'Renewable', { ValidityDays: 30 });
    const p = await pfx(t, alice.auth, 'renew-pfx.example.test', 'Renewable');
    const avail = await t.call('GET', `/KeyfactorAPI/Enrollment/AvailableRenewal/Id/${p}`, { auth: alice.auth });
    expect(avail.body).toMatchObject({ AvailableRenewalType: 2 });
    const r = await t.call('POST', '/KeyfactorAPI/Enrollment/Renew', { auth: alice.auth, body: { CertificateId: p, Timestamp: '2026-01-01T00:00:00Z' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ RequestDisposition: 'ISSUED' });
    // The same Timestamp again: the first renewal, not a second one.
    const again = await t.call('POST', '/KeyfactorAPI/Enrollment/Renew', { auth: alice.auth, body: { CertificateId: p, Timestamp: '2026-01-01T00:00:00Z' } });
    expect(again.body.KeyfactorId).toBe(r.body.KeyfactorId);

    const { csr } = opensslCsr('p256', '/CN=renew-csr.example.test', 'DNS:renew-csr.example.test');
    const enrolled = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'PEM' },
      body: { CSR: csr, Template: 'Renewable' },
    });
    const c = enrolled.body.CertificateInformation.KeyfactorID as number;
    const thumb = enrolled.body.CertificateInformation.Thumbprint as string;
    const none = await t.call('GET', `/KeyfactorAPI/Enrollment/AvailableRenewal/Thumbprint/${thumb}`, { auth: alice.auth });
    expect(none.body.AvailableRenewalType).toBe(0);
    expect(none.body.Message).toMatch(/AllowKeyReuse/);
    const count = async () => (await t.call('GET', '/KeyfactorAPI/Certificates?ReturnLimit=1000')).body.length;
    const n = await count();
    const refused = await t.call('POST', '/KeyfactorAPI/Enrollment/Renew', { auth: alice.auth, body: { Thumbprint: thumb } });
    expect(refused.status).toBe(400);
    expect(refused.body.Message).toMatch(/does not allow key reuse/);
    expect(await count()).toBe(n);
    expect((await t.call('PUT', '/KeyfactorAPI/Templates', { body: { Id: tpl, TemplatePolicy: { AllowKeyReuse: true } } })).status).toBe(200);
    const same = await t.call('POST', '/KeyfactorAPI/Enrollment/Renew', { auth: alice.auth, body: { Thumbprint: thumb } });
    expect(same.status, same.text).toBe(200);
    expect(spki(await certPem(t, same.body.KeyfactorId))).toBe(spki(await certPem(t, c)));

    // Someone else's certificate is not there for them; bad input is refused.
    expect((await t.call('POST', '/KeyfactorAPI/Enrollment/Renew', { auth: eve.auth, body: { CertificateId: p } })).status).toBe(404);
    expect((await t.call('GET', `/KeyfactorAPI/Enrollment/AvailableRenewal/Id/${p}`, { auth: eve.auth })).status).toBe(404);
    expect((await t.call('POST', '/KeyfactorAPI/Enrollment/Renew', { auth: alice.auth, body: {} })).status).toBe(400);
    expect((await t.call('GET', '/KeyfactorAPI/Enrollment/AvailableRenewal/Thumbprint/xyz', { auth: alice.auth })).status).toBe(400);
    expect(await count()).toBe(n + 1);
  }, 60_000);
});

describe('exactly once across a restart', () => {
  it('a second server on the same store starts nothing new for certificates already alerted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-alerts-'));
    const url = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(dir, 'a.db')}`;
    const overrides = { databaseUrl: url, caKey: randomBytes(32).toString('base64'), alertPollMs: 100 };
    let t = await startTestApp(overrides);
    try {
      const s = t.server.services.store;
      const bob = await createUser(s, 'bob');
      await createRole(s, 'Requesters', [P.enrollPfx], [bob.id]);
      await template(t, 'Short');
      for (const n of [1, 2, 3]) await pfx(t, bob.auth, `r-${n}.example.test`, 'Short');
      const col = await collection(t, 'R', 'IssuedCN -startswith "r-"');
      const a = await alert(t, { DisplayName: 'R', CertificateQueryId: col, UseWorkflows: true, Schedule: {} });
      const def = await importExport(t, 'notice-90-days.json', String(a.Id));
      await t.call('PUT', A, { body: { Id: a.Id, DisplayName: 'R', ExpirationWarningDays: 30, CertificateQueryId: col, UseWorkflows: true, Schedule: { Immediate: true } } });
      await waitFor('three instances', async () => (await instancesOf(t, def)).length === 3);
      await t.close();
      t = await startTestApp(overrides);
      expect((await t.call('PUT', `${A}/Schedule`, { body: { Schedule: { Immediate: true } } })).status).toBe(200);
      await t.server.alertScheduler.tick();
      await t.server.alertScheduler.tick();
      expect((await t.server.alerts.getAlert(a.Id)).lastRunAt).not.toBeNull();
      expect(await instancesOf(t, def)).toHaveLength(3);
    } finally {
      await t.close();
      if (usePostgres()) await dropTestDatabase(url);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
