import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedCa, EmbeddedCa, type CaAlgorithm } from '../../src/ca/embedded-ca.ts';
import { KeyProtectionError, KeyProtector, resolveKeyProtector } from '../../src/ca/key-protection.ts';
import { decodeCsr } from '../../src/certificates/csr.ts';
import { checkPolicy, defaultTemplate } from '../../src/certificates/policy.ts';
import type { Template } from '../../src/certificates/types.ts';
import { toPem } from '../../src/certificates/x509.ts';
import { opensslCsr, opensslText, opensslVerify, tamperedCsr, type KEY_ARGS } from './openssl.ts';

const protector = new KeyProtector(randomBytes(32));
const template: Template = { ...defaultTemplate(), id: 1 };
const loadCa = async (alg: CaAlgorithm) => EmbeddedCa.load({ ...(await createEmbeddedCa(alg, protector)), id: 1 }, protector);

async function issueFor(ca: EmbeddedCa, csrPem: string) {
  const d = await decodeCsr(csrPem);
  const issued = await ca.issue(
    { subject: d.subject, publicKey: d.publicKeyDer, sans: d.sans, validityDays: 30, keyUsage: 128 | 32, extendedKeyUsages: ['1.3.6.1.5.5.7.3.1'] },
    'test',
  );
  return { d, issued, chain: ca.chain().map((c) => toPem(c)) };
}

const policyOf = async (csr: string, t = template) => {
  const d = await decodeCsr(csr);
  return { d, violations: checkPolicy(t, { enrollmentType: 'CSR', key: d.key, subjectParts: d.subjectParts, sans: d.sans, caId: 1, additionalFields: {}, requester: 'alice' }) };
};

describe('embedded CA', () => {
  let ca: EmbeddedCa;
  beforeAll(async () => {
    ca = await loadCa('P-256');
  });

  for (const kind of ['rsa2048', 'rsa3072', 'rsa4096', 'p256', 'p384'] as (keyof typeof KEY_ARGS)[]) {
    it(`issues for an openssl ${kind} CSR a chain openssl verify -x509_strict accepts`, async () => {
      const { csr } = opensslCsr(kind);
      const { d, violations } = await policyOf(csr);
      expect(d.signatureValid).toBe(true);
      expect(violations).toEqual([]);
      const { issued, chain } = await issueFor(ca, csr);
      expect(opensslVerify(toPem(issued.der), chain)).toMatch(/OK/);
      const text = opensslText(toPem(issued.der));
      expect(text).toMatch(/DNS:app.example.com, DNS:www.example.com, IP Address:10.0.0.1/);
      expect(text).toMatch(/CA:FALSE/);
      // 16 random bytes, top bit clear: at least 64 random bits, positive.
      expect(issued.serialNumber.replace(/^0+/, '').length).toBeGreaterThanOrEqual(30);
    });
  }

  it('gives every certificate a different serial number', async () => {
    const { csr } = opensslCsr('p256');
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) serials.add((await issueFor(ca, csr)).issued.serialNumber);
    expect(serials.size).toBe(20);
  });

  for (const alg of ['RSA-3072', 'P-384'] as CaAlgorithm[]) {
    it(`works with a ${alg} CA`, async () => {
      const other = await loadCa(alg);
      const { issued, chain } = await issueFor(other, opensslCsr('p256').csr);
      expect(opensslVerify(toPem(issued.der), chain)).toMatch(/OK/);
      expect(opensslText(chain[1]!)).toMatch(alg === 'P-384' ? /NIST CURVE: P-384/ : /3072 bit/);
    });
  }
});

describe('CSR decoding and template policy', () => {
  it('refuses a CSR whose signature does not verify (no proof of possession)', async () => {
    const d = await decodeCsr(tamperedCsr(opensslCsr('rsa2048').csr));
    expect(d.signatureValid).toBe(false);
  });

  it('refuses a 1024-bit RSA key naming the rule', async () => {
    const { violations } = await policyOf(opensslCsr('rsa1024').csr);
    expect(violations.map((v) => v.rule)).toEqual(['KeySize']);
    expect(violations[0]!.message).toMatch(/at least 2048 bits; this one has 1024/);
  });

  it('refuses Ed25519 unless the template allows it', async () => {
    const { csr } = opensslCsr('ed25519');
    const refused = await policyOf(csr);
    expect(refused.d.key.algorithm).toBe('Ed25519');
    expect(refused.violations.map((v) => v.rule)).toEqual(['KeyType']);
    const allowing = { ...template, policy: { ...template.policy, keyTypes: [...template.policy.keyTypes, 'Ed25519' as const] } };
    expect((await policyOf(csr, allowing)).violations).toEqual([]);
  });

  it('refuses unknown curves', async () => {
    const { violations, d } = await policyOf(opensslCsr('secp256k1').csr);
    expect(d.key.curve).toBe('secp256k1');
    expect(violations.map((v) => v.rule)).toContain('KeyCurve');
  });

  it('enforces SAN types, regexes, wildcards, required fields and CAs', async () => {
    const strict: Template = {
      ...template,
      regexes: [{ subjectPart: 'CN', regex: '^[a-z0-9.-]+\\.corp\\.example$', error: 'CN must be in corp.example', caseSensitive: false }],
      requiredEnrollmentFields: ['Ticket'],
      policy: { ...template.policy, sanTypes: ['dns'], caIds: [7] },
    };
    const { violations } = await policyOf(opensslCsr('p256', '/CN=*.example.com', 'DNS:*.example.com,IP:10.1.1.1').csr, strict);
    expect(violations.map((v) => v.rule).sort()).toEqual(['CertificateAuthority', 'EnrollmentField', 'SANType', 'TemplateRegex', 'Wildcard']);
    expect(violations.find((v) => v.rule === 'TemplateRegex')!.message).toBe('CN must be in corp.example');
  });

  it('refuses text that is not a CSR', async () => {
    await expect(decodeCsr('hello')).rejects.toThrow(/not a valid PKCS#10|not a PEM/);
  });
});

describe('key protection', () => {
  it('seals with AES-256-GCM bound to a label; a wrong key or label does not open', () => {
    const sealed = protector.seal(Buffer.from('secret'), 'ca:X');
    expect(protector.open(sealed, 'ca:X').toString()).toBe('secret');
    expect(() => protector.open(sealed, 'ca:Y')).toThrow(KeyProtectionError);
    expect(() => new KeyProtector(randomBytes(32)).open(sealed, 'ca:X')).toThrow(/does not open/);
  });

  it('generates a key file (mode 600) only for a store without keys, and refuses a store with keys and no key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-key-'));
    const file = join(dir, 'sub', 'ca.key');
    const logs: string[] = [];
    expect(() => resolveKeyProtector({ defaultFile: file }, true, (m) => logs.push(m))).toThrow(/COUNTERSIGN_CA_KEY/);
    const p = resolveKeyProtector({ defaultFile: file }, false, (m) => logs.push(m));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(logs.join()).toContain(file);
    // The same file opens what the first protector sealed.
    const again = resolveKeyProtector({ defaultFile: file }, true, () => {});
    expect(again.open(p.seal(Buffer.from('x'), 'l'), 'l').toString()).toBe('x');
    expect(() => resolveKeyProtector({ key: 'short', defaultFile: file }, true, () => {})).toThrow(/32 random bytes/);
    const missing = join(dir, 'nope.key');
    expect(() => resolveKeyProtector({ keyFile: missing, defaultFile: file }, true, () => {})).toThrow(/does not exist/);
    writeFileSync(join(dir, 'hex.key'), randomBytes(32).toString('hex'));
    expect(resolveKeyProtector({ keyFile: join(dir, 'hex.key'), defaultFile: file }, true, () => {})).toBeInstanceOf(KeyProtector);
  });
});
