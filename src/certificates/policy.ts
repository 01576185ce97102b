import type { KeyAlgorithm, PublicKeyInfo, SanMap, Template } from './types.ts';

/** What the policy looks at: a request reduced to plain data (from a CSR or a PFX request). */
export interface PolicyInput {
  enrollmentType: 'CSR' | 'PFX';
  key: PublicKeyInfo;
  subjectParts: Record<string, string[]>;
  sans: SanMap;
  caId: number;
  additionalFields: Record<string, string>;
  requester: string;
}

/** One broken rule: `rule` is stable (for clients and the portal), `message` says what to change. */
export interface Violation {
  rule: string;
  message: string;
  /** A limit no template can lift: refused even when the template sends requests to review. */
  absolute?: boolean;
}

/** Keys nobody should issue for, whatever a template says. */
export const MIN_RSA_BITS = 2048;
export const KNOWN_CURVES = ['P-256', 'P-384', 'P-521'];

const SAN_ALIASES: Record<string, string> = { ip4: 'ip', ip6: 'ip', email: 'rfc822', upn: 'ms_ntprincipalname' };
const canonicalSan = (flag: string): string => SAN_ALIASES[flag.toLowerCase()] ?? flag.toLowerCase();

/** Every rule of the template the request breaks; empty when it may be issued. Pure. */
export function checkPolicy(t: Template, r: PolicyInput): Violation[] {
  const out: Violation[] = [];
  const v = (rule: string, message: string) => out.push({ rule, message });

  const typeBit = r.enrollmentType === 'CSR' ? 2 : 1;
  const hard = (rule: string, message: string) => out.push({ rule, message, absolute: true });
  if ((t.allowedEnrollmentTypes & typeBit) === 0) hard('EnrollmentType', `Template '${t.commonName}' does not allow ${r.enrollmentType} enrollment.`);

  out.push(...keyViolations(t, r.key));

  if (t.policy.caIds.length > 0 && !t.policy.caIds.includes(r.caId))
    hard('CertificateAuthority', `Template '${t.commonName}' may not be issued from the requested certificate authority.`);

  const allowedSans = new Set(t.policy.sanTypes.map(canonicalSan));
  for (const [flag, values] of Object.entries(r.sans)) {
    if (values.length === 0) continue;
    if (!allowedSans.has(canonicalSan(flag))) v('SANType', `Template '${t.commonName}' does not allow SANs of type '${flag}' (allowed: ${[...allowedSans].join(', ') || 'none'}).`);
  }
  if (!t.policy.allowWildcards) {
    const wild = [...(r.sans.dns ?? []), ...(r.subjectParts.CN ?? [])].find((n) => n.includes('*'));
    if (wild) v('Wildcard', `Template '${t.commonName}' does not allow wildcard names ('${wild}').`);
  }
  if ((r.subjectParts.CN ?? []).length === 0 && Object.values(r.sans).every((x) => x.length === 0))
    hard('Subject', 'The request names nothing: give a subject CN or at least one SAN.');

  for (const rx of t.regexes) {
    const values =
      rx.subjectPart.toLowerCase() === 'dns' || rx.subjectPart.toLowerCase() === 'san'
        ? (r.sans.dns ?? [])
        : (r.subjectParts[rx.subjectPart] ?? r.subjectParts[rx.subjectPart.toUpperCase()] ?? []);
    let re: RegExp;
    try {
      re = new RegExp(rx.regex, rx.caseSensitive ? '' : 'i');
    } catch {
      v('TemplateRegex', `The template's regular expression for ${rx.subjectPart} is invalid; ask an administrator to fix it.`);
      continue;
    }
    for (const value of values) if (!re.test(value)) v('TemplateRegex', rx.error || `${rx.subjectPart} '${value}' does not match the template's pattern ${rx.regex}.`);
  }

  for (const name of t.requiredEnrollmentFields) {
    const given = Object.entries(r.additionalFields).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    if (given === undefined || given.trim() === '') v('EnrollmentField', `The enrollment field '${name}' is required by template '${t.commonName}' (AdditionalEnrollmentFields).`);
  }
  for (const f of t.enrollmentFields) {
    const given = Object.entries(r.additionalFields).find(([k]) => k.toLowerCase() === f.name.toLowerCase())?.[1];
    if (given !== undefined && f.dataType === 2 && f.options.length > 0 && !f.options.includes(given))
      v('EnrollmentField', `The enrollment field '${f.name}' must be one of ${f.options.join(', ')}.`);
  }

  if (t.useAllowedRequesters && !t.allowedRequesters.some((a) => a.toLowerCase() === r.requester.toLowerCase()))
    hard('Requester', `${r.requester} is not among the requesters allowed to enroll with template '${t.commonName}'.`);
  return out;
}

function keyViolations(t: Template, key: PublicKeyInfo): Violation[] {
  const allowed = t.policy.keyTypes;
  const name = key.algorithm === 'ECC' ? `EC ${key.curve}` : key.algorithm === 'RSA' ? `RSA ${key.bits}` : key.algorithm;
  if (key.algorithm === 'Unknown') return [{ rule: 'KeyType', message: 'The key type is not one Countersign can issue for.', absolute: true }];
  if (!allowed.includes(key.algorithm as KeyAlgorithm))
    return [{ rule: 'KeyType', message: `Template '${t.commonName}' does not allow ${name} keys (allowed: ${allowed.join(', ')}).` }];
  if (key.algorithm === 'RSA') {
    const min = Math.max(MIN_RSA_BITS, t.policy.minRsaBits);
    if (key.bits < min)
      return [{ rule: 'KeySize', message: `RSA keys must be at least ${min} bits; this one has ${key.bits}.`, ...(key.bits < MIN_RSA_BITS ? { absolute: true } : {}) }];
  }
  if (key.algorithm === 'ECC') {
    if (!key.curve || !KNOWN_CURVES.includes(key.curve))
      return [{ rule: 'KeyCurve', message: `The curve ${key.curve ?? 'unknown'} is not supported; use ${KNOWN_CURVES.join(', ')}.`, absolute: true }];
    if (!t.policy.curves.includes(key.curve))
      return [{ rule: 'KeyCurve', message: `Template '${t.commonName}' does not allow the curve ${key.curve} (allowed: ${t.policy.curves.join(', ')}).` }];
  }
  return [];
}

/** The template every fresh store holds: CSR and PFX, RSA 2048+ or P-256/P-384, one year, TLS server and client. */
export function defaultTemplate(): Omit<Template, 'id'> {
  return {
    commonName: 'Countersign',
    displayName: 'Countersign default',
    friendlyName: 'Countersign default',
    oid: '1.3.6.1.4.1.55555.1.1',
    allowedEnrollmentTypes: 3,
    keyRetention: 0,
    keyRetentionDays: null,
    keyArchival: false,
    requiresApproval: false,
    keyUsage: 128 | 32,
    extendedKeyUsages: [
      { oid: '1.3.6.1.5.5.7.3.1', displayName: 'Server Authentication' },
      { oid: '1.3.6.1.5.5.7.3.2', displayName: 'Client Authentication' },
    ],
    regexes: [],
    enrollmentFields: [],
    requiredEnrollmentFields: [],
    metadataFields: [],
    policy: {
      keyTypes: ['RSA', 'ECC'],
      minRsaBits: 2048,
      curves: ['P-256', 'P-384'],
      validityDays: 365,
      sanTypes: ['dns', 'ip', 'uri', 'rfc822'],
      allowWildcards: false,
      caIds: [],
    },
    useAllowedRequesters: false,
    allowedRequesters: [],
  };
}
