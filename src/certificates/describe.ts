import { nameParts, publicKeyInfo, sansOf } from './csr.ts';
import { bytes, x509 } from './x509.ts';
import type { PublicKeyInfo, SanMap } from './types.ts';

/** What the inventory shows of a certificate, decoded from its DER. */
export interface CertificateFacts {
  subjectParts: Record<string, string[]>;
  sans: SanMap;
  key: PublicKeyInfo;
  extendedKeyUsages: string[];
  /** .NET X509KeyUsageFlags, as Keyfactor reports KeyUsage. */
  keyUsage: number;
  isCa: boolean;
  pathLength: number | null;
  signatureAlgorithm: string;
}

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'Server Authentication',
  '1.3.6.1.5.5.7.3.2': 'Client Authentication',
  '1.3.6.1.5.5.7.3.3': 'Code Signing',
  '1.3.6.1.5.5.7.3.4': 'Secure Email',
  '1.3.6.1.5.5.7.3.8': 'Time Stamping',
  '1.3.6.1.5.5.7.3.9': 'OCSP Signing',
};
export const ekuName = (oid: string): string => EKU_NAMES[oid] ?? oid;

const DOTNET_KU: [number, number][] = [
  [x509.KeyUsageFlags.digitalSignature, 128],
  [x509.KeyUsageFlags.nonRepudiation, 64],
  [x509.KeyUsageFlags.keyEncipherment, 32],
  [x509.KeyUsageFlags.dataEncipherment, 16],
  [x509.KeyUsageFlags.keyAgreement, 8],
  [x509.KeyUsageFlags.keyCertSign, 4],
  [x509.KeyUsageFlags.cRLSign, 2],
  [x509.KeyUsageFlags.encipherOnly, 1],
  [x509.KeyUsageFlags.decipherOnly, 32768],
];

export function describeCertificate(der: Uint8Array): CertificateFacts {
  const cert = new x509.X509Certificate(bytes(der));
  const ku = cert.extensions.find((e): e is x509.KeyUsagesExtension => e instanceof x509.KeyUsagesExtension);
  const eku = cert.extensions.find((e): e is x509.ExtendedKeyUsageExtension => e instanceof x509.ExtendedKeyUsageExtension);
  const bc = cert.extensions.find((e): e is x509.BasicConstraintsExtension => e instanceof x509.BasicConstraintsExtension);
  const san = cert.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
  const alg = cert.signatureAlgorithm as { name?: string; hash?: { name?: string } };
  return {
    subjectParts: nameParts(cert.subjectName),
    sans: sansOf(san ?? null),
    key: publicKeyInfo(cert.publicKey.rawData),
    extendedKeyUsages: (eku?.usages ?? []).map(String),
    keyUsage: DOTNET_KU.reduce((acc, [f, d]) => (ku && ku.usages & f ? acc | d : acc), 0),
    isCa: bc?.ca ?? false,
    pathLength: bc?.pathLength ?? null,
    signatureAlgorithm: `${(alg.hash?.name ?? '').replace('-', '').toLowerCase()}${alg.name === 'ECDSA' ? 'ECDSA' : 'RSA'}`,
  };
}
