import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/server.ts';
import { opensslCsr } from './openssl.ts';

/** Hostile input to every certificate route: always a 4xx in Keyfactor's error shape or a 2xx, never a 500. */
describe('certificate routes under bad input', () => {
  let t: TestApp;
  let csr: string;
  beforeAll(async () => {
    t = await startTestApp();
    csr = opensslCsr('p256').csr;
  });
  afterAll(async () => t?.close());

  const ROUTES: [string, string][] = [
    ['POST', '/KeyfactorAPI/Enrollment/CSR'],
    ['POST', '/KeyfactorAPI/Enrollment/PFX'],
    ['POST', '/KeyfactorAPI/Certificates/Download'],
    ['POST', '/KeyfactorAPI/Certificates/Recover'],
    ['PUT', '/KeyfactorAPI/Certificates/Metadata'],
    ['PUT', '/KeyfactorAPI/Templates'],
    ['POST', '/KeyfactorAPI/Templates'],
    ['POST', '/KeyfactorAPI/MetadataFields'],
    ['PUT', '/KeyfactorAPI/MetadataFields'],
    ['DELETE', '/KeyfactorAPI/MetadataFields'],
    ['POST', '/KeyfactorAPI/CertificateAuthority/Import'],
    ['POST', '/KeyfactorAPI/Certificates/Revoke'],
  ];
  const bodies = (): unknown[] => [
    null,
    [],
    'text',
    42,
    {},
    { CSR: 123 },
    { CSR: 'x'.repeat(70_000), Template: 'Countersign' },
    { CSR: csr, Template: {} },
    { CSR: csr, Template: 'Countersign', SANs: 'dns' },
    { CSR: csr, Template: 'Countersign', SANs: { dns: [1] } },
    { CSR: csr, Template: 'Countersign', Metadata: { a: { b: 1 } } },
    { CSR: csr, EnrollmentPatternId: 2147483648 },
    { CSR: csr, Template: 'Countersign', RenewalCertificateId: 0 },
    { CSR: csr, Template: 'Countersign', PrivateKey: 'not a key' },
    { CSR: csr, Template: 'Countersign', CertificateAuthority: '\\\\\\' },
    { Subject: '=,=,', Template: 'Countersign' },
    { Subject: 'CN=x', Template: 'Countersign', KeyType: 'DSA' },
    { Subject: 'CN=x', Template: 'Countersign', KeyType: 'RSA', KeyLength: 99999 },
    { Subject: 'CN=x', Template: 'Countersign', KeyType: 'ECC', Curve: 'secp256k1' },
    { CertID: -1 },
    { CertID: 'abc' },
    { Thumbprint: "' OR 1=1 --" },
    { SerialNumber: 'zz', IssuerDN: 'CN=x' },
    { CertID: 1, Password: '' },
    { Id: 'x', Metadata: 1 },
    { Id: 1, TemplateRegexes: [{ SubjectPart: 'CN', Regex: '(' }] },
    { Id: 1, TemplatePolicy: { PrimaryKeyAlgorithms: [{ name: 'DSA' }] } },
    { Id: 1, MinimumRsaKeySize: 1024 },
    { CommonName: '../../etc', ValidityDays: 100000 },
    { Name: 'x', Description: 'y', DataType: 99 },
    { Name: 'x', Description: 'y', DataType: 1, Validation: '(' },
    [1, 'two', null],
    { LogicalName: 'X', CertificatesPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', PrivateKeyPem: 'x' },
    { LogicalName: 'X', Pkcs12: 'AAAA', Password: 'x' },
    { CertificateIds: [2147483648], Reason: 1, Comment: 'x' },
    { CertificateIds: [1], Reason: 2147483648, Comment: 'x' },
    { CertificateIds: [1], Reason: 1, Comment: 'x', EffectiveDate: '99999-01-01T00:00:00Z' },
    { CertificateIds: [1], Reason: 1, Comment: 'x', EffectiveDate: 12 },
    { CertificateIds: [1], Reason: 1, Comment: 'x', CollectionId: 'all' },
    { CertificateIds: Array.from({ length: 1001 }, (_, i) => i + 1), Reason: 1, Comment: 'x' },
    { CertificateIds: [{}], Reason: null, Comment: ['x'] },
  ];

  it('never answers 500', async () => {
    for (const [method, path] of ROUTES) {
      for (const body of bodies()) {
        const res = await t.call(method, path, { body, headers: { 'x-certificateformat': /PFX/.test(path) ? 'PFX' : 'PEM' }, unchecked: true });
        expect(res.status, `${method} ${path} ${JSON.stringify(body).slice(0, 80)}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
        if (res.status >= 400) expect(res.body).toMatchObject({ ErrorCode: expect.any(String), Message: expect.any(String) });
      }
    }
    for (const id of ['abc', '-1', '99999999999999999999', '0x10', '1.5']) {
      for (const p of [
        `/KeyfactorAPI/Certificates/${id}`,
        `/KeyfactorAPI/Certificates/${id}/History`,
        `/KeyfactorAPI/Templates/${id}`,
        `/KeyfactorAPI/CertificateAuthority/${id}`,
        `/KeyfactorAPI/Enrollment/Requests/${id}`,
      ]) {
        const res = await t.call('GET', p, { unchecked: true });
        expect(res.status, `${p}: ${res.text}`).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
    }
    const q = await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=${encodeURIComponent('NotAfter -gt "99999-01-01"')}`, { unchecked: true });
    expect(q.status).toBeLessThan(500);
  }, 120_000);
});
