import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/server.ts';
import { opensslCsr, opensslVerify, tmp } from './openssl.ts';

/** An operator's own CA, made by openssl: a root and its key (PEM), and the same as PKCS#12. */
function opensslCa(keyArgs: string[], cn: string) {
  const dir = tmp();
  const ext = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  execFileSync(
    'openssl',
    ['req', '-x509', '-new', ...keyArgs, '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-days', '365', '-subj', `/CN=${cn}`, ...ext],
    { stdio: 'pipe' },
  );
  execFileSync('openssl', ['pkcs12', '-export', '-inkey', join(dir, 'ca.key'), '-in', join(dir, 'ca.pem'), '-out', join(dir, 'ca.p12'), '-passout', 'pass:p12-pass'], {
    stdio: 'pipe',
  });
  return { cert: readFileSync(join(dir, 'ca.pem'), 'utf8'), key: readFileSync(join(dir, 'ca.key'), 'utf8'), p12: readFileSync(join(dir, 'ca.p12')).toString('base64') };
}

describe('importing an existing CA', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  const enrollWith = async (ca: string) => {
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      headers: { 'x-certificateformat': 'PEM' },
      body: { CSR: opensslCsr('p256').csr, Template: 'Countersign', CertificateAuthority: ca, IncludeChain: true },
    });
    expect(res.status, res.text).toBe(200);
    return res.body.CertificateInformation.Certificates as string[];
  };

  it('imports a P-384 CA from PEM and issues from it a chain openssl verifies', async () => {
    const own = opensslCa(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], 'Operator Root P384');
    const res = await t.call('POST', '/KeyfactorAPI/CertificateAuthority/Import', {
      body: { LogicalName: 'OperatorCA', HostName: 'pki.example.com', CertificatesPem: own.cert, PrivateKeyPem: own.key },
      unchecked: true,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ LogicalName: 'OperatorCA', HostName: 'pki.example.com' });
    const certs = await enrollWith('pki.example.com\\OperatorCA');
    expect(certs).toHaveLength(2);
    expect(opensslVerify(certs[0]!, [own.cert])).toMatch(/OK/);
    expect((await t.call('GET', '/KeyfactorAPI/CertificateAuthority')).body.map((c: { LogicalName: string }) => c.LogicalName)).toContain('OperatorCA');
    const again = await t.call('POST', '/KeyfactorAPI/CertificateAuthority/Import', {
      body: { LogicalName: 'OperatorCA', CertificatesPem: own.cert, PrivateKeyPem: own.key },
      unchecked: true,
    });
    expect(again.status).toBe(409);
  });

  it('imports an RSA CA from PKCS#12', async () => {
    const own = opensslCa(['-newkey', 'rsa:3072'], 'Operator Root RSA');
    const wrong = await t.call('POST', '/KeyfactorAPI/CertificateAuthority/Import', { body: { LogicalName: 'RsaCA', Pkcs12: own.p12, Password: 'nope' }, unchecked: true });
    expect(wrong.status).toBe(400);
    const res = await t.call('POST', '/KeyfactorAPI/CertificateAuthority/Import', { body: { LogicalName: 'RsaCA', Pkcs12: own.p12, Password: 'p12-pass' }, unchecked: true });
    expect(res.status, res.text).toBe(200);
    const certs = await enrollWith('RsaCA');
    expect(opensslVerify(certs[0]!, [own.cert])).toMatch(/OK/);
  });

  it('refuses a key that is not the certificate’s, and a certificate that is not a CA', async () => {
    const a = opensslCa(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'A');
    const b = opensslCa(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'B');
    const mismatch = await t.call('POST', '/KeyfactorAPI/CertificateAuthority/Import', {
      body: { LogicalName: 'Mismatch', CertificatesPem: a.cert, PrivateKeyPem: b.key },
      unchecked: true,
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.Message).toMatch(/does not belong/);
    const leaf = opensslCsr('p256');
    const dir = tmp();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'k.pem'), leaf.key);
    execFileSync(
      'openssl',
      ['req', '-x509', '-new', '-key', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-subj', '/CN=not-a-ca', '-addext', 'basicConstraints=critical,CA:FALSE'],
      { stdio: 'pipe' },
    );
    const notCa = await t.call('POST', '/KeyfactorAPI/CertificateAuthority/Import', {
      body: { LogicalName: 'NotCA', CertificatesPem: readFileSync(join(dir, 'c.pem'), 'utf8'), PrivateKeyPem: leaf.key },
      unchecked: true,
    });
    expect(notCa.status).toBe(400);
    expect(notCa.body.Message).toMatch(/not a CA certificate/);
  });
});
