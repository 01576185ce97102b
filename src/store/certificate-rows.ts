import type { Template } from '../certificates/types.ts';
import type { CaRecord, CertificateHistoryEntry, CertificateRecord, MetadataField, RequestRecord, RevokedEntry, StoredCrl } from './certificate-store.ts';

/* Row <-> record mapping shared by both stores (SQLite keeps JSON as text, PostgreSQL as jsonb). */

type Row = Record<string, any>;
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

export const toCa = (r: Row): CaRecord => ({
  id: Number(r.id),
  logicalName: r.logical_name,
  hostName: r.host_name,
  chainPem: json<string[]>(r.chain_pem),
  sealedKey: r.sealed_key,
  sealedRootKey: r.sealed_root_key ?? null,
  imported: r.imported === true || r.imported === 1,
  createdAt: iso(r.created_at),
  connector: r.connector === 'acme' ? 'acme' : 'embedded',
  config: r.config == null ? null : json<Record<string, unknown>>(r.config),
});

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

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

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

export const toHistory = (r: Row): CertificateHistoryEntry => ({ id: Number(r.id), at: iso(r.at), username: r.username ?? null, action: r.action, comment: r.comment ?? null });

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

export function certificateValues(c: Omit<CertificateRecord, 'id'>, der: unknown): unknown[] {
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
    der,
    JSON.stringify(c.metadata),
    c.sealedKey,
  ];
}
