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
   * A CA whose revocation status Countersign publishes itself (CRL and OCSP): the embedded CA.
   * Absent for a CA that publishes its own.
   */
  readonly publisher?: RevocationSigner;
  /**
   * Forwards a revocation (hold, release) to a CA that keeps its own revocation status (external
   * CAs, e.g. ACME); absent when Countersign's record is all (the embedded CA publishes its own CRL
   * and OCSP). Throws CaRefusal when the CA refuses.
   */
  revoke?(certificate: { der: Uint8Array; serialNumber: string }, reason: number | 'release'): Promise<void>;
  /**
   * How a CA that signs here (the embedded and imported CAs) signs; absent for external CAs. CRL
   * and OCSP signing take it from here, so keys in a PKCS#11 token sign those too.
   */
  signer?(): CaSigner;
  /** What the CA shows about itself in the wire's `Properties` (no secrets); default `{Embedded: true}`. */
  properties?(): Record<string, unknown>;
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
