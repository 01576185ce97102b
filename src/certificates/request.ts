import type { JsonObject } from '../domain/types.ts';
import type { PublicKeyInfo, SanMap, Template } from './types.ts';
import type { Violation } from './policy.ts';

/**
 * What an Enrollment instance carries. Two groups, kept apart on purpose:
 *  - ServerSetEnrollmentData: written by the server from its own records (request id, requester,
 *    template, CA, key facts). Steps and approvers may rely on it: trusted.
 *  - RequesterEnrollmentData: what the requester chose (subject, SANs, the CSR itself, metadata,
 *    additional fields). Decoded and policy-checked, but still the requester's words: untrusted.
 * Both are merged into InitialData (Keyfactor's data bucket, so $(CN), $(SANs), $(requester),
 * $(template) work in Email and REST steps); the server's values win on a name clash.
 */
export interface ServerSetEnrollmentData {
  KeyfactorRequestId: number;
  requester: string;
  RequesterId: number;
  template: string;
  Template: string;
  TemplateId: number;
  CertificateAuthority: string;
  EnrollmentType: 'CSR' | 'PFX';
  KeyType: string;
  KeySize: number;
  Curve: string | null;
  ValidityDays: number;
  /** The template's rules the request breaks (empty: it was checked and passed). */
  PolicyViolations: { Rule: string; Message: string }[];
}

export interface RequesterEnrollmentData {
  CN: string | null;
  Subject: string;
  SANs: SanMap;
  'CSR:Raw': string | null;
  Metadata: Record<string, string>;
  AdditionalEnrollmentFields: Record<string, string>;
  'Additional Attributes': Record<string, string>;
  IncludeChain: boolean;
}

export interface EnrollmentFacts {
  requestId: number;
  requester: { id: number; name: string };
  template: Template;
  caName: string;
  kind: 'CSR' | 'PFX';
  key: PublicKeyInfo;
  subject: string;
  subjectParts: Record<string, string[]>;
  sans: SanMap;
  csrPem: string | null;
  metadata: Record<string, string>;
  additionalFields: Record<string, string>;
  includeChain: boolean;
  violations: Violation[];
}

export function serverSetData(f: EnrollmentFacts): ServerSetEnrollmentData {
  return {
    KeyfactorRequestId: f.requestId,
    requester: f.requester.name,
    RequesterId: f.requester.id,
    template: f.template.commonName,
    Template: f.template.commonName,
    TemplateId: f.template.id,
    CertificateAuthority: f.caName,
    EnrollmentType: f.kind,
    KeyType: f.key.algorithm,
    KeySize: f.key.bits,
    Curve: f.key.curve,
    ValidityDays: f.template.policy.validityDays,
    PolicyViolations: f.violations.map((v) => ({ Rule: v.rule, Message: v.message })),
  };
}

export function requesterData(f: EnrollmentFacts): RequesterEnrollmentData {
  return {
    CN: f.subjectParts.CN?.[0] ?? null,
    Subject: f.subject,
    SANs: f.sans,
    'CSR:Raw': f.csrPem,
    Metadata: f.metadata,
    AdditionalEnrollmentFields: f.additionalFields,
    'Additional Attributes': f.additionalFields,
    IncludeChain: f.includeChain,
  };
}

/** InitialData of the Enrollment instance: requester's fields first, the server's over them. */
export function enrollmentInitialData(f: EnrollmentFacts): JsonObject {
  return { ...(requesterData(f) as unknown as JsonObject), ...(serverSetData(f) as unknown as JsonObject) };
}

/** The request id an instance is about, when the server started it for an enrollment. */
export function requestIdOf(initialData: JsonObject): number | null {
  const v = initialData.KeyfactorRequestId;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null;
}

/** Union of SAN maps, values de-duplicated (CSR SANs plus the SANs field of the body). */
export function mergeSans(...maps: SanMap[]): SanMap {
  const out: SanMap = {};
  for (const m of maps) for (const [k, values] of Object.entries(m)) out[k] = [...new Set([...(out[k] ?? []), ...values])];
  return out;
}

/** Keyfactor's KeyRetention: 0 none; anything else (or KeyArchival) keeps the key after delivery. */
export const retainsKeys = (t: Template): boolean => t.keyRetention !== 0 || t.keyArchival;
