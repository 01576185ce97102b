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
  /**
   * A CA whose revocation status Countersign publishes itself (CRL and OCSP): the embedded CA.
   * Absent for a CA that publishes its own.
   */
  readonly publisher?: RevocationSigner;
  /** Tells an external CA about a revocation (hold, release); absent when Countersign's record is all. */
  revoke?(certificate: { der: Uint8Array; serialNumber: string }, reason: number | 'release'): Promise<void>;
}

/** One CRL's content (RFC 5280 5.1): the CA signs it with its own key. */
export interface CrlContent {
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: { serialNumber: string; revocationDate: Date; reason: number }[];
}

/**
 * What publishing revocation status needs the CA's key for. Both go through the CA's one
 * signing path, so a CA key held elsewhere (an HSM) signs these too.
 */
export interface RevocationSigner {
  /** A CRL, DER. */
  signCrl(crl: CrlContent): Promise<Uint8Array>;
  /** A delegated OCSP responder certificate (RFC 6960 4.2.2.2: id-kp-OCSPSigning, id-pkix-ocsp-nocheck) for this key, DER. */
  issueOcspResponder(publicKey: CryptoKey, notBefore: Date, notAfter: Date): Promise<Uint8Array>;
}
