import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Real openssl, for CSRs clients make and for checking what Countersign issues. */
export const tmp = (): string => mkdtempSync(join(tmpdir(), 'countersign-ca-'));

export const KEY_ARGS = {
  rsa1024: ['-newkey', 'rsa:1024'],
  rsa2048: ['-newkey', 'rsa:2048'],
  rsa3072: ['-newkey', 'rsa:3072'],
  rsa4096: ['-newkey', 'rsa:4096'],
  p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  secp256k1: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  ed25519: ['-newkey', 'ed25519'],
} as const;

export function opensslCsr(
  kind: keyof typeof KEY_ARGS,
  subject = '/CN=app.example.com/O=Example',
  sans = 'DNS:app.example.com,DNS:www.example.com,IP:10.0.0.1',
): { csr: string; key: string } {
  const dir = tmp();
  const args = ['req', '-new', ...KEY_ARGS[kind], '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'r.csr'), '-subj', subject];
  if (sans) args.push('-addext', `subjectAltName=${sans}`);
  execFileSync('openssl', args, { stdio: 'pipe' });
  return { csr: readFileSync(join(dir, 'r.csr'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') };
}

/** A CSR whose signature does not verify: one bit of the signature flipped. */
export function tamperedCsr(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5] ^= 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** `openssl verify -x509_strict`: root as trust anchor, intermediates untrusted. Returns stdout or throws with stderr. */
export function opensslVerify(leafPem: string, chainPems: string[]): string {
  const dir = tmp();
  const root = chainPems[chainPems.length - 1]!;
  const intermediates = chainPems.slice(0, -1).join('');
  writeFileSync(join(dir, 'root.pem'), root);
  writeFileSync(join(dir, 'int.pem'), intermediates);
  writeFileSync(join(dir, 'leaf.pem'), leafPem);
  const args = ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', join(dir, 'root.pem')];
  if (intermediates) args.push('-untrusted', join(dir, 'int.pem'));
  args.push(join(dir, 'leaf.pem'));
  try {
    return execFileSync('openssl', args, { stdio: 'pipe' }).toString();
  } catch (e) {
    throw new Error(`openssl verify failed: ${(e as { stderr?: Buffer; stdout?: Buffer }).stderr?.toString()}${(e as { stdout?: Buffer }).stdout?.toString()}`);
  }
}

export function opensslText(pem: string): string {
  const dir = tmp();
  writeFileSync(join(dir, 'c.pem'), pem);
  return execFileSync('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'c.pem')], { stdio: 'pipe' }).toString();
}

/** Opens a PKCS#12 with openssl; returns the PEM output (key and certificates). */
export function opensslPkcs12(p12: Buffer, password: string): string {
  const dir = tmp();
  writeFileSync(join(dir, 'f.p12'), p12);
  return execFileSync('openssl', ['pkcs12', '-in', join(dir, 'f.p12'), '-passin', `pass:${password}`, '-nodes'], { stdio: 'pipe' }).toString();
}
