import type { SanMap } from '../certificates/types.ts';

/** What a CA is asked to sign: the subject and key from the request, the profile from the template. */
export interface IssueRequest {
  subject: string;
  /** SubjectPublicKeyInfo, DER. */
  publicKey: Uint8Array;
  sans: SanMap;
  validityDays: number;
  /** .NET X509KeyUsageFlags from the template. */
  keyUsage: number;
  extendedKeyUsages: string[];
}

export interface IssuedCertificate {
  der: Uint8Array;
  /** Upper-case hex, as Keyfactor shows serial numbers. */
  serialNumber: string;
  thumbprint: string;
  subjectDn: string;
  issuerDn: string;
  notBefore: string;
  notAfter: string;
  signingAlgorithm: string;
}

/**
 * A certificate authority Countersign issues through. `issue` may be called more than once for
 * one request (a retry after a crash); callers record the result keyed by the request id, and a
 * connector to an external CA passes `idempotencyKey` on so the CA can de-duplicate. Revoke and
 * renew come later.
 */
export interface CaConnector {
  readonly id: number;
  readonly logicalName: string;
  readonly hostName: string;
  /** The issuing CA's certificate first, up to the root: DER. */
  chain(): Uint8Array[];
  issue(request: IssueRequest, idempotencyKey: string): Promise<IssuedCertificate>;
}
