import { execFileSync } from 'node:child_process';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceStatus } from '../../src/domain/status.ts';
import { P, toCanonical } from '../../src/security/permissions.ts';
import { approval, createRole, createUser, noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { opensslCsr, opensslPkcs12, opensslVerify, tamperedCsr } from './openssl.ts';
import { until } from '../support/until.ts';

const COMPLETE = InstanceStatus.Complete;
const REJECTED = InstanceStatus.Rejected;
const PEM = { 'x-certificateformat': 'PEM' };
const CA = 'countersign\\CountersignIssuingCA';

describe('certificate enrollment over HTTP', () => {
  let t: TestApp;
  let alice: { id: number; auth: string };
  let bob: { id: number; auth: string };
  let carol: { id: number; auth: string };
  let approverRole: number;

  beforeAll(async () => {
    t = await startTestApp();
    const s = t.server.services.store;
    alice = await createUser(s, 'alice');
    bob = await createUser(s, 'bob');
    carol = await createUser(s, 'carol');
    await createRole(s, 'Requesters', [P.enrollCsr, P.enrollPfx], [alice.id]);
    approverRole = await createRole(s, 'Approvers', [P.instancesReadPending], [bob.id, carol.id]);
  });
  afterAll(async () => t?.close());

  it('lists the embedded CA, the default template and one pattern per template', async () => {
    const cas = await t.call('GET', '/KeyfactorAPI/CertificateAuthority');
    expect(cas.status).toBe(200);
    expect(cas.body).toHaveLength(1);
    expect(`${cas.body[0].HostName}\\${cas.body[0].LogicalName}`).toBe(CA);
    expect((await t.call('GET', `/KeyfactorAPI/CertificateAuthority/${cas.body[0].Id}`)).body.LogicalName).toBe('CountersignIssuingCA');
    const templates = await t.call('GET', '/KeyfactorAPI/Templates');
    expect(templates.body.map((x: { CommonName: string; AllowedEnrollmentTypes: number }) => [x.CommonName, x.AllowedEnrollmentTypes])).toEqual([['Countersign', 3]]);
    expect((await t.call('GET', `/KeyfactorAPI/Templates/${templates.body[0].Id}`)).status).toBe(200);
    const patterns = await t.call('GET', '/KeyfactorAPI/EnrollmentPatterns?QueryString=Name%20-eq%20%22Countersign%22');
    expect(patterns.body.map((x: { Id: number }) => x.Id)).toEqual([templates.body[0].Id]);
    const ctx = await t.call('GET', '/KeyfactorAPI/Enrollment/CSR/Context/My', { auth: alice.auth });
    expect(ctx.body.Templates[0].CAs[0].Name).toBe(CA);
    expect((await t.call('GET', '/KeyfactorAPI/Enrollment/PFX/Context/My', { auth: alice.auth })).status).toBe(200);
  });

  it('a retried enrollment with the same Idempotency-Key gets the first answer, and one certificate is issued', async () => {
    const { csr } = opensslCsr('p256');
    const body = { CSR: csr, Template: 'Countersign', CertificateAuthority: CA };
    const send = (headers: Record<string, string>) =>
      t.call('POST', '/KeyfactorAPI/Enrollment/CSR', { auth: alice.auth, headers: { ...PEM, 'Idempotency-Key': 'enroll-once', ...headers }, body });
    const first = await send({});
    const again = await send({});
    expect(again.status).toBe(first.status);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.CertificateInformation.KeyfactorID).toBe(first.body.CertificateInformation.KeyfactorID);
    expect(again.body.CertificateInformation.SerialNumber).toBe(first.body.CertificateInformation.SerialNumber);
    // The same key asking for another format is another request.
    expect((await send({ 'x-certificateformat': 'DER' })).status).toBe(422);
    const serial = first.body.CertificateInformation.SerialNumber as string;
    const found = await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=${encodeURIComponent(`SerialNumber -eq "${serial}"`)}`, { unchecked: true });
    expect(found.body).toHaveLength(1);
  });

  it('issues at once with no workflow bound (the built-in global workflow): a chain openssl verifies', async () => {
    const { csr } = opensslCsr('p256');
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      auth: alice.auth,
      headers: PEM,
      body: { CSR: csr, Template: 'Countersign', CertificateAuthority: CA, IncludeChain: true, SANs: {}, Timestamp: new Date().toISOString() },
    });
    expect(res.status).toBe(200);
    const info = res.body.CertificateInformation;
    expect(info.RequestDisposition).toBe('ISSUED');
    expect(info.KeyfactorID).toBeGreaterThan(0);
    expect(info.KeyfactorRequestId).toBeGreaterThan(0);
    expect(info.Certificates).toHaveLength(3);
    expect(opensslVerify(info.Certificates[0], info.Certificates.slice(1))).toMatch(/OK/);
    const der = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'DER' },
      body: { CSR: opensslCsr('rsa2048').csr, Template: 'Countersign' },
    });
    expect(der.body.CertificateInformation.Certificates).toHaveLength(1);
    const text = execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-subject'], {
      input: Buffer.from(der.body.CertificateInformation.Certificates[0], 'base64'),
    }).toString();
    expect(text).toMatch(/app.example.com/);
    const cert = await t.call('GET', `/KeyfactorAPI/Certificates/${info.KeyfactorID}?includeMetadata=true`, { auth: alice.auth });
    expect(cert.body.CertRequestId).toBe(info.KeyfactorRequestId);
    expect(cert.body.SerialNumber).toBe(info.SerialNumber);
    expect(cert.body.Thumbprint).toBe(info.Thumbprint);
  });

  it('refuses bad CSRs and policy breaks with 400 naming the rule, recording nothing', async () => {
    const before = (await t.call('GET', '/KeyfactorAPI/Certificates?includeExpired=true')).body.length;
    const post = (body: object, headers: Record<string, string> = PEM) =>
      t.call('POST', '/KeyfactorAPI/Enrollment/CSR', { auth: alice.auth, headers, body: { Template: 'Countersign', ...body } });
    const weak = await post({ CSR: opensslCsr('rsa1024').csr });
    expect(weak.status).toBe(400);
    expect(weak.body.Message).toMatch(/KeySize: RSA keys must be at least 2048 bits/);
    expect((await post({ CSR: tamperedCsr(opensslCsr('rsa2048').csr) })).body.ErrorCode).toBe('0xA5C00080');
    expect((await post({ CSR: opensslCsr('ed25519').csr })).body.Message).toMatch(/KeyType/);
    expect((await post({ CSR: 'not a csr' })).status).toBe(400);
    expect((await post({ CSR: opensslCsr('p256').csr, Template: 'Nope' })).status).toBe(400);
    expect((await post({ CSR: opensslCsr('p256').csr, CertificateAuthority: 'x\\Nope' })).status).toBe(400);
    expect((await post({ CSR: opensslCsr('p256').csr }, {})).body.Message).toMatch(/x-certificateformat/);
    expect((await t.call('GET', '/KeyfactorAPI/Certificates?includeExpired=true')).body.length).toBe(before);
  });

  it('needs the enrollment permission, in either spelling', async () => {
    const dave = await createUser(t.server.services.store, 'dave');
    const body = { CSR: opensslCsr('p256').csr, Template: 'Countersign' };
    expect((await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', { auth: dave.auth, headers: PEM, body })).status).toBe(403);
    expect(toCanonical('CertificateEnrollment:EnrollCSR')).toBe(P.enrollCsr);
    expect(toCanonical('/certificates/enrollment/pfx')).toBe(P.enrollPfx);
    const frank = await createUser(t.server.services.store, 'frank');
    await createRole(t.server.services.store, 'Legacy enrollers', [toCanonical('CertificateEnrollment:EnrollCSR')], [frank.id]);
    expect((await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', { auth: frank.auth, headers: PEM, body })).status).toBe(200);
    // CSR permission does not grant PFX enrollment.
    const pfx = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
      auth: frank.auth,
      headers: { 'x-certificateformat': 'PFX' },
      body: { Subject: 'CN=x', Template: 'Countersign' },
    });
    expect(pfx.status).toBe(403);
  });

  describe('with a two-approver Enrollment workflow bound to the template', () => {
    let templateId: number;
    beforeAll(async () => {
      const created = await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'WebServer', DisplayName: 'Web server', ValidityDays: 90 }, unchecked: true });
      expect(created.status).toBe(200);
      templateId = created.body.Id;
      await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'End', [approverRole], { MinimumApprovals: 2 }), noop('End')], { key: String(templateId) });
    });

    const enroll = async (cn: string) => {
      const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
        auth: alice.auth,
        headers: PEM,
        body: { CSR: opensslCsr('p256', `/CN=${cn}`, `DNS:${cn}`).csr, Template: 'WebServer', CertificateAuthority: 'CountersignIssuingCA', IncludeChain: true },
      });
      expect(res.status).toBe(200);
      return res.body.CertificateInformation;
    };
    const approve = (instanceId: string, who: { auth: string }, approved: boolean) =>
      t.call('POST', `/KeyfactorAPI/Workflow/Instances/${instanceId}/Signals`, {
        auth: who.auth,
        body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: approved, Comment: 'ok' } },
      });

    it('answers PENDING, shows the approvers the decoded request, and issues after two approvals', async () => {
      const info = await enroll('pending.example.com');
      expect(info.RequestDisposition).toBe('PENDING');
      expect(info.Certificates).toEqual([]);
      expect(info.KeyfactorID).toBe(0);
      const instance = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}`, { auth: bob.auth });
      expect(instance.body.Status).toBe(2);
      expect(instance.body.ReferenceId).toBe(info.WorkflowReferenceId);
      const data = instance.body.InitialData;
      expect(data).toMatchObject({
        KeyfactorRequestId: info.KeyfactorRequestId,
        requester: 'alice',
        template: 'WebServer',
        CN: 'pending.example.com',
        KeyType: 'ECC',
        KeySize: 256,
        Curve: 'P-256',
        CertificateAuthority: CA,
      });
      expect(data.SANs).toEqual({ dns: ['pending.example.com'] });
      expect(data['CSR:Raw']).toMatch(/BEGIN CERTIFICATE REQUEST/);
      // Terraform polls the inventory by CertRequestId.
      const poll = () =>
        t.call(
          'GET',
          `/KeyfactorAPI/Certificates?pq.queryString=CertRequestId%20-eq%20${info.KeyfactorRequestId}&includeMetadata=true&includeLocations=true&includeHasPrivateKey=true`,
          { auth: alice.auth },
        );
      expect((await poll()).body).toEqual([]);
      expect((await approve(info.WorkflowInstanceId, bob, true)).status).toBe(204);
      expect((await poll()).body).toEqual([]);
      expect((await approve(info.WorkflowInstanceId, carol, true)).status).toBe(204);
      const found = await until(async () => ((await poll()).body as { Id: number }[])[0]);
      const dl = await t.call('POST', '/KeyfactorAPI/Certificates/Download', {
        auth: alice.auth,
        headers: { 'X-CertificateFormat': 'PEM' },
        body: { CertID: found.Id, IncludeChain: true, ChainOrder: 'EndEntityFirst' },
      });
      const pems = Buffer.from(dl.body.Content, 'base64')
        .toString()
        .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!;
      expect(pems).toHaveLength(3);
      expect(opensslVerify(pems[0]!, pems.slice(1))).toMatch(/OK/);
      const done = await until(async () => {
        const i = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}`);
        return i.body.Status === COMPLETE ? i : null;
      });
      expect(done.body.Status).toBe(COMPLETE);
      const history = await t.call('GET', `/KeyfactorAPI/Certificates/${found.Id}/History`, { auth: alice.auth });
      expect(history.body.map((h: { Action: string }) => h.Action)).toEqual(['Issued', 'Downloaded']);
    });

    it('a denial ends the instance Rejected and issues nothing', async () => {
      const info = await enroll('denied.example.com');
      expect(info.RequestDisposition).toBe('PENDING');
      expect((await approve(info.WorkflowInstanceId, bob, false)).status).toBe(204);
      const instance = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}`);
      expect(instance.body.Status).toBe(REJECTED);
      await new Promise((r) => setTimeout(r, 300));
      expect((await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=CertRequestId%20-eq%20${info.KeyfactorRequestId}`)).body).toEqual([]);
    });

    it('PFX: the generated key waits sealed; Recover gives the requester a PKCS#12 openssl opens', async () => {
      const res = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
        auth: alice.auth,
        headers: { 'x-certificateformat': 'PFX' },
        body: {
          CustomFriendlyName: 'tf',
          Password: 'Pfx-pass-1',
          PopulateMissingValuesFromAD: false,
          Subject: 'CN=pfx.example.com,O=Example',
          IncludeChain: true,
          CertificateAuthority: CA,
          Timestamp: new Date().toISOString(),
          Template: 'WebServer',
          SANs: { dns: ['pfx.example.com'] },
          Metadata: {},
          RenewalCertificateId: null,
        },
      });
      expect(res.status).toBe(200);
      const info = res.body.CertificateInformation;
      expect(info.RequestDisposition).toBe('PENDING');
      expect(info.Pkcs12Blob).toBeNull();
      await approve(info.WorkflowInstanceId, bob, true);
      await approve(info.WorkflowInstanceId, carol, true);
      const cert = await until(
        async () => (await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=CertRequestId%20-eq%20${info.KeyfactorRequestId}`, { auth: alice.auth })).body[0],
      );
      // Another identity may not recover alice's key.
      expect((await t.call('POST', '/KeyfactorAPI/Certificates/Recover', { auth: bob.auth, body: { CertID: cert.Id, Password: 'x' } })).status).toBeGreaterThanOrEqual(403);
      const rec = await t.call('POST', '/KeyfactorAPI/Certificates/Recover', {
        auth: alice.auth,
        headers: { 'x-certificateformat': 'PFX' },
        body: { CertID: cert.Id, Password: 'Recover-pw-2', IncludeChain: true },
      });
      expect(rec.status).toBe(200);
      const out = opensslPkcs12(Buffer.from(rec.body.PFX, 'base64'), 'Recover-pw-2');
      expect(out).toMatch(/BEGIN PRIVATE KEY/);
      expect(out).toMatch(/subject=.*CN ?= ?pfx.example.com/);
      // The template retains no keys: the one delivery happened.
      const again = await t.call('POST', '/KeyfactorAPI/Certificates/Recover', { auth: alice.auth, body: { CertID: cert.Id, Password: 'Recover-pw-2' } });
      expect(again.status).toBe(404);
      expect(again.body.ErrorCode).toBe('0xA5C00082');
    });
  });

  it('PFX without a workflow answers the PKCS#12 at once', async () => {
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'PFX' },
      body: {
        Subject: 'CN=now.example.com',
        Template: 'Countersign',
        KeyType: 'RSA',
        KeyLength: 2048,
        Password: 'Now-pass-1',
        IncludeChain: true,
        SANs: { dns: ['now.example.com'] },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.CertificateInformation.RequestDisposition).toBe('ISSUED');
    expect(res.body.CertificateInformation.Password).toBeNull();
    const out = opensslPkcs12(Buffer.from(res.body.CertificateInformation.Pkcs12Blob, 'base64'), 'Now-pass-1');
    expect(out.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    const ecc = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'PFX' },
      body: { Subject: 'CN=ecc.example.com', Template: 'Countersign', KeyType: 'ECC', Curve: 'P-384', SANs: { dns: ['ecc.example.com'] } },
    });
    const pw = ecc.body.CertificateInformation.Password;
    expect(pw).toBeTruthy();
    expect(opensslPkcs12(Buffer.from(ecc.body.CertificateInformation.Pkcs12Blob, 'base64'), pw)).toMatch(/BEGIN PRIVATE KEY/);
    const zip = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'ZIP' },
      body: { Subject: 'CN=zip.example.com', Template: 'Countersign', KeyType: 'ECC', Password: 'Zip-pass-1', IncludeChain: true, SANs: { dns: ['zip.example.com'] } },
    });
    const files = unzipSync(new Uint8Array(Buffer.from(zip.body.CertificateInformation.Pkcs12Blob, 'base64')));
    expect(Object.keys(files).sort()).toEqual(['zip.example.com-chain.crt', 'zip.example.com.crt', 'zip.example.com.key']);
    expect(Buffer.from(files['zip.example.com.key']!).toString()).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    const chain = Buffer.from(files['zip.example.com-chain.crt']!)
      .toString()
      .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!;
    expect(opensslVerify(Buffer.from(files['zip.example.com.crt']!).toString(), chain)).toMatch(/OK/);
  });

  it("keeps a key handed over with a CSR when the template retains keys; refuses a key that is not the CSR's", async () => {
    expect((await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'Retain', KeyRetention: 1 }, unchecked: true })).status).toBe(200);
    const mine = opensslCsr('p256', '/CN=retain.example.com', 'DNS:retain.example.com');
    const other = opensslCsr('p256');
    const wrong = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', { auth: alice.auth, headers: PEM, body: { CSR: mine.csr, PrivateKey: other.key, Template: 'Retain' } });
    expect(wrong.status).toBe(400);
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', { auth: alice.auth, headers: PEM, body: { CSR: mine.csr, PrivateKey: mine.key, Template: 'Retain' } });
    expect(res.body.CertificateInformation.RequestDisposition).toBe('ISSUED');
    const id = res.body.CertificateInformation.KeyfactorID;
    for (let i = 0; i < 2; i++) {
      const rec = await t.call('POST', '/KeyfactorAPI/Certificates/Recover', { auth: alice.auth, body: { CertID: id, Password: 'Keep-it-1' } });
      expect(rec.status).toBe(200);
      expect(opensslPkcs12(Buffer.from(rec.body.PFX, 'base64'), 'Keep-it-1')).toMatch(/BEGIN PRIVATE KEY/);
    }
  });

  it("replays cert-manager's request shape (EnrollmentPatternId, OwnerRoleName, empty SANs, metadata)", async () => {
    const fields = [
      'Controller-Namespace',
      'Controller-Kind',
      'Controller-Resource-Group-Name',
      'Issuer-Name',
      'Issuer-Namespace',
      'Controller-Reconcile-Id',
      'Certificate-Signing-Request-Namespace',
    ];
    for (const name of fields) expect((await t.call('POST', '/KeyfactorAPI/MetadataFields', { body: { Name: name, Description: name, DataType: 1 } })).status).toBe(200);
    const listed = await t.call('GET', '/KeyfactorAPI/MetadataFields', { auth: alice.auth });
    expect(listed.body.map((f: { Name: string }) => f.Name)).toEqual(fields);
    const pattern = (await t.call('GET', '/KeyfactorAPI/EnrollmentPatterns?QueryString=Name%20-eq%20%22Countersign%22', { auth: alice.auth })).body[0];
    const metadata = Object.fromEntries(fields.map((f) => [f, 'cert-manager']));
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'PEM', 'x-keyfactor-api-version': '1' },
      body: {
        CSR: opensslCsr('rsa2048').csr,
        EnrollmentPatternId: pattern.Id,
        OwnerRoleName: 'Requesters',
        Timestamp: new Date().toISOString(),
        IncludeChain: true,
        SANs: {},
        CertificateAuthority: 'CountersignIssuingCA',
        Metadata: metadata,
      },
    });
    expect(res.status).toBe(200);
    const certs: string[] = res.body.CertificateInformation.Certificates;
    expect(certs.every((c) => c.match(/BEGIN CERTIFICATE/g)!.length === 1)).toBe(true);
    const id = res.body.CertificateInformation.KeyfactorID;
    expect((await t.call('GET', `/KeyfactorAPI/Certificates/${id}?includeMetadata=true`)).body.Metadata).toEqual(metadata);
    expect((await t.call('PUT', '/KeyfactorAPI/Certificates/Metadata', { body: { Id: id, Metadata: { 'Issuer-Name': 'changed' } } })).status).toBe(204);
    expect((await t.call('GET', `/KeyfactorAPI/Certificates/${id}?includeMetadata=true`)).body.Metadata['Issuer-Name']).toBe('changed');
  });

  it('searches the inventory by the documented fields; a requester sees only their own', async () => {
    const mine = (await t.call('GET', '/KeyfactorAPI/Certificates', { auth: alice.auth })).body as {
      Id: number;
      IssuedCN: string;
      Thumbprint: string;
      SerialNumber: string;
      IssuerDN: string;
    }[];
    expect(mine.length).toBeGreaterThan(0);
    const c = mine[0]!;
    const q = async (query: string) => (await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=${encodeURIComponent(query)}`)).body.map((x: { Id: number }) => x.Id);
    expect(await q(`IssuedCN -eq "${c.IssuedCN}"`)).toContain(c.Id);
    expect(await q(`Thumbprint -eq "${c.Thumbprint}"`)).toEqual([c.Id]);
    expect(await q(`SerialNumber -eq "${c.SerialNumber}"`)).toEqual([c.Id]);
    expect(await q(`NotAfter -gt "2000-01-01"`)).toContain(c.Id);
    expect((await t.call('GET', '/KeyfactorAPI/Certificates?QueryString=Nope%20-eq%201')).status).toBe(400);
    // bob holds no certificate permission: nothing visible.
    expect((await t.call('GET', '/KeyfactorAPI/Certificates', { auth: bob.auth })).status).toBe(403);
    const other = await createUser(t.server.services.store, 'erin');
    await createRole(t.server.services.store, 'Erin enrolls', [P.enrollCsr], [other.id]);
    expect((await t.call('GET', '/KeyfactorAPI/Certificates', { auth: other.auth })).body).toEqual([]);
    expect((await t.call('GET', `/KeyfactorAPI/Certificates/${c.Id}`, { auth: other.auth })).status).toBe(404);
    expect((await t.call('POST', '/KeyfactorAPI/Certificates/Download', { auth: other.auth, body: { Thumbprint: c.Thumbprint } })).status).toBe(404);
    const bySerial = await t.call('POST', '/KeyfactorAPI/Certificates/Download', {
      headers: { 'X-CertificateFormat': 'P7B' },
      body: { SerialNumber: c.SerialNumber, IssuerDN: c.IssuerDN, IncludeChain: true },
    });
    expect(bySerial.status).toBe(200);
    expect((await t.call('DELETE', `/KeyfactorAPI/Certificates/${c.Id}`, { auth: alice.auth })).status).toBe(403);
    expect((await t.call('DELETE', `/KeyfactorAPI/Certificates/${c.Id}`)).status).toBe(204);
    expect((await t.call('GET', `/KeyfactorAPI/Certificates/${c.Id}`)).status).toBe(404);
  });
});
