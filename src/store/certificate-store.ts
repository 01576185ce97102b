import type { BoundAst } from '../domain/query/index.ts';
import type { JsonObject } from '../domain/types.ts';
import type { Template } from '../certificates/types.ts';
import type { RevocationState } from '../certificates/revocation.ts';

/**
 * The certificate side's persistence port: CAs, templates, metadata fields, enrollment requests,
 * issued certificates and their history. Implemented for SQLite and PostgreSQL; nothing outside
 * src/store knows which.
 */
export interface CertificateStore {
  // Certificate authorities: the embedded CA's certificates and sealed keys, shared by every node.
  listCas(): Promise<CaRecord[]>;
  /** Inserts unless a CA of that logical name exists; returns the stored one (first writer wins). */
  insertCaIfAbsent(ca: Omit<CaRecord, 'id'>): Promise<CaRecord>;
  /** Replaces a CA's chain (an external CA answered with another issuing chain); false for an unknown id. */
  updateCaChain(id: number, chainPem: string[]): Promise<boolean>;

  /** http-01 answers of ACME orders in progress (any node serves them); putting one also drops expired ones. */
  putAcmeChallenge(token: string, keyAuthorization: string, expiresAt: string): Promise<void>;
  /** The answer for a token, unless it has expired at `now`. */
  getAcmeChallenge(token: string, now: string): Promise<string | null>;
  deleteAcmeChallenge(token: string): Promise<void>;
  /** The URL of the ACME order a CA placed for an idempotency key (a request), if any. */
  getAcmeOrder(caId: number, idempotencyKey: string): Promise<string | null>;
  /** Records it; an existing one for that key is replaced (its order had become unusable). */
  putAcmeOrder(caId: number, idempotencyKey: string, orderUrl: string, createdAt: string): Promise<void>;

  listTemplates(): Promise<Template[]>;
  getTemplate(id: number): Promise<Template | null>;
  /** Throws Conflict when the short name is taken. */
  insertTemplate(t: Omit<Template, 'id'>): Promise<Template>;
  /** Inserts when no template exists yet (a fresh store's default); returns whether it did. */
  insertTemplateIfNone(t: Omit<Template, 'id'>): Promise<boolean>;
  updateTemplate(t: Template): Promise<Template | null>;
  deleteTemplate(id: number): Promise<boolean>;

  listMetadataFields(): Promise<MetadataField[]>;
  /** Throws Conflict when the name is taken. */
  insertMetadataField(f: Omit<MetadataField, 'id'>): Promise<MetadataField>;
  updateMetadataField(f: MetadataField): Promise<MetadataField | null>;
  deleteMetadataField(id: number): Promise<boolean>;

  createRequest(r: NewRequest): Promise<RequestRecord>;
  getRequest(id: number): Promise<RequestRecord | null>;
  setRequestInstance(id: number, instanceId: string): Promise<void>;
  /** Drops the generated private key of a request (after issuance). */
  clearRequestKey(id: number): Promise<void>;

  /**
   * Records the certificate issued for a request, once: a second call for the same request id
   * (a retry after a crash, another node) stores nothing and returns the first one.
   */
  recordIssued(c: NewCertificate): Promise<{ certificate: CertificateRecord; created: boolean }>;
  getCertificate(id: number): Promise<CertificateRecord | null>;
  findCertificateByRequest(requestId: number): Promise<CertificateRecord | null>;
  findCertificate(by: { thumbprint: string } | { serialNumber: string; issuerDn: string }): Promise<CertificateRecord | null>;
  queryCertificates(q: CertificateQuery): Promise<CertificateRecord[]>;
  deleteCertificate(id: number): Promise<boolean>;
  updateCertificateMetadata(id: number, metadata: Record<string, string>): Promise<boolean>;
  clearCertificateKey(id: number): Promise<void>;
  addCertificateHistory(certificateId: number, e: Omit<CertificateHistoryEntry, 'id'>): Promise<void>;
  listCertificateHistory(certificateId: number): Promise<CertificateHistoryEntry[]>;

  // Revocation ------------------------------------------------------------------------------------
  /**
   * Changes a certificate's revocation under the store's lock: `decide` (pure, synchronous) sees
   * the stored state and returns the next one, or throws to change nothing. A change also adds
   * the history entry and raises its CA's revocation revision, in the same transaction. Returns
   * null when no certificate has that id.
   */
  reviseRevocation(
    certificateId: number,
    decide: (current: RevocationState | null, certificate: CertificateRecord) => RevocationState | null,
    history: Omit<CertificateHistoryEntry, 'id'>,
  ): Promise<{ certificate: CertificateRecord; changed: boolean } | null>;
  /** The certificates of a CA that are revoked or on hold: what its CRL lists. */
  listRevoked(caId: number): Promise<RevokedEntry[]>;
  /** A certificate by its CA and serial number (upper-case hex, no leading zero octets stripped). */
  findBySerial(caId: number, serialNumber: string): Promise<CertificateRecord | null>;
  /** The CA's revocation revision (0 before its first revocation) and its last CRL. */
  revocationState(caId: number): Promise<CaRevocationState>;
  /**
   * Stores a CRL when its number is above the stored one (first writer wins between nodes);
   * returns whether it was stored.
   */
  saveCrl(caId: number, crl: StoredCrl): Promise<boolean>;
}

export interface RevokedEntry {
  certificateId: number;
  serialNumber: string;
  reason: number;
  effectiveDate: string;
}

export interface StoredCrl {
  number: number;
  /** The CA's revision the CRL reflects. */
  revision: number;
  thisUpdate: string;
  nextUpdate: string;
  der: Uint8Array;
}

export interface CaRevocationState {
  revision: number;
  crl: StoredCrl | null;
}

export interface CaRecord {
  id: number;
  logicalName: string;
  hostName: string;
  /** Issuing CA certificate first, root last: PEM. */
  chainPem: string[];
  /** PKCS#8 of the issuing key, sealed (key-protection.ts). */
  sealedKey: string;
  /** The root's key when Countersign made the root (kept sealed for re-issuing the issuing CA later). */
  sealedRootKey: string | null;
  imported: boolean;
  createdAt: string;
  /**
   * Which connector serves this CA: 'embedded' signs here (key sealed in `sealedKey`, or held in a
   * PKCS#11 token when `config.pkcs11` is set), 'acme' forwards to an external ACME CA (its
   * account key sealed in `sealedKey`). Records written before migration 0009 are 'embedded'.
   */
  connector: CaConnectorKind;
  /** The connector's settings (no secrets): see src/ca/acme-upstream and src/ca/pkcs11. */
  config: Record<string, unknown> | null;
}

export type CaConnectorKind = 'embedded' | 'acme';

export interface MetadataField {
  id: number;
  name: string;
  description: string;
  /** 1 string, 2 integer, 3 date, 4 boolean, 5 multiple choice, 6 big text, 7 email. */
  dataType: number;
  hint: string | null;
  validation: string | null;
  enrollment: number;
  message: string | null;
  options: string | null;
  defaultValue: string | null;
  displayOrder: number | null;
  caseSensitive: boolean;
}

export interface NewRequest {
  kind: 'CSR' | 'PFX';
  requesterId: number;
  requesterName: string;
  templateId: number;
  caId: number;
  /** What was asked, decoded: kept for approvers, the EnrollStep and the answer. */
  data: JsonObject;
  /** The server-generated key of a PFX request, sealed; null for CSR requests. */
  sealedKey: string | null;
  createdAt: string;
}

export interface RequestRecord extends NewRequest {
  id: number;
  instanceId: string | null;
}

export interface NewCertificate {
  requestId: number | null;
  thumbprint: string;
  serialNumber: string;
  issuerDn: string;
  issuedDn: string;
  issuedCn: string | null;
  notBefore: string;
  notAfter: string;
  importDate: string;
  templateId: number | null;
  caId: number | null;
  requesterId: number | null;
  requesterName: string | null;
  keyType: string;
  keySize: number;
  der: Uint8Array;
  metadata: Record<string, string>;
  /** PKCS#8, sealed with the label `certificate-key:<requestId>`; null when not retained. */
  sealedKey: string | null;
}

export interface CertificateRecord extends NewCertificate {
  id: number;
  /** Revoked or on hold; null (or absent, for records built before a read) when neither. */
  revocation?: RevocationState | null;
}

export interface CertificateHistoryEntry {
  id: number;
  at: string;
  username: string | null;
  action: string;
  comment: string | null;
}

export interface CertificateQuery {
  filter: BoundAst | null;
  limit: number;
  offset: number;
  sortColumn: string;
  ascending: boolean;
  /** Only certificates requested by this identity. */
  requesterId?: number;
  includeExpired: boolean;
  /** Revoked certificates (and those on hold) are left out unless true. */
  includeRevoked?: boolean;
  now: string;
}
