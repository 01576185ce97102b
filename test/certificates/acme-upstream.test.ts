import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';
import { CaRefusal } from '../../src/ca/connector.ts';
import { decodeCsr } from '../../src/certificates/csr.ts';
import { InstanceStatus } from '../../src/domain/status.ts';
import { P } from '../../src/security/permissions.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { approval, createRole, createUser, noop, publishedDefinition } from '../support/fixtures.ts';
import { type Pebble, requirePebble, startPebble } from '../support/pebble.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { waitFor } from '../support/until.ts';
import { opensslCsr, opensslPkcs12, opensslVerify } from './openssl.ts';

/*
 * The ACME upstream connector against pebble (Let's Encrypt's test CA) over TLS: pebble A passes
 * every authorization (PEBBLE_VA_ALWAYS_VALID), pebble B really validates http-01, against the
 * built-in responder of the Countersign server under test.
 */

const enrollStep = (UniqueName: string, next: string) => ({
  UniqueName,
  DisplayName: UniqueName,
  ExtensionName: 'EnrollStep',
  Enabled: true,
  ConfigurationParameters: {},
  Signals: [],
  Conditions: [],
  Outputs: { continue: next },
});

describe.runIf(requirePebble())('ACME upstream CA (pebble)', () => {
  let t: TestApp;
  let pebble: Pebble;
  let validating: Pebble;
  let alice: { id: number; auth: string };
  let bob: { id: number; auth: string };
  let approvers: number;

  beforeAll(async () => {
    // Two attempts per step: the runner's rules, kept short (1 s backoff).
    t = await startTestApp({ stepMaxAttempts: 2 });
    pebble = await startPebble({ alwaysValid: true });
    validating = await startPebble({ alwaysValid: false, httpPort: Number(new URL(t.url).port) });
    const s = t.server.services.store;
    alice = await createUser(s, 'alice');
    bob = await createUser(s, 'bob');
    await createRole(s, 'Requesters', [P.enrollCsr], [alice.id]);
    approvers = await createRole(s, 'Approvers', [P.instancesReadPending], [bob.id]);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await pebble?.stop();
    await validating?.stop();
  });

  const addCa = (body: Record<string, unknown>) => t.call('POST', '/KeyfactorAPI/CertificateAuthority/Acme', { body, unchecked: true });

  /** A template bound to the CA and an Enrollment workflow with one approval before the EnrollStep. */
  const boundTemplate = async (name: string, caId: number) => {
    const template = await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: name, CertificateAuthorityIds: [caId] }, unchecked: true });
    expect(template.status, template.text).toBe(200);
    await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'Enroll', [approvers]), enrollStep('Enroll', 'End'), noop('End')], {
      key: String(template.body.Id),
    });
  };

  /** Enrolls as alice, approves as bob, and waits for the instance to end. */
  const enrollApproved = async (template: string, csr: string) => {
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', { auth: alice.auth, headers: { 'x-certificateformat': 'PEM' }, body: { CSR: csr, Template: template } });
    expect(res.status, res.text).toBe(200);
    const info = res.body.CertificateInformation;
    expect(info.RequestDisposition).toBe('PENDING');
    const signal = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}/Signals`, {
      auth: bob.auth,
      body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: true } },
    });
    expect(signal.status, signal.text).toBe(204);
    const done = await waitFor(
      `instance ${info.WorkflowInstanceId} to end`,
      async () => {
        const i = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}`);
        return [InstanceStatus.Complete, InstanceStatus.Failed].includes(i.body.Status) && i.body;
      },
      90_000,
    );
    return { info, instance: done };
  };

  let caId: number;

  it('registers an account at the directory, trusting only the CA bundle given', async () => {
    const untrusted = await addCa({ LogicalName: 'PebbleNoBundle', DirectoryUrl: pebble.directoryUrl, TermsOfServiceAgreed: true });
    expect(untrusted.status).toBe(400);
    expect(untrusted.body.Message).toMatch(/TLS certificate is not trusted/);
    const plain = await addCa({ LogicalName: 'PebbleHttp', DirectoryUrl: pebble.directoryUrl.replace('https:', 'http:'), CaBundlePem: pebble.tlsCertPem });
    expect(plain.body.Message).toMatch(/https URL/);
    const metadata = await addCa({ LogicalName: 'Metadata', DirectoryUrl: 'https://169.254.169.254/dir', CaBundlePem: pebble.tlsCertPem });
    expect(metadata.status).toBe(400);
    expect(metadata.body.Message).toMatch(/egress policy/);

    const res = await addCa({
      LogicalName: 'Pebble',
      HostName: 'pebble.test',
      DirectoryUrl: pebble.directoryUrl,
      CaBundlePem: pebble.tlsCertPem,
      Contact: ['pki-team@example.com'],
      TermsOfServiceAgreed: true,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ LogicalName: 'Pebble', HostName: 'pebble.test' });
    const props = JSON.parse(res.body.Properties);
    expect(props).toMatchObject({ Acme: true, DirectoryUrl: pebble.directoryUrl, Contact: ['pki-team@example.com'] });
    expect(props.AccountUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/my-account\//);
    expect(res.text).not.toMatch(/PRIVATE KEY/);
    caId = res.body.Id;
    const again = await addCa({ LogicalName: 'pebble', DirectoryUrl: pebble.directoryUrl, CaBundlePem: pebble.tlsCertPem });
    expect(again.status).toBe(409);
    // Only holders of the CA modify permission add CAs.
    expect(
      (await t.call('POST', '/KeyfactorAPI/CertificateAuthority/Acme', { auth: alice.auth, body: { LogicalName: 'x', DirectoryUrl: pebble.directoryUrl }, unchecked: true }))
        .status,
    ).toBe(403);
  }, 60_000);

  it('an approved CSR enrollment ends with a certificate pebble issued, in the inventory; openssl verifies it with pebble’s root', async () => {
    await boundTemplate('AcmeTls', caId);
    const { csr } = opensslCsr('p256', '/CN=shop.example.com', 'DNS:shop.example.com,DNS:www.shop.example.com');
    const { info, instance } = await enrollApproved('AcmeTls', csr);
    expect(instance.Status, instance.StatusMessage).toBe(InstanceStatus.Complete);
    const found = await t.call('GET', `/KeyfactorAPI/Certificates?pq.queryString=${encodeURIComponent(`CertRequestId -eq ${info.KeyfactorRequestId}`)}`);
    expect(found.body).toHaveLength(1);
    const cert = found.body[0];
    expect(cert.IssuerDN).toMatch(/Pebble Intermediate/);
    expect(cert.CertificateAuthorityId).toBe(caId);
    const download = await t.call('POST', '/KeyfactorAPI/Certificates/Download', {
      headers: { 'x-certificateformat': 'PEM' },
      body: { CertID: cert.Id, IncludeChain: true },
      unchecked: true,
    });
    expect(download.status, download.text).toBe(200);
    const pems = Buffer.from(download.body.Content, 'base64')
      .toString('utf8')
      .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
    expect(pems.length).toBeGreaterThanOrEqual(2);
    // The chain pebble answered with is kept with the CA (IncludeChain on every node, after restarts).
    const stored = (await t.server.services.store.certificates.listCas()).find((c) => c.id === caId)!;
    expect(stored.chainPem.join('')).toBe(pems.slice(1).join(''));
    const root = await pebble.rootPem();
    expect(opensslVerify(pems[0]!, [...pems.slice(1), root])).toMatch(/OK/);
    expect((await pebble.statusOf(cert.SerialNumber)).Status).toBe('Valid');

    // A hold cannot be forwarded to an ACME CA (its revocations are permanent): refused, nothing changes.
    const connector = t.server.certificates.caById(caId);
    const record = await t.server.services.store.certificates.getCertificate(cert.Id);
    await expect(connector.revoke!({ der: record!.der, serialNumber: cert.SerialNumber }, 6)).rejects.toThrow(/cannot be put on hold/);
    // POST /Certificates/Revoke goes through the Revocation workflow, whose RevokeStep forwards it
    // to pebble, signed with the account that ordered the certificate.
    const revoked = await t.call('POST', '/KeyfactorAPI/Certificates/Revoke', { body: { CertificateIds: [cert.Id], Reason: 4, Comment: 'superseded' } });
    expect(revoked.status, revoked.text).toBe(200);
    await until(async () => (await pebble.statusOf(cert.SerialNumber)).Status === 'Revoked', 30_000);
    expect(await pebble.statusOf(cert.SerialNumber)).toMatchObject({ Status: 'Revoked', Reason: 4 });
    expect((await t.call('GET', `/KeyfactorAPI/Certificates/${cert.Id}`)).body.RevocationReason).toBe(4);
    // A second revocation is refused by the CA: a refusal, not "unavailable".
    const second = connector.revoke!({ der: record!.der, serialNumber: cert.SerialNumber }, 4);
    await expect(second).rejects.toBeInstanceOf(CaRefusal);
    await expect(second).rejects.toThrow(/the CA refused: .*already been revoked/i);
  }, 120_000);

  it('PFX enrollment: Countersign makes the key and signs the CSR with it; the PKCS#12 holds pebble’s certificate for that key', async () => {
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
      headers: { 'x-certificateformat': 'PFX' },
      body: {
        Subject: 'CN=pfx.example.com',
        SANs: { dns: ['pfx.example.com', 'alt.pfx.example.com'] },
        KeyType: 'RSA',
        KeyLength: 2048,
        Template: 'Countersign',
        CertificateAuthority: 'Pebble',
        Password: 'Pfx-pass-1234',
        IncludeChain: true,
      },
      unchecked: true,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.CertificateInformation).toMatchObject({ RequestDisposition: 'ISSUED', IssuerDN: expect.stringMatching(/Pebble Intermediate/) });
    const out = opensslPkcs12(Buffer.from(res.body.CertificateInformation.Pkcs12Blob, 'base64'), 'Pfx-pass-1234');
    expect(out).toMatch(/BEGIN PRIVATE KEY/);
    const leaf = out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/)![0];
    const text = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], { input: leaf }).toString();
    expect(text).toMatch(/DNS:pfx\.example\.com/);
    expect(text).toMatch(/DNS:alt\.pfx\.example\.com/);
    const key = out.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n?/)![0];
    const certPublic = execFileSync('openssl', ['x509', '-noout', '-pubkey'], { input: leaf }).toString();
    expect(execFileSync('openssl', ['pkey', '-pubout'], { input: key }).toString()).toBe(certPublic);
    // An e-mail SAN cannot be validated by an ACME CA: refused by name, not dropped.
    const mail = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
      headers: { 'x-certificateformat': 'PFX' },
      body: {
        Subject: 'CN=m.example.com',
        SANs: { dns: ['m.example.com'], rfc822: ['ops@example.com'] },
        KeyType: 'ECC',
        Curve: 'P-256',
        Template: 'Countersign',
        CertificateAuthority: 'Pebble',
        Password: 'Pfx-pass-1234',
      },
      unchecked: true,
    });
    expect(mail.status).toBe(400);
    expect(mail.body.Message).toMatch(/Pebble refused request \d+: .*validates only DNS names and IP addresses.*rfc822/);
  }, 60_000);

  it('one request is one order: issuing again under the same idempotency key resumes the order and returns the same certificate', async () => {
    const connector = t.server.certificates.caById(caId);
    const { csr } = opensslCsr('p256', '/CN=once.example.com', 'DNS:once.example.com');
    const d = await decodeCsr(csr);
    const req = { subject: d.subject, publicKey: d.publicKeyDer, sans: d.sans, validityDays: 30, keyUsage: 0, extendedKeyUsages: [], csrPem: csr };
    const first = await connector.issue(req, 'request:once-1');
    const orderUrl = await t.server.services.store.certificates.getAcmeOrder(caId, 'request:once-1');
    expect(orderUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/my-order\//);
    const again = await connector.issue(req, 'request:once-1');
    expect(again.serialNumber).toBe(first.serialNumber);
    expect(await t.server.services.store.certificates.getAcmeOrder(caId, 'request:once-1')).toBe(orderUrl);
    const other = await connector.issue(req, 'request:once-2');
    expect(other.serialNumber).not.toBe(first.serialNumber);
  }, 60_000);

  it('a request the ACME CA cannot serve fails the step at once, saying why (no retry)', async () => {
    const { csr } = opensslCsr('p256', '/CN=mail.example.com', 'DNS:mail.example.com,email:ops@example.com');
    const { instance } = await enrollApproved('AcmeTls', csr);
    expect(instance.Status).toBe(InstanceStatus.Failed);
    expect(instance.StatusMessage).toMatch(
      /^Step 'Enroll' \(EnrollStep\) failed: The certificate authority Pebble refused request \d+: .*validates only DNS names and IP addresses.*rfc822/,
    );
  }, 120_000);

  it('really validates http-01 through the built-in responder; an identifier it cannot validate makes the order invalid, and the step fails', async () => {
    const res = await addCa({ LogicalName: 'PebbleValidating', DirectoryUrl: validating.directoryUrl, CaBundlePem: validating.tlsCertPem, TermsOfServiceAgreed: true });
    expect(res.status, res.text).toBe(200);
    await boundTemplate('AcmeValidated', res.body.Id);
    // IP identifier (RFC 8738): pebble's validation authority fetches http://127.0.0.1:<server port>/.well-known/acme-challenge/<token>.
    const ok = await enrollApproved('AcmeValidated', opensslCsr('p256', '/CN=127.0.0.1', 'IP:127.0.0.1').csr);
    expect(ok.instance.Status, ok.instance.StatusMessage).toBe(InstanceStatus.Complete);
    expect(ok.instance.CurrentStateData['CA Certificate']).toMatchObject({ Status: 'Issued' });
    // The responder answers only tokens being validated now.
    expect((await fetch(`${t.url}/.well-known/acme-challenge/abcdef`)).status).toBe(404);

    const bad = await enrollApproved('AcmeValidated', opensslCsr('p256', '/CN=nowhere.invalid', 'DNS:nowhere.invalid').csr);
    expect(bad.instance.Status).toBe(InstanceStatus.Failed);
    expect(bad.instance.StatusMessage).toMatch(
      /^Step 'Enroll' \(EnrollStep\) failed: The certificate authority PebbleValidating refused request \d+: ordering from https:\/\/127\.0\.0\.1:\d+\/dir: the CA refused: /,
    );

    // Trying that request again (a restarted instance) orders anew rather than resuming the invalid order.
    const connector = t.server.certificates.caById(res.body.Id);
    const csr = opensslCsr('p256', '/CN=nowhere.invalid', 'DNS:nowhere.invalid').csr;
    const d = await decodeCsr(csr);
    const req = { subject: d.subject, publicKey: d.publicKeyDer, sans: d.sans, validityDays: 30, keyUsage: 0, extendedKeyUsages: [], csrPem: csr };
    await expect(connector.issue(req, 'request:retry-invalid')).rejects.toBeInstanceOf(CaRefusal);
    const firstOrder = await t.server.services.store.certificates.getAcmeOrder(res.body.Id, 'request:retry-invalid');
    await expect(connector.issue(req, 'request:retry-invalid')).rejects.toBeInstanceOf(CaRefusal);
    const secondOrder = await t.server.services.store.certificates.getAcmeOrder(res.body.Id, 'request:retry-invalid');
    expect(firstOrder).toMatch(/\/my-order\//);
    expect(secondOrder).not.toBe(firstOrder);
  }, 180_000);

  it('any node answers the validation: the order is placed on one node, pebble validates against another', async () => {
    const databaseUrl = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(mkdtempSync(join(tmpdir(), 'countersign-acme-')), 'db.sqlite')}`;
    const caKey = randomBytes(32).toString('base64');
    const placing = await startTestApp({ databaseUrl, caKey });
    const answering = await startTestApp({ databaseUrl, caKey });
    const third = await startPebble({ alwaysValid: false, httpPort: Number(new URL(answering.url).port) });
    try {
      const ca = await placing.call('POST', '/KeyfactorAPI/CertificateAuthority/Acme', {
        body: { LogicalName: 'PebbleTwoNodes', DirectoryUrl: third.directoryUrl, CaBundlePem: third.tlsCertPem, TermsOfServiceAgreed: true },
        unchecked: true,
      });
      expect(ca.status, ca.text).toBe(200);
      // No workflow bound: issued within the enrollment call, on the node it reached.
      const res = await placing.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
        headers: { 'x-certificateformat': 'PEM' },
        body: { CSR: opensslCsr('p256', '/CN=127.0.0.1', 'IP:127.0.0.1').csr, Template: 'Countersign', CertificateAuthority: 'PebbleTwoNodes', IncludeChain: true },
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body.CertificateInformation).toMatchObject({ RequestDisposition: 'ISSUED', IssuerDN: expect.stringMatching(/Pebble Intermediate/) });
      const certs = res.body.CertificateInformation.Certificates as string[];
      expect(opensslVerify(certs[0]!, [...certs.slice(1), await third.rootPem()])).toMatch(/OK/);
    } finally {
      await third.stop();
      await placing.close();
      await answering.close();
      if (usePostgres()) await dropTestDatabase(databaseUrl);
    }
  }, 120_000);

  it('pebble down: the step is retried per the runner’s rules, then fails saying the CA could not be reached', async () => {
    await pebble.stop();
    const { instance } = await enrollApproved('AcmeTls', opensslCsr('p256', '/CN=later.example.com', 'DNS:later.example.com').csr);
    expect(instance.Status).toBe(InstanceStatus.Failed);
    expect(instance.StatusMessage).toMatch(
      /^Step 'Enroll' \(EnrollStep\) failed \(after 2 attempts\): The certificate authority Pebble could not sign request \d+: ordering from https:\/\/127\.0\.0\.1:\d+\/dir: the CA could not be reached or did not answer \(ECONNREFUSED\)\.$/,
    );
  }, 120_000);
});
