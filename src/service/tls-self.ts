import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { CaConnector } from '../ca/connector.ts';
import { toPem } from '../certificates/x509.ts';

/** .NET X509KeyUsageFlags: DigitalSignature. */
const DIGITAL_SIGNATURE = 128;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const SELF_TLS_VALIDITY_DAYS = 30;

export interface ServerCredentials {
  key: string;
  /** Leaf then the CA chain, PEM. */
  cert: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * COUNTERSIGN_TLS=self: a TLS server certificate for HOST and COUNTERSIGN_TLS_NAMES, signed by
 * the server's own CA with a fresh P-256 key (kept in memory only; each node has its own).
 */
export async function issueServerCredentials(ca: CaConnector, names: string[]): Promise<ServerCredentials> {
  const unique = [...new Set(names.map((n) => n.trim().toLowerCase()).filter((n) => n !== '' && n !== '0.0.0.0' && n !== '::'))];
  if (unique.length === 0) unique.push('localhost');
  const dns = unique.filter((n) => !isIP(n));
  const ip = unique.filter((n) => isIP(n));
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issued = await ca.issue(
    {
      subject: `CN=${unique[0]}`,
      publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
      sans: { ...(dns.length ? { dns } : {}), ...(ip.length ? { ip } : {}) },
      validityDays: SELF_TLS_VALIDITY_DAYS,
      keyUsage: DIGITAL_SIGNATURE,
      extendedKeyUsages: [SERVER_AUTH],
    },
    `tls-self:${Date.now()}`,
  );
  const x = new X509Certificate(Buffer.from(issued.der));
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: [issued.der, ...ca.chain()].map((d) => toPem(d)).join(''),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
  };
}

/** Renew once two thirds of the lifetime have passed. */
export const renewalDue = (c: Pick<ServerCredentials, 'notBefore' | 'notAfter'>, now: Date): boolean =>
  now.getTime() >= c.notBefore.getTime() + ((c.notAfter.getTime() - c.notBefore.getTime()) * 2) / 3;
