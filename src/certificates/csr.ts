import { createPublicKey } from 'node:crypto';
import { bytes, pemBlocks, x509 } from './x509.ts';
import type { DecodedCsr, PublicKeyInfo, SanMap } from './types.ts';

/** Why a CSR could not be read at all (not a policy refusal). */
export class CsrError extends Error {}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};

/** Reads the CSR as clients send it: PEM (with or without NEW), bare base64, or DER bytes. */
export function csrDer(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') return input;
  const text = input.trim();
  const blocks = [...pemBlocks(text, 'CERTIFICATE REQUEST'), ...pemBlocks(text, 'NEW CERTIFICATE REQUEST')];
  if (blocks.length > 1) throw new CsrError('The CSR holds more than one request; send exactly one.');
  if (blocks.length === 1) return new Uint8Array(blocks[0]!);
  if (/^[A-Za-z0-9+/=\s]+$/.test(text) && text.length > 0) return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'base64'));
  throw new CsrError('The CSR is not a PEM "CERTIFICATE REQUEST" block nor base64 DER.');
}

export function publicKeyInfo(spkiDer: ArrayBuffer | Uint8Array): PublicKeyInfo {
  const key = createPublicKey({ key: Buffer.from(spkiDer instanceof Uint8Array ? spkiDer : new Uint8Array(spkiDer)), format: 'der', type: 'spki' });
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { algorithm: 'RSA', bits: d.modulusLength ?? 0, curve: null };
    case 'ec': {
      const c = CURVES[d.namedCurve ?? ''];
      return { algorithm: 'ECC', bits: c?.bits ?? 0, curve: c?.name ?? d.namedCurve ?? 'unknown' };
    }
    case 'ed25519':
      return { algorithm: 'Ed25519', bits: 256, curve: null };
    case 'ed448':
      return { algorithm: 'Ed448', bits: 456, curve: null };
    default:
      return { algorithm: 'Unknown', bits: 0, curve: key.asymmetricKeyType ?? null };
  }
}

/** Keyfactor's SAN flag for each general-name type of @peculiar/x509. */
const SAN_FLAG: Record<string, string> = { dns: 'dns', ip: 'ip', url: 'uri', email: 'rfc822', upn: 'ms_ntprincipalname', dn: 'directory', id: 'registeredid', guid: 'other' };

export function sansOf(ext: x509.SubjectAlternativeNameExtension | null): SanMap {
  const out: SanMap = {};
  for (const n of ext?.names.items ?? []) {
    const flag = SAN_FLAG[n.type] ?? 'other';
    const values = out[flag] ?? [];
    out[flag] = values;
    values.push(n.value);
  }
  return out;
}

export function nameParts(name: x509.Name): Record<string, string[]> {
  const parts: Record<string, string[]> = {};
  for (const rdn of name.toJSON()) {
    for (const [k, values] of Object.entries(rdn)) parts[k] = [...(parts[k] ?? []), ...values];
  }
  return parts;
}

/** Decodes a PKCS#10 request and checks its signature (proof of possession). */
export async function decodeCsr(input: string | Uint8Array): Promise<DecodedCsr> {
  const der = csrDer(input);
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(bytes(der));
  } catch (e) {
    throw new CsrError(`The CSR is not a valid PKCS#10 request: ${(e as Error).message}`);
  }
  let key: PublicKeyInfo;
  try {
    key = publicKeyInfo(csr.publicKey.rawData);
  } catch {
    key = { algorithm: 'Unknown', bits: 0, curve: null };
  }
  let signatureValid = false;
  try {
    signatureValid = await csr.verify();
  } catch {
    // An algorithm WebCrypto cannot verify (an unusual curve): no proof of possession.
    signatureValid = false;
  }
  const subjectParts = nameParts(csr.subjectName);
  return {
    subject: csr.subject,
    subjectParts,
    commonName: subjectParts.CN?.[0] ?? null,
    sans: sansOf(csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension) ?? null),
    key,
    publicKeyDer: new Uint8Array(csr.publicKey.rawData),
    signatureValid,
    signatureAlgorithm: signatureName(csr.signatureAlgorithm),
    der,
  };
}

function signatureName(alg: unknown): string {
  const a = alg as { name?: string; hash?: { name?: string } } | undefined;
  return [a?.hash?.name, a?.name].filter(Boolean).join(' with ') || 'unknown';
}
