import { createPrivateKey, createPublicKey } from 'node:crypto';
import { publicKeyInfo } from '../certificates/csr.ts';
import { readPkcs12 } from '../certificates/pkcs12.ts';
import { bytes, pemBlocks, toPem, x509 } from '../certificates/x509.ts';
import type { CaRecord } from '../store/certificate-store.ts';
import type { KeyProtector } from './key-protection.ts';

/** Why a CA cannot be imported; the message says what to fix. */
export class CaImportError extends Error {}

export interface CaImport {
  logicalName: string;
  hostName: string;
  /** PEM: the CA certificate first, then its issuers up to the root (optional). */
  certificatesPem?: string;
  /** PKCS#8 PEM, encrypted (with `password`) or not. */
  privateKeyPem?: string;
  /** base64 PKCS#12 holding the key and the certificates. */
  pkcs12?: string;
  password?: string;
}

/**
 * An existing CA, imported: its certificate must be a CA certificate allowed to sign certificates,
 * and the key must be its key. The key is sealed like the embedded CA's. Returns the record to store.
 */
export async function importCa(input: CaImport, protector: KeyProtector): Promise<Omit<CaRecord, 'id'>> {
  if (!/^[A-Za-z0-9][\w.-]{0,99}$/.test(input.logicalName)) throw new CaImportError('LogicalName must be 1 to 100 letters, digits, dots, dashes or underscores.');
  if (!/^[A-Za-z0-9][\w.-]{0,252}$/.test(input.hostName)) throw new CaImportError('HostName must be a host name.');
  let pkcs8: Uint8Array;
  let certs: Uint8Array[];
  if (input.pkcs12) {
    let read: Awaited<ReturnType<typeof readPkcs12>>;
    try {
      read = await readPkcs12(new Uint8Array(Buffer.from(input.pkcs12, 'base64')), input.password ?? '');
    } catch (e) {
      throw new CaImportError(`The PKCS#12 could not be read (wrong password?): ${(e as Error).message}`);
    }
    if (!read.pkcs8) throw new CaImportError('The PKCS#12 holds no private key.');
    pkcs8 = read.pkcs8;
    certs = read.certificates;
  } else {
    if (!input.privateKeyPem || !input.certificatesPem) throw new CaImportError('Give CertificatesPem and PrivateKeyPem, or Pkcs12 (base64) with its Password.');
    try {
      const key = createPrivateKey({ key: input.privateKeyPem, passphrase: input.password });
      pkcs8 = new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
    } catch {
      throw new CaImportError('PrivateKeyPem is not a PEM private key (or its Password is wrong).');
    }
    certs = pemBlocks(input.certificatesPem, 'CERTIFICATE').map((b) => new Uint8Array(b));
  }
  if (certs.length === 0) throw new CaImportError('No certificate was given.');
  const parsed = certs.map((d) => new x509.X509Certificate(bytes(d)));
  const keySpki = createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
  // The CA certificate is the one whose public key is the key's; the others are its chain.
  const index = parsed.findIndex((c) => Buffer.from(c.publicKey.rawData).equals(keySpki));
  if (index < 0) throw new CaImportError('The private key does not belong to any of the certificates given.');
  const ca = parsed[index]!;
  const bc = ca.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw new CaImportError('The certificate is not a CA certificate (BasicConstraints cA is not set).');
  const ku = ca.getExtension(x509.KeyUsagesExtension);
  if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) throw new CaImportError('The CA certificate may not sign certificates (KeyUsage lacks keyCertSign).');
  const key = publicKeyInfo(ca.publicKey.rawData);
  if (key.algorithm === 'RSA' ? key.bits < 2048 : !['P-256', 'P-384', 'P-521'].includes(key.curve ?? ''))
    throw new CaImportError(`The CA key (${key.algorithm} ${key.curve ?? key.bits}) is not one Countersign signs with: RSA 2048+ or P-256/P-384/P-521.`);
  if (ca.notAfter.getTime() < Date.now()) throw new CaImportError('The CA certificate has expired.');
  // Chain order: the CA, then each issuer found among the rest.
  const chain = [ca];
  const rest = parsed.filter((_, i) => i !== index);
  for (let cur = ca; cur.subject !== cur.issuer; ) {
    const next = rest.find((c) => c.subject === cur.issuer);
    if (!next) break;
    chain.push(next);
    cur = next;
  }
  return {
    logicalName: input.logicalName,
    hostName: input.hostName,
    chainPem: chain.map((c) => toPem(new Uint8Array(c.rawData))),
    sealedKey: protector.seal(pkcs8, `ca:${input.logicalName}`),
    sealedRootKey: null,
    imported: true,
    createdAt: new Date().toISOString(),
    connector: 'embedded',
    config: null,
  };
}
