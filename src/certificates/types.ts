/** Plain data about certificates, requests and templates: what the pure policy and the wire use. */

/** Keyfactor's SAN flags (the keys of the SANs object in enrollment requests). */
export const SAN_TYPES = [
  'dns',
  'ip',
  'ip4',
  'ip6',
  'uri',
  'rfc822',
  'upn',
  'other',
  'directory',
  'registeredid',
  'x400',
  'ediparty',
  'ms_ntprincipalname',
  'ms_ntdsreplication',
] as const;
export type SanMap = Record<string, string[]>;

export type KeyAlgorithm = 'RSA' | 'ECC' | 'Ed25519' | 'Ed448' | 'Unknown';

export interface PublicKeyInfo {
  algorithm: KeyAlgorithm;
  /** RSA modulus bits, or the curve's size for EC keys. */
  bits: number;
  /** P-256, P-384, P-521 for EC keys; OpenSSL's name for curves we do not issue for. */
  curve: string | null;
}

/** A PKCS#10 request decoded to plain data. */
export interface DecodedCsr {
  subject: string;
  /** Subject attributes by short name (CN, O, OU, C, ST, L, E, ...), in order. */
  subjectParts: Record<string, string[]>;
  commonName: string | null;
  sans: SanMap;
  key: PublicKeyInfo;
  /** SubjectPublicKeyInfo, DER: what the certificate will certify. */
  publicKeyDer: Uint8Array;
  /** Proof of possession: the request's signature verifies with its own public key. */
  signatureValid: boolean;
  signatureAlgorithm: string;
  der: Uint8Array;
}

export interface RegexRule {
  subjectPart: string;
  regex: string;
  error: string | null;
  caseSensitive: boolean;
}

export interface EnrollmentField {
  id: number;
  name: string;
  options: string[];
  /** 1 string, 2 multiple choice. */
  dataType: 1 | 2;
}

/**
 * A template: the policy of what may be issued. Keyfactor's wire fields are kept (KeyUsage as
 * .NET X509KeyUsageFlags, AllowedEnrollmentTypes, KeyRetention) and Countersign's policy beside
 * them (allowed key types, sizes, curves, validity, SAN types, CAs).
 */
export interface Template {
  id: number;
  /** The short name clients send as `Template`. */
  commonName: string;
  displayName: string;
  friendlyName: string | null;
  oid: string;
  /** 0 none, 1 PFX, 2 CSR, 3 CSR and PFX. */
  allowedEnrollmentTypes: number;
  keyRetention: number;
  keyRetentionDays: number | null;
  keyArchival: boolean;
  requiresApproval: boolean;
  /** .NET X509KeyUsageFlags: DigitalSignature 128, KeyEncipherment 32, ... */
  keyUsage: number;
  extendedKeyUsages: { oid: string; displayName: string }[];
  regexes: RegexRule[];
  enrollmentFields: EnrollmentField[];
  /** Names of enrollment fields a request must fill in. */
  requiredEnrollmentFields: string[];
  metadataFields: { metadataId: number; defaultValue: string | null; validation: string | null; message: string | null; enrollment: number; caseSensitive: boolean }[];
  policy: TemplatePolicy;
  useAllowedRequesters: boolean;
  allowedRequesters: string[];
}

export interface TemplatePolicy {
  /** Allowed key algorithms: RSA, ECC, Ed25519. */
  keyTypes: KeyAlgorithm[];
  minRsaBits: number;
  curves: string[];
  validityDays: number;
  /** Keyfactor SAN flags a request may carry. */
  sanTypes: string[];
  allowWildcards: boolean;
  /** Renewal may certify the same public key again (CSR-enrolled certificates); absent: false. */
  allowKeyReuse?: boolean;
  /** CA ids the template may be issued from; empty: every CA. */
  caIds: number[];
  /**
   * enforce (default): a request outside the template is refused. review: when an Enrollment
   * workflow is bound, it goes to the approvers with the broken rules flagged; limits no template
   * can lift (RSA below 2048, unknown curves, ...) are still refused.
   */
  mode?: 'enforce' | 'review';
}

export interface CaSummary {
  id: number;
  logicalName: string;
  hostName: string;
}
