import type { SanMap } from '../certificates/types.ts';
import type { x509 } from '../certificates/x509.ts';

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
  /**
   * The requester's own CSR (PEM) when the request came as one: an external CA that signs only
   * what the key holder signed (ACME) sends it; the embedded CA builds from the fields above.
   */
  csrPem?: string | null;
  /**
   * The request's private key (PKCS#8) when Countersign generated it (PFX enrollment) and there is
   * no CSR: a connector that must send a CSR signs one with it, and keeps nothing.
   */
  keyForCsr?: Uint8Array | null;
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
  /** The issuing chain the CA answered with (without the leaf), when it has its own (external CAs). */
  chain?: Uint8Array[];
}

/**
 * The CA refused the request for good (an ACME problem document, an invalid order, a request it
 * cannot serve): trying again will not help, so the step fails with this message. Any other error
 * of `issue` is taken as the CA being unavailable, and retried.
 */
export class CaRefusal extends Error {}

/**
 * A certificate authority Countersign issues through. `issue` may be called more than once for
 * one request (a retry after a crash); callers record the result keyed by the request id, and a
 * connector to an external CA passes `idempotencyKey` on so the CA can de-duplicate. Renewal
 * comes later.
 */
export interface CaConnector {
  readonly id: number;
  readonly logicalName: string;
  readonly hostName: string;
  /** The issuing CA's certificate first, up to the root: DER. */
  chain(): Uint8Array[];
  issue(request: IssueRequest, idempotencyKey: string): Promise<IssuedCertificate>;
  /**
   * Forwards a revocation to a CA that keeps its own revocation status (external CAs, e.g. ACME):
   * `certificate` DER, `reason` the RFC 5280 CRLReason code. Absent for the embedded CA, whose
   * revocation is local (its CRL and OCSP answers). Throws CaRefusal when the CA refuses.
   */
  revoke?(certificate: Uint8Array, reason: number): Promise<void>;
  /**
   * How a CA that signs here (the embedded and imported CAs) signs; absent for external CAs. CRL
   * and OCSP signing take it from here, so keys in a PKCS#11 token sign those too.
   */
  signer?(): CaSigner;
  /** What the CA shows about itself in the wire's `Properties` (no secrets); default `{Embedded: true}`. */
  properties?(): Record<string, unknown>;
}

/**
 * How a CA signs: its private key, the WebCrypto provider that holds it (Node's for keys from the
 * store, the token's for keys in a PKCS#11 token) and the signature algorithm. Everything a CA
 * signs (certificates, CRLs, OCSP responses) goes through this, e.g.
 * `X509CertificateGenerator.create({..., signingKey: s.key, signingAlgorithm: s.algorithm}, s.crypto)`.
 */
export interface CaSigner {
  key: CryptoKey;
  crypto: Crypto;
  algorithm: Algorithm;
  /** The issuing CA certificate whose key this is. */
  certificate: x509.X509Certificate;
}
