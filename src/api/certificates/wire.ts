import type { CaConnector } from '../../ca/connector.ts';
import { describeCertificate, ekuName } from '../../certificates/describe.ts';
import type { Template } from '../../certificates/types.ts';
import { bytes, toPem, x509 } from '../../certificates/x509.ts';
import { certState } from '../../certificates/revocation.ts';
import type { CertificateHistoryEntry, CertificateRecord, MetadataField } from '../../store/certificate-store.ts';
import type { EnrollOutcome } from '../../service/enrollment.ts';

/* Domain records to Keyfactor's certificate-side wire shapes: exactly the contract's properties. */

const NIL_GUID = '00000000-0000-0000-0000-000000000000';

export function caWire(ca: CaConnector) {
  return {
    Id: ca.id,
    LogicalName: ca.logicalName,
    HostName: ca.hostName,
    Delegate: false,
    DelegateEnrollment: false,
    ForestRoot: null,
    ConfigurationTenant: ca.hostName,
    Remote: false,
    Agent: null,
    Standalone: true,
    MonitorThresholds: false,
    IssuanceMax: null,
    IssuanceMin: null,
    DenialMax: null,
    FailureMax: null,
    RFCEnforcement: true,
    Properties: JSON.stringify(ca.properties?.() ?? { Embedded: true }),
    AllowedEnrollmentTypes: 3,
    KeyRetention: 0,
    KeyRetentionDays: null,
    ExplicitCredentials: false,
    SubscriberTerms: false,
    ExplicitUser: null,
    UseAllowedRequesters: false,
    AllowedRequesters: [],
    CAType: 0,
    EnforceUniqueDN: false,
    UseForEnrollment: true,
  };
}

const enrollmentFieldsWire = (t: Template) => t.enrollmentFields.map((f) => ({ Id: f.id, Name: f.name, Options: f.options, DataType: f.dataType }));
const regexesWire = (t: Template) => t.regexes.map((r) => ({ TemplateId: t.id, SubjectPart: r.subjectPart, Regex: r.regex, Error: r.error, CaseSensitive: r.caseSensitive }));
const ekusWire = (t: Template) => t.extendedKeyUsages.map((e, i) => ({ Id: i + 1, Oid: e.oid, DisplayName: e.displayName }));
const keySize = (t: Template) => (t.policy.keyTypes.includes('RSA') ? String(Math.max(2048, t.policy.minRsaBits)) : t.policy.curves[0] === 'P-384' ? '384' : '256');
const keyTypeName = (t: Template) => (t.policy.keyTypes.includes('RSA') ? 'RSA' : t.policy.keyTypes.includes('ECC') ? 'ECC' : (t.policy.keyTypes[0] ?? 'RSA'));
const algorithms = (t: Template) =>
  t.policy.keyTypes.map((k) => ({
    name: k,
    bit_lengths: k === 'RSA' ? [2048, 3072, 4096].filter((b) => b >= t.policy.minRsaBits) : [],
    curves: k === 'ECC' ? t.policy.curves : [],
  }));

export function templateCollectionWire(t: Template) {
  return {
    Id: t.id,
    CommonName: t.commonName,
    TemplateName: t.displayName,
    Oid: t.oid,
    KeySize: keySize(t),
    KeyType: keyTypeName(t),
    ForestRoot: 'countersign',
    ConfigurationTenant: 'countersign',
    FriendlyName: t.friendlyName,
    KeyRetention: t.keyRetention,
    KeyRetentionDays: t.keyRetentionDays,
    KeyArchival: t.keyArchival,
    EnrollmentFields: enrollmentFieldsWire(t),
    AllowedEnrollmentTypes: t.allowedEnrollmentTypes,
    TemplateRegexes: regexesWire(t),
    UseAllowedRequesters: t.useAllowedRequesters,
    AllowedRequesters: t.allowedRequesters,
    DisplayName: t.displayName,
    RequiresApproval: t.requiresApproval,
    KeyUsage: t.keyUsage,
    ExtendedKeyUsages: ekusWire(t),
    AllowOneClickRenewals: false,
    KeyTypes: t.policy.keyTypes.join(','),
    Manageability: 1,
  };
}

export function templateWire(t: Template) {
  const { Manageability: _m, ...base } = templateCollectionWire(t);
  return {
    ...base,
    MetadataFields: t.metadataFields.map((m, i) => ({
      Id: i + 1,
      DefaultValue: m.defaultValue,
      MetadataId: m.metadataId,
      Validation: m.validation,
      Enrollment: m.enrollment,
      Message: m.message,
      CaseSensitive: m.caseSensitive,
      TemplateId: t.id,
    })),
    TemplateDefaults: [],
    TemplatePolicy: {
      TemplateId: t.id,
      AllowKeyReuse: t.policy.allowKeyReuse ?? false,
      AllowWildcards: t.policy.allowWildcards,
      RFCEnforcement: true,
      CertificateOwnerRole: 0,
      DefaultCertificateOwnerRoleId: null,
      DefaultCertificateOwnerRoleName: null,
      PrimaryKeyAlgorithms: algorithms(t),
      AlternativeKeyAlgorithms: [],
    },
    KeyAlgorithms: { TemplateId: t.id, PrimaryKeyAlgorithms: algorithms(t), AlternativeKeyAlgorithms: [] },
    RFCEnforcement: true,
    Curve: t.policy.keyTypes.includes('ECC') ? (t.policy.curves[0] ?? null) : null,
    Manageability: 1,
  };
}

export function enrollmentContextWire(templates: Template[], cas: CaConnector[], kind: 'CSR' | 'PFX') {
  const bit = kind === 'CSR' ? 2 : 1;
  return {
    Templates: templates
      .filter((t) => (t.allowedEnrollmentTypes & bit) !== 0)
      .map((t) => ({
        Id: t.id,
        Name: t.commonName,
        DisplayName: t.displayName,
        Forest: 'countersign',
        RequiresApproval: t.requiresApproval,
        RFCEnforcement: true,
        CAs: cas
          .filter((c) => t.policy.caIds.length === 0 || t.policy.caIds.includes(c.id))
          .map((c) => ({ Id: c.id, Name: `${c.hostName}\\${c.logicalName}`, DisplayName: c.logicalName, RFCEnforcement: true, SubscriberTerms: false })),
        EnrollmentFields: t.enrollmentFields.map((f) => ({ Id: f.id, Name: f.name, Options: f.options, TemplateId: t.id, DataType: f.dataType })),
        MetadataFields: [],
        Regexes: t.regexes.map((r) => ({ TemplateId: t.id, SubjectPart: r.subjectPart, Regex: r.regex, Error: r.error, CaseSensitive: r.caseSensitive })),
        ExtendedKeyUsages: ekusWire(t),
        EnrollmentTemplatePolicy: {
          PrimaryKeyAlgorithms: algorithms(t),
          AlternativeKeyAlgorithms: [],
          AllowKeyReuse: t.policy.allowKeyReuse ?? false,
          AllowWildcards: t.policy.allowWildcards,
          RFCEnforcement: true,
          CertificateOwnerRole: 0,
        },
        KeySize: keySize(t),
        KeyType: keyTypeName(t),
        Curve: t.policy.keyTypes.includes('ECC') ? (t.policy.curves[0] ?? null) : null,
      })),
    StandaloneCAs: [],
  };
}

/** One enrollment pattern per template (Countersign's templates are their own patterns). */
export function enrollmentPatternWire(t: Template, cas: CaConnector[]) {
  return {
    Id: t.id,
    Name: t.commonName,
    Description: t.displayName,
    Template: {
      Id: t.id,
      TemplateName: t.displayName,
      CommonName: t.commonName,
      ConfigurationTenant: 'countersign',
      RequiresApproval: t.requiresApproval,
      FriendlyName: t.friendlyName,
    },
    TemplateDefault: true,
    UseADPermissions: false,
    AssociatedRoles: [],
    CertificateAuthorities: cas
      .filter((c) => t.policy.caIds.length === 0 || t.policy.caIds.includes(c.id))
      .map((c) => ({ Id: c.id, LogicalName: c.logicalName, HostName: c.hostName, ConfigurationTenant: c.hostName })),
    AllowedEnrollmentTypes: t.allowedEnrollmentTypes,
    Regexes: t.regexes.map((r) => ({ SubjectPart: r.subjectPart, Regex: r.regex, Error: r.error, CaseSensitive: r.caseSensitive })),
    MetadataFields: [],
    RestrictCAs: t.policy.caIds.length > 0,
    Policies: {
      AllowKeyReuse: t.policy.allowKeyReuse ?? false,
      AllowWildcards: t.policy.allowWildcards,
      RFCEnforcement: true,
      CertificateOwnerRole: 0,
      DefaultCertificateOwnerRoleId: null,
      DefaultCertificateOwnerRoleName: null,
      DefaultCertificateOwnerOverride: false,
      PrimaryKeyAlgorithms: algorithms(t),
      AlternativeKeyAlgorithms: [],
    },
    Defaults: [],
    EnrollmentFields: t.enrollmentFields.map((f) => ({ Name: f.name, DataType: f.dataType, Options: f.options })),
  };
}

export function metadataFieldWire(f: MetadataField) {
  return {
    Id: f.id,
    Name: f.name,
    Description: f.description,
    DataType: f.dataType,
    Hint: f.hint,
    Validation: f.validation,
    Enrollment: f.enrollment,
    Message: f.message,
    Options: f.options,
    DefaultValue: f.defaultValue,
    DisplayOrder: f.displayOrder,
    CaseSensitive: f.caseSensitive,
    ExemptFromActionedCount: false,
  };
}

/** Certificates in the answer: PEM text per element, or base64 DER when the client asked for DER. */
export const certificateText = (der: Uint8Array, format: 'PEM' | 'DER'): string => (format === 'PEM' ? toPem(der) : Buffer.from(der).toString('base64'));

/** The issued certificate's names, first in both enrollment answers (null while pending). */
const issuedNames = (o: EnrollOutcome) => ({
  SerialNumber: o.certificate?.serialNumber ?? null,
  IssuerDN: o.certificate?.issuerDn ?? null,
  Thumbprint: o.certificate?.thumbprint ?? null,
});

const workflowOf = (o: EnrollOutcome) => ({ WorkflowInstanceId: o.instance?.id ?? NIL_GUID, WorkflowReferenceId: o.instance?.referenceId ?? 0 });

/** The request's outcome, last in both enrollment answers. */
const dispositionOf = (o: EnrollOutcome) => ({ KeyfactorRequestId: o.requestId, RequestDisposition: o.disposition, DispositionMessage: o.message, EnrollmentContext: null });

// Keyfactor spells the id KeyfactorID in the CSR answer and KeyfactorId in the PFX answer; the
// field order follows Keyfactor's answers.
export function csrEnrollmentWire(o: EnrollOutcome, format: 'PEM' | 'DER', metadata: Record<string, string>) {
  return {
    CertificateInformation: {
      ...issuedNames(o),
      KeyfactorID: o.certificate?.id ?? 0,
      Certificates: o.certificates.map((d) => certificateText(d, format)),
      ...workflowOf(o),
      ...dispositionOf(o),
    },
    Metadata: metadata,
  };
}

export function pfxEnrollmentWire(o: EnrollOutcome, blob: string | null, password: string | null, metadata: Record<string, string>) {
  return {
    CertificateInformation: {
      ...issuedNames(o),
      KeyfactorId: o.certificate?.id ?? 0,
      Pkcs12Blob: blob,
      Password: password,
      ...workflowOf(o),
      StoreIdsInvalidForRenewal: [],
      ChainFailedToBuild: false,
      ...dispositionOf(o),
    },
    Metadata: metadata,
  };
}

const SAN_TYPE: Record<string, number> = {
  other: 0,
  rfc822: 1,
  dns: 2,
  x400: 3,
  directory: 4,
  ediparty: 5,
  uri: 6,
  ip: 7,
  registeredid: 8,
  ms_ntprincipalname: 100,
  ms_ntdsreplication: 101,
};
const KEY_TYPE: Record<string, { code: number; name: string }> = {
  RSA: { code: 1, name: 'RSA' },
  ECC: { code: 3, name: 'ECC' },
  Ed25519: { code: 4, name: 'Ed25519' },
  Ed448: { code: 5, name: 'Ed448' },
};

export interface CertificateView {
  includeMetadata: boolean;
  includeLocations: boolean;
  hasPrivateKey: boolean;
  templateName: string | null;
  caName: string | null;
  now: string;
}

/** GET /Certificates items; GET /Certificates/{id} adds IsCACertificate and PathLengthConstraint. */
export function certificateWire(c: CertificateRecord, v: CertificateView, detail = false) {
  const f = describeCertificate(c.der);
  const expired = c.notAfter < v.now;
  const revocation = c.revocation ?? null;
  const state = certState(revocation, expired);
  const kt = KEY_TYPE[c.keyType] ?? { code: 0, name: 'Unknown' };
  const parts = f.subjectParts;
  let sanId = 0;
  const body = {
    Id: c.id,
    Thumbprint: c.thumbprint,
    SerialNumber: c.serialNumber,
    IssuedDN: c.issuedDn,
    IssuedCN: c.issuedCn,
    ImportDate: c.importDate,
    NotBefore: c.notBefore,
    NotAfter: c.notAfter,
    IssuerDN: c.issuerDn,
    PrincipalId: null,
    OwnerRoleId: null,
    OwnerRoleName: null,
    TemplateId: c.templateId,
    // Keyfactor CertState: 1 Active, 2 Revoked (on hold too: RevocationReason 6), 6 Expired.
    CertState: state.state,
    KeySizeInBits: c.keySize,
    KeyType: kt.code,
    KeyAlgorithm: kt.name,
    RequesterId: c.requesterId,
    IssuedOU: parts.OU?.[0] ?? null,
    IssuedEmail: parts.E?.[0] ?? f.sans.rfc822?.[0] ?? null,
    KeyUsage: f.keyUsage,
    SigningAlgorithm: f.signatureAlgorithm,
    CertStateString: state.text,
    KeyTypeString: kt.name,
    RevocationEffDate: revocation?.effectiveDate ?? null,
    // 999: Keyfactor's "Unknown", what it shows for a certificate that is not revoked.
    RevocationReason: revocation?.reason ?? 999,
    RevocationComment: revocation?.comment ?? null,
    CertificateAuthorityId: c.caId,
    CertificateAuthorityName: v.caName,
    TemplateName: v.templateName,
    ArchivedKey: c.sealedKey !== null,
    HasPrivateKey: v.hasPrivateKey && c.sealedKey !== null,
    PrincipalName: null,
    CertRequestId: c.requestId,
    RequesterName: c.requesterName,
    ContentBytes: Buffer.from(c.der).toString('base64'),
    ExtendedKeyUsages: f.extendedKeyUsages.map((oid, i) => ({ Id: i + 1, Oid: oid, DisplayName: ekuName(oid) })),
    SubjectAltNameElements: Object.entries(f.sans).flatMap(([type, values]) =>
      values.map((value) => ({ Id: ++sanId, Value: value, Type: SAN_TYPE[type] ?? 999, ValueHash: null })),
    ),
    CRLDistributionPoints: crlDistributionPoints(c.der).map((Url, i) => ({ Id: i + 1, Url, UrlHash: null })),
    LocationsCount: [],
    SSLLocations: [],
    Locations: [],
    Metadata: v.includeMetadata ? c.metadata : {},
    CARowIndex: c.requestId,
    CARecordId: c.requestId === null ? null : String(c.requestId),
    DetailedKeyUsage: detailedKeyUsage(f.keyUsage),
    KeyRecoverable: c.sealedKey !== null,
    Curve: f.key.curve,
    EnrollmentPatternId: c.templateId,
    Lifespan: Math.round((Date.parse(c.notAfter) - Date.parse(c.notBefore)) / 86_400_000),
  };
  return detail ? { IsCACertificate: f.isCa, PathLengthConstraint: f.pathLength, ...body } : body;
}

function detailedKeyUsage(ku: number) {
  return {
    CrlSign: (ku & 2) !== 0,
    DataEncipherment: (ku & 16) !== 0,
    DecipherOnly: (ku & 32768) !== 0,
    DigitalSignature: (ku & 128) !== 0,
    EncipherOnly: (ku & 1) !== 0,
    KeyAgreement: (ku & 8) !== 0,
    KeyCertSign: (ku & 4) !== 0,
    KeyEncipherment: (ku & 32) !== 0,
    NonRepudiation: (ku & 64) !== 0,
    HexCode: ku.toString(16).padStart(2, '0'),
  };
}

export const historyWire = (h: CertificateHistoryEntry) => ({ Id: h.id, OperationStart: h.at, OperationEnd: h.at, Username: h.username, Comment: h.comment, Action: h.action });

/** The URLs of a certificate's CRL Distribution Points extension; none when absent or unreadable. */
function crlDistributionPoints(der: Uint8Array): string[] {
  try {
    const ext = new x509.X509Certificate(bytes(der)).getExtension(x509.CRLDistributionPointsExtension);
    return (ext?.distributionPoints ?? []).flatMap((p) => (p.distributionPoint?.fullName ?? []).map((n) => n.uniformResourceIdentifier).filter((u): u is string => !!u));
  } catch {
    return [];
  }
}
