import type { Template } from '../certificates/types.ts';
import type { RevocationState } from '../certificates/revocation.ts';
import { CountersignError } from '../domain/errors.ts';
import type {
  CaRecord,
  CaRevocationState,
  CertificateHistoryEntry,
  CertificateRecord,
  MetadataField,
  NewCertificate,
  NewRequest,
  RequestRecord,
  RevokedEntry,
  StoredCrl,
} from './certificate-store.ts';
import { bool, iso, json, nullableNumber as num, type Row } from './row-values.ts';

/*
 * Row <-> record mapping of certificates, requests, templates and CAs, shared by both stores
 * (SQLite keeps JSON as text, PostgreSQL as jsonb; row-values.ts reads either). SQL stays in the stores.
 */

export const toCa = (r: Row): CaRecord => ({
  id: Number(r.id),
  logicalName: r.logical_name,
  hostName: r.host_name,
  chainPem: json<string[]>(r.chain_pem),
  sealedKey: r.sealed_key,
  sealedRootKey: r.sealed_root_key ?? null,
  imported: bool(r.imported),
  createdAt: iso(r.created_at),
  connector: r.connector === 'acme' ? 'acme' : 'embedded',
  config: r.config == null ? null : json<Record<string, unknown>>(r.config),
});

/** Column order for inserting a CA. */
export const CA_COLUMNS = ['logical_name', 'host_name', 'chain_pem', 'sealed_key', 'sealed_root_key', 'imported', 'created_at', 'connector', 'config'] as const;

/** `imported` is the store's boolean (SQLite 0/1, PostgreSQL boolean). */
export const caValues = (ca: Omit<CaRecord, 'id'>, imported: unknown): unknown[] => [
  ca.logicalName,
  ca.hostName,
  JSON.stringify(ca.chainPem),
  ca.sealedKey,
  ca.sealedRootKey,
  imported,
  ca.createdAt,
  ca.connector,
  ca.config === null ? null : JSON.stringify(ca.config),
];

export const templateTaken = (commonName: string) => new CountersignError('Conflict', `A template named '${commonName}' exists already.`);
export const metadataFieldTaken = (name: string) => new CountersignError('Conflict', `A metadata field named '${name}' exists already.`);

export const toTemplate = (r: Row): Template => ({ ...json<Omit<Template, 'id'>>(r.body), id: Number(r.id) });
export const templateBody = (t: Omit<Template, 'id'> & { id?: number }): string => {
  const { id: _id, ...rest } = t;
  return JSON.stringify(rest);
};

export const toMetadataField = (r: Row): MetadataField => ({ ...json<Omit<MetadataField, 'id'>>(r.body), id: Number(r.id) });
export const metadataFieldBody = (f: Omit<MetadataField, 'id'> & { id?: number }): string => {
  const { id: _id, ...rest } = f;
  return JSON.stringify(rest);
};

export const toRequest = (r: Row): RequestRecord => ({
  id: Number(r.id),
  kind: r.kind,
  requesterId: Number(r.requester_id),
  requesterName: r.requester_name,
  templateId: Number(r.template_id),
  caId: Number(r.ca_id),
  instanceId: r.instance_id ?? null,
  data: json(r.data),
  sealedKey: r.sealed_key ?? null,
  createdAt: iso(r.created_at),
});

/** Column order for inserting a request. */
export const REQUEST_COLUMNS = ['kind', 'requester_id', 'requester_name', 'template_id', 'ca_id', 'data', 'sealed_key', 'created_at'] as const;
export const requestValues = (r: NewRequest): unknown[] => [r.kind, r.requesterId, r.requesterName, r.templateId, r.caId, JSON.stringify(r.data), r.sealedKey, r.createdAt];
/** The record of a request just inserted (no workflow instance yet). */
export const insertedRequest = (r: NewRequest, id: number): RequestRecord => ({ ...r, id, instanceId: null });

export const toCertificate = (r: Row): CertificateRecord => ({
  id: Number(r.id),
  requestId: num(r.request_id),
  thumbprint: r.thumbprint,
  serialNumber: r.serial_number,
  issuerDn: r.issuer_dn,
  issuedDn: r.issued_dn,
  issuedCn: r.issued_cn ?? null,
  notBefore: iso(r.not_before),
  notAfter: iso(r.not_after),
  importDate: iso(r.import_date),
  templateId: num(r.template_id),
  caId: num(r.ca_id),
  requesterId: num(r.requester_id),
  requesterName: r.requester_name ?? null,
  keyType: r.key_type,
  keySize: Number(r.key_size),
  der: new Uint8Array(r.der),
  metadata: json(r.metadata),
  sealedKey: r.sealed_key ?? null,
  revocation:
    r.revocation_reason === null || r.revocation_reason === undefined
      ? null
      : { reason: Number(r.revocation_reason), effectiveDate: iso(r.revocation_date), comment: r.revocation_comment ?? null },
});

/** The record of a certificate just inserted (not revoked). */
export const insertedCertificate = (c: NewCertificate, id: number): CertificateRecord => ({ ...c, id, revocation: null });

/** Values of revocation_reason, revocation_date, revocation_comment (all null: not revoked). */
export const revocationValues = (next: RevocationState | null): unknown[] => [next?.reason ?? null, next?.effectiveDate ?? null, next?.comment ?? null];

export const toRevokedEntry = (r: Row): RevokedEntry => ({
  certificateId: Number(r.id),
  serialNumber: r.serial_number,
  reason: Number(r.revocation_reason),
  effectiveDate: iso(r.revocation_date),
});

export const toStoredCrl = (r: Row): StoredCrl | null =>
  r.crl_der === null || r.crl_der === undefined
    ? null
    : {
        number: Number(r.crl_number),
        revision: Number(r.crl_revision),
        thisUpdate: iso(r.crl_this_update),
        nextUpdate: iso(r.crl_next_update),
        der: new Uint8Array(r.crl_der),
      };

/** A CA's ca_revocation_state row; no row yet: revision 0, no CRL. */
export const toRevocationState = (r: Row | undefined): CaRevocationState => (r ? { revision: Number(r.revision), crl: toStoredCrl(r) } : { revision: 0, crl: null });

/** Values of crl_number, crl_revision, crl_this_update, crl_next_update, crl_der. */
export const crlValues = (crl: StoredCrl): unknown[] => [crl.number, crl.revision, crl.thisUpdate, crl.nextUpdate, Buffer.from(crl.der)];

export const toHistory = (r: Row): CertificateHistoryEntry => ({ id: Number(r.id), at: iso(r.at), username: r.username ?? null, action: r.action, comment: r.comment ?? null });

/** Values of certificate_history (certificate_id, at, username, action, comment). */
export const historyValues = (certificateId: number, e: Omit<CertificateHistoryEntry, 'id'>): unknown[] => [certificateId, e.at, e.username, e.action, e.comment];

/** Column order for inserting a certificate. */
export const CERT_COLUMNS = [
  'request_id',
  'thumbprint',
  'serial_number',
  'issuer_dn',
  'issued_dn',
  'issued_cn',
  'not_before',
  'not_after',
  'import_date',
  'template_id',
  'ca_id',
  'requester_id',
  'requester_name',
  'key_type',
  'key_size',
  'der',
  'metadata',
  'sealed_key',
] as const;

/** Values in CERT_COLUMNS order; the DER as a Buffer, which both drivers bind as a blob/bytea. */
export function certificateValues(c: NewCertificate): unknown[] {
  return [
    c.requestId,
    c.thumbprint,
    c.serialNumber,
    c.issuerDn,
    c.issuedDn,
    c.issuedCn,
    c.notBefore,
    c.notAfter,
    c.importDate,
    c.templateId,
    c.caId,
    c.requesterId,
    c.requesterName,
    c.keyType,
    c.keySize,
    Buffer.from(c.der),
    JSON.stringify(c.metadata),
    c.sealedKey,
  ];
}
