import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceStatus } from '../../src/domain/status.ts';
import { P } from '../../src/security/permissions.ts';
import { approval, type EnrollmentApp, noop, publishedDefinition, startEnrollmentApp, step, type TestUser } from '../support/fixtures.ts';
import type { TestApp } from '../support/server.ts';
import type { HttpStandIn } from '../support/stand-ins/http.ts';
import { opensslCsr, opensslPkcs12 } from './openssl.ts';
import { until } from '../support/until.ts';

describe('Enrollment workflows and the EnrollStep', () => {
  let app: EnrollmentApp<'alice' | 'bob' | 'mallory'>;
  let t: TestApp;
  let api: HttpStandIn;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  let approvers: number;
  let templateId: number;

  beforeAll(async () => {
    app = await startEnrollmentApp({
      users: ['alice', 'bob', 'mallory'],
      requesters: ['alice', 'mallory'],
      roles: [{ name: 'Starters', permissions: [P.instancesStart, P.instancesReadMine], members: ['mallory'] }],
      approvers: ['bob'],
    });
    ({ t, api, approvers } = app);
    ({ alice, bob, mallory } = app.users);
    templateId = (await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'Tls', ValidityDays: 30 }, unchecked: true })).body.Id;
  });
  afterAll(async () => app?.close());

  it('EnrollStep: Enrollment workflows only, at most one, no conditions, no parameters', async () => {
    const def = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { body: { DisplayName: 'v', Description: 'v', WorkflowType: 'Enrollment', Key: '999' } });
    const put = (steps: unknown[], id = def.body.Id) => t.call('PUT', `/KeyfactorAPI/Workflow/Definitions/${id}/Steps`, { body: steps });
    const two = await put([noop('S', 'E1'), step('E1', 'EnrollStep', 'E2'), step('E2', 'EnrollStep', 'End'), noop('End')]);
    expect(two.status).toBe(400);
    expect(two.body.Message).toMatch(/at most 1 EnrollStep/);
    const cond = await put([noop('S', 'E1'), step('E1', 'EnrollStep', 'End', { Conditions: [{ Value: 'true' }] }), noop('End')]);
    expect(cond.body.Message).toMatch(/EnrollStep takes no conditions/);
    const param = await put([noop('S', 'E1'), step('E1', 'EnrollStep', 'End', { ConfigurationParameters: { CA: 'x' } }), noop('End')]);
    expect(param.body.Message).toMatch(/unknown parameter/);
    const revocation = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { body: { DisplayName: 'r', Description: 'r', WorkflowType: 'Revocation', Key: '999' } });
    const wrongType = await put([noop('S', 'E1'), step('E1', 'EnrollStep', 'End'), noop('End')], revocation.body.Id);
    expect(wrongType.body.Message).toMatch(/only allowed in Enrollment workflows/);
    expect((await put([noop('S', 'E1'), step('E1', 'EnrollStep', 'End'), noop('End')])).status).toBe(200);
  });

  it('an instance started by hand has no request: it completes as before, nothing issued', async () => {
    const id = await publishedDefinition(t, [noop('Start', 'End'), noop('End')], { key: 'by-hand' });
    const started = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: id, InitialData: { cn: 'x' } } });
    expect(started.body.Status).toBe(InstanceStatus.Complete);
    expect(started.body.CurrentStepUniqueName ?? 'End').toBe('End');
  });

  describe('with approval, then a REST call using the request tokens', () => {
    beforeAll(async () => {
      const rest = step('Tell', 'RESTRequest', 'End', {
        ConfigurationParameters: {
          Verb: 'POST',
          URL: `${api.url}/issued/$(CN)`,
          Headers: {},
          ContentType: 'application/json',
          RequestContent: '{"requester":"$(requester)","template":"$(template)","key":"$(KeyType) $(KeySize)"}',
          DataBucketProperty: 'Told',
        },
      });
      await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'Enroll', [approvers]), step('Enroll', 'EnrollStep', 'Tell'), rest, noop('End')], {
        key: String(templateId),
      });
    });

    it('issues at the explicit EnrollStep; later steps see the tokens; approvers read the decoded request', async () => {
      const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
        auth: alice.auth,
        headers: { 'x-certificateformat': 'PEM' },
        body: { CSR: opensslCsr('rsa3072', '/CN=tok.example.com', 'DNS:tok.example.com').csr, Template: 'Tls' },
      });
      const info = res.body.CertificateInformation;
      expect(info.RequestDisposition).toBe('PENDING');
      const decoded = await t.call('GET', `/KeyfactorAPI/Enrollment/Requests/${info.KeyfactorRequestId}`, { auth: bob.auth, unchecked: true });
      expect(decoded.status).toBe(200);
      expect(decoded.body).toMatchObject({
        Requester: 'alice',
        Subject: 'CN=tok.example.com',
        SANs: { dns: ['tok.example.com'] },
        Key: { Type: 'RSA', Size: 3072 },
        ValidityDays: 30,
        PolicyViolations: [],
        Disposition: 'PENDING',
        Template: { Name: 'Tls' },
      });
      expect((await t.call('GET', `/KeyfactorAPI/Enrollment/Requests/${info.KeyfactorRequestId}`, { auth: mallory.auth, unchecked: true })).status).toBe(404);
      await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}/Signals`, {
        auth: bob.auth,
        body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: true } },
      });
      const done = await until(async () => {
        const i = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}`);
        return i.body.Status === InstanceStatus.Complete && i.body;
      });
      expect(done.CurrentStateData['CA Certificate']).toMatchObject({ Status: 'Issued', 'CA Request ID': info.KeyfactorRequestId });
      expect(api.requests.map((r) => [r.url, JSON.parse(r.body)])).toEqual([['/issued/tok.example.com', { requester: 'alice', template: 'Tls', key: 'RSA 3072' }]]);
      expect((await t.call('GET', `/KeyfactorAPI/Enrollment/Requests/${info.KeyfactorRequestId}`, { auth: alice.auth, unchecked: true })).body.Disposition).toBe('ISSUED');
    });

    it('an instance started by hand with a forged request id issues nothing', async () => {
      const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
        auth: alice.auth,
        headers: { 'x-certificateformat': 'PEM' },
        body: { CSR: opensslCsr('p256', '/CN=victim.example.com', 'DNS:victim.example.com').csr, Template: 'Tls' },
      });
      const victim = res.body.CertificateInformation;
      const defs = await t.call('GET', `/KeyfactorAPI/Workflow/Definitions?QueryString=${encodeURIComponent(`Key -eq "${templateId}"`)}`);
      const forged = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', {
        auth: mallory.auth,
        body: { DefinitionId: defs.body[0].Id, InitialData: { KeyfactorRequestId: victim.KeyfactorRequestId, requester: 'mallory' } },
      });
      expect(forged.status).toBe(201);
      // Mallory cannot approve; bob approves what looks like a request.
      await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${forged.body.Id}/Signals`, {
        auth: bob.auth,
        body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: true } },
      });
      const ended = await until(async () => {
        const i = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${forged.body.Id}?includeHistory=true`, { unchecked: true });
        return i.body.Status !== InstanceStatus.Running && i.body;
      });
      // The request id a requester writes into InitialData names no request: only the server's
      // own record (trusted data) does, so the EnrollStep finds nothing to enroll.
      expect(ended.Status).toBe(InstanceStatus.Complete);
      expect(ended.History.map((h: { Message: string }) => h.Message).join('\n')).toMatch(/No certificate request belongs to this instance/);
      expect((await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=CertRequestId%20-eq%20${victim.KeyfactorRequestId}`)).body).toEqual([]);
    });
  });

  it('a template in review mode sends a request outside it to the approvers, flagged; absolute limits are still refused', async () => {
    const review = (await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'Rsa3072', MinimumRsaKeySize: 3072, PolicyMode: 'Review' }, unchecked: true })).body.Id;
    const enroll = (kind: 'rsa2048' | 'rsa1024', template = 'Rsa3072') =>
      t.call('POST', '/KeyfactorAPI/Enrollment/CSR', { auth: alice.auth, headers: { 'x-certificateformat': 'PEM' }, body: { CSR: opensslCsr(kind).csr, Template: template } });
    // No workflow bound yet: nobody would review, so it is refused.
    expect((await enroll('rsa2048')).body.Message).toMatch(/KeySize: RSA keys must be at least 3072 bits/);
    await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'End', [approvers]), noop('End')], { key: String(review) });
    const res = await enroll('rsa2048');
    expect(res.status).toBe(200);
    const info = res.body.CertificateInformation;
    expect(info.RequestDisposition).toBe('PENDING');
    const instance = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}`);
    expect(instance.body.InitialData.PolicyViolations).toEqual([{ Rule: 'KeySize', Message: 'RSA keys must be at least 3072 bits; this one has 2048.' }]);
    const decoded = await t.call('GET', `/KeyfactorAPI/Enrollment/Requests/${info.KeyfactorRequestId}`, { auth: bob.auth, unchecked: true });
    expect(decoded.body.PolicyViolations.map((v: { Rule: string }) => v.Rule)).toEqual(['KeySize']);
    expect(decoded.body.Template).toMatchObject({ MinimumRsaKeySize: 3072 });
    await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}/Signals`, {
      auth: bob.auth,
      body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: false, Comment: 'Key too small' } },
    });
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}`)).body.Status).toBe(InstanceStatus.Rejected);
    expect((await t.call('GET', `/KeyfactorAPI/Enrollment/Requests/${info.KeyfactorRequestId}`, { auth: alice.auth, unchecked: true })).body.Disposition).toBe('DENIED');
    const weak = await enroll('rsa1024');
    expect(weak.status).toBe(400);
  });

  it("Terraform's PFX sequence: api-version 2, format STORE, PENDING, poll CertRequestId, Recover", async () => {
    const pfxTemplate = (await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'TfPfx' }, unchecked: true })).body.Id;
    await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'End', [approvers]), noop('End')], { key: String(pfxTemplate) });
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'STORE', 'x-keyfactor-api-version': '2' },
      body: {
        CustomFriendlyName: 'tf',
        Password: 'Tf-pass-123',
        PopulateMissingValuesFromAD: false,
        Subject: 'CN=tf.example.com,O=Example',
        IncludeChain: true,
        CertificateAuthority: 'countersign\\CountersignIssuingCA',
        Timestamp: new Date().toISOString(),
        Template: 'TfPfx',
        SANs: { dns: ['tf.example.com'], ip4: ['10.1.2.3'] },
        Metadata: {},
      },
    });
    expect(res.status, res.text).toBe(200);
    const info = res.body.CertificateInformation;
    expect(info.RequestDisposition).toBe('PENDING');
    await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}/Signals`, {
      auth: bob.auth,
      body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: true } },
    });
    let delay = 50;
    const cert = await until(async () => {
      const got = (
        await t.call(
          'GET',
          `/KeyfactorAPI/Certificates?pq.queryString=CertRequestId%20-eq%20${info.KeyfactorRequestId}&includeMetadata=true&includeLocations=true&includeHasPrivateKey=true`,
          { auth: alice.auth },
        )
      ).body[0];
      if (!got) {
        delay *= 2;
        await new Promise((r) => setTimeout(r, delay));
      }
      return got;
    });
    expect(cert.HasPrivateKey).toBe(true);
    const read = await t.call('GET', `/KeyfactorAPI/Certificates/${cert.Id}?includeLocations=true&includeMetadata=true`, { auth: alice.auth });
    expect(read.body.SubjectAltNameElements.map((e: { Value: string }) => e.Value).sort()).toEqual(['10.1.2.3', 'tf.example.com']);
    const rec = await t.call('POST', '/KeyfactorAPI/Certificates/Recover', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'PFX' },
      body: { CertID: cert.Id, Password: 'Tf-pass-123', IncludeChain: true },
    });
    expect(rec.status).toBe(200);
    expect(opensslPkcs12(Buffer.from(rec.body.PFX, 'base64'), 'Tf-pass-123')).toMatch(/BEGIN PRIVATE KEY/);
    const p7b = await t.call('POST', '/KeyfactorAPI/Certificates/Download', {
      auth: alice.auth,
      headers: { 'X-CertificateFormat': 'P7B' },
      body: { CertID: cert.Id, IncludeChain: true, ChainOrder: 'EndEntityFirst' },
    });
    expect(p7b.status).toBe(200);
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('openssl', ['pkcs7', '-inform', 'DER', '-print_certs'], { input: Buffer.from(p7b.body.Content, 'base64') }).toString();
    expect(out.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
  });
});
