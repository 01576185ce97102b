import { call, listQuery, type ListParams } from './api.ts';

/*
 * The certificate side of the public API, as the portal calls it: enrollment (CSR and PFX), the
 * decoded request (Countersign extension), the inventory, downloads and key recovery.
 */

export type SanMap = Record<string, string[]>;

export interface EnrollmentCa {
  Id: number;
  Name: string;
  DisplayName: string;
}

export interface EnrollmentTemplate {
  Id: number;
  Name: string;
  DisplayName: string;
  RequiresApproval: boolean;
  CAs: EnrollmentCa[];
  EnrollmentTemplatePolicy: { PrimaryKeyAlgorithms: { name?: string; Name?: string; bit_lengths?: number[]; curves?: string[] }[]; AllowWildcards: boolean };
  KeySize: string | null;
  KeyType: string | null;
}

export interface EnrollmentContext {
  Templates: EnrollmentTemplate[];
}

export interface EnrollmentAnswer {
  CertificateInformation: {
    SerialNumber: string | null;
    IssuerDN: string | null;
    Thumbprint: string | null;
    KeyfactorID?: number;
    KeyfactorId?: number;
    Certificates?: string[];
    Pkcs12Blob?: string | null;
    Password?: string | null;
    WorkflowInstanceId: string;
    WorkflowReferenceId: number;
    KeyfactorRequestId: number;
    RequestDisposition: string;
    DispositionMessage: string;
  };
}

export interface DecodedRequest {
  Id: number;
  EnrollmentType: 'CSR' | 'PFX';
  Requester: string;
  SubmissionDate: string;
  Subject: string;
  SubjectParts: Record<string, string[]>;
  SANs: SanMap;
  Key: { Type: string; Size: number; Curve: string | null };
  ValidityDays: number;
  CSR: string | null;
  Template: { Id: number; Name: string; KeyTypes: string[]; MinimumRsaKeySize: number; Curves: string[]; AllowedSanTypes: string[]; ValidityDays: number } | null;
  CertificateAuthority: string | null;
  PolicyViolations: { Rule: string; Message: string }[];
  Disposition: string;
  WorkflowInstanceId: string | null;
  KeyfactorID: number | null;
}

export interface CertificateRow {
  Id: number;
  Thumbprint: string;
  SerialNumber: string;
  IssuedDN: string;
  IssuedCN: string | null;
  NotBefore: string;
  NotAfter: string;
  IssuerDN: string;
  TemplateId: number | null;
  TemplateName: string | null;
  KeySizeInBits: number;
  KeyTypeString: string;
  Curve: string | null;
  CertStateString: string;
  RequesterName: string | null;
  CertRequestId: number | null;
  CertificateAuthorityName: string | null;
  HasPrivateKey: boolean;
  KeyRecoverable: boolean;
  SigningAlgorithm: string;
  ExtendedKeyUsages: { Oid: string; DisplayName: string }[];
  SubjectAltNameElements: { Value: string; Type: number }[];
  Metadata: Record<string, string>;
}

export interface CertificateHistory {
  Id: number;
  OperationStart: string;
  Username: string;
  Comment: string | null;
  Action: string;
}

export type DownloadFormat = 'PEM' | 'DER' | 'P7B';

export interface CsrEnrollment {
  CSR: string;
  Template: string;
  CertificateAuthority?: string;
  SANs: SanMap;
  Metadata: Record<string, string>;
  IncludeChain: boolean;
}

export interface PfxEnrollment {
  Subject: string;
  Template: string;
  CertificateAuthority?: string;
  KeyType: 'RSA' | 'ECC';
  KeyLength?: number;
  Curve?: string;
  SANs: SanMap;
  Password: string;
  Metadata: Record<string, string>;
  IncludeChain: boolean;
}

const get = async <T>(path: string): Promise<T> => (await call<T>('GET', path)).data;
const post = async <T>(path: string, body: unknown, format?: string): Promise<T> => (await call<T>('POST', path, { body, format })).data;

export const certApi = {
  csrContext: () => get<EnrollmentContext>('/Enrollment/CSR/Context/My'),
  pfxContext: () => get<EnrollmentContext>('/Enrollment/PFX/Context/My'),
  enrollCsr: (body: CsrEnrollment) => post<EnrollmentAnswer>('/Enrollment/CSR', { ...body, Timestamp: new Date().toISOString() }, 'PEM'),
  enrollPfx: (body: PfxEnrollment) => post<EnrollmentAnswer>('/Enrollment/PFX', { ...body, Timestamp: new Date().toISOString() }, 'PFX'),
  request: (id: number) => get<DecodedRequest>(`/Enrollment/Requests/${id}`),
  certificates: (p: ListParams & { includeExpired?: boolean }) => get<CertificateRow[]>(`/Certificates${listQuery(p as ListParams)}`),
  certificate: (id: number) => get<CertificateRow>(`/Certificates/${id}?includeMetadata=true`),
  history: (id: number) => get<CertificateHistory[]>(`/Certificates/${id}/History`),
  download: (id: number, format: DownloadFormat, includeChain: boolean) => post<{ Content: string }>('/Certificates/Download', { CertID: id, IncludeChain: includeChain }, format),
  recover: (id: number, password: string) => post<{ PFX: string; FileName: string }>('/Certificates/Recover', { CertID: id, Password: password, IncludeChain: true }, 'PFX'),
};

/** Offers bytes (base64 from the API) as a file download, without leaving the page. */
export function saveFile(base64: string, fileName: string, type: string): void {
  const bin = atob(base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name from a common name: letters, digits, dot, dash and underscore only. */
export const fileBase = (name: string | null | undefined, fallback: string): string => (name ?? '').replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '') || fallback;

export const SAN_TYPES: { key: string; label: string }[] = [
  { key: 'dns', label: 'DNS names' },
  { key: 'ip4', label: 'IP addresses' },
  { key: 'uri', label: 'URIs' },
  { key: 'rfc822', label: 'Email addresses' },
];

/** Keyfactor SAN type codes of SubjectAltNameElements. */
export const SAN_TYPE_NAMES: Record<number, string> = { 0: 'Other', 1: 'Email', 2: 'DNS', 4: 'Directory name', 6: 'URI', 7: 'IP address', 100: 'UPN' };

/** "a.example, b.example" (comma, space or newline separated) to a list. */
export const splitList = (text: string): string[] =>
  text
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter((x) => x !== '');
