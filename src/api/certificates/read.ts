import { KNOWN_CURVES, MIN_RSA_BITS } from '../../certificates/policy.ts';
import type { KeyAlgorithm, SanMap, Template } from '../../certificates/types.ts';
import { fail } from '../../domain/errors.ts';
import type { Json, JsonObject } from '../../domain/types.ts';
import { bool, field, int, str } from '../wire.ts';

/* Reading the certificate side's request bodies (names case-insensitive, as everywhere). */

/** `{"dns": ["a"], "ip4": ["10.0.0.1"]}`; a single string is taken as a one-element list. */
export function readSans(v: Json | undefined): SanMap {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    return fail('ValidationFailed', 'SANs must be an object mapping a SAN type (dns, ip4, ip6, uri, rfc822, ...) to a list of strings.');
  const out: SanMap = {};
  for (const [k, raw] of Object.entries(v)) {
    const list = typeof raw === 'string' ? [raw] : raw;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) fail('ValidationFailed', `SANs.${k} must be a list of strings.`);
    const values = (list as string[]).map((x) => x.trim()).filter((x) => x !== '');
    if (values.length) out[k.toLowerCase()] = values;
  }
  return out;
}

/** An object of strings (Metadata, AdditionalEnrollmentFields); numbers and booleans become text. */
export function readStringMap(v: Json | undefined, name: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) return fail('ValidationFailed', `${name} must be an object of field name to value.`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null) continue;
    if (typeof x === 'object') fail('ValidationFailed', `${name}.${k} must be a string.`);
    out[k] = String(x);
  }
  return out;
}

const list = (v: Json | undefined, name: string): Json[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail('ValidationFailed', `${name} must be a list.`);
  return v as Json[];
};
const obj = (v: Json, name: string): JsonObject => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : fail('ValidationFailed', `${name} must be an object.`));

/** PUT /Templates (and our POST): Keyfactor's fields plus Countersign's policy fields, over `base`. */
export function readTemplate(base: Omit<Template, 'id'>, b: JsonObject): Omit<Template, 'id'> {
  const t: Omit<Template, 'id'> = { ...base, policy: { ...base.policy } };
  const s = (n: string) => str(b, n, { max: 400 });
  t.commonName = s('CommonName')?.trim() || t.commonName;
  t.displayName = s('DisplayName') ?? s('TemplateName') ?? t.displayName;
  if (field(b, 'FriendlyName') !== undefined) t.friendlyName = s('FriendlyName');
  const ket = int(b, 'AllowedEnrollmentTypes', { min: 0 });
  if (ket !== null) t.allowedEnrollmentTypes = ket <= 3 ? ket : fail('ValidationFailed', 'AllowedEnrollmentTypes must be 0 (none), 1 (PFX), 2 (CSR) or 3 (CSR and PFX).');
  t.keyRetention = int(b, 'KeyRetention', { min: 0 }) ?? t.keyRetention;
  if (t.keyRetention > 3) fail('ValidationFailed', 'KeyRetention must be 0 to 3.');
  if (field(b, 'KeyRetentionDays') !== undefined) t.keyRetentionDays = int(b, 'KeyRetentionDays', { min: 0 });
  t.keyArchival = bool(b, 'KeyArchival') ?? t.keyArchival;
  t.requiresApproval = bool(b, 'RequiresApproval') ?? t.requiresApproval;
  t.keyUsage = int(b, 'KeyUsage', { min: 0 }) ?? t.keyUsage;
  t.useAllowedRequesters = bool(b, 'UseAllowedRequesters') ?? t.useAllowedRequesters;
  if (field(b, 'AllowedRequesters') !== undefined) t.allowedRequesters = list(field(b, 'AllowedRequesters'), 'AllowedRequesters').map(String);
  if (field(b, 'TemplateRegexes') !== undefined)
    t.regexes = list(field(b, 'TemplateRegexes'), 'TemplateRegexes').map((r, i) => {
      const o = obj(r, `TemplateRegexes[${i}]`);
      const regex = str(o, 'Regex', { required: true, max: 1000 })!;
      try {
        new RegExp(regex);
      } catch {
        fail('ValidationFailed', `TemplateRegexes[${i}].Regex is not a valid regular expression.`);
      }
      return { subjectPart: str(o, 'SubjectPart', { required: true, max: 40 })!, regex, error: str(o, 'Error', { max: 400 }), caseSensitive: bool(o, 'CaseSensitive') ?? false };
    });
  if (field(b, 'EnrollmentFields') !== undefined)
    t.enrollmentFields = list(field(b, 'EnrollmentFields'), 'EnrollmentFields').map((f, i) => {
      const o = obj(f, `EnrollmentFields[${i}]`);
      const dataType = int(o, 'DataType') ?? 1;
      if (dataType !== 1 && dataType !== 2) fail('ValidationFailed', `EnrollmentFields[${i}].DataType must be 1 (string) or 2 (multiple choice).`);
      return {
        id: int(o, 'Id') ?? i + 1,
        name: str(o, 'Name', { required: true, max: 200 })!,
        options: list(field(o, 'Options'), 'Options').map(String),
        dataType: dataType as 1 | 2,
      };
    });
  if (field(b, 'RequiredEnrollmentFields') !== undefined) t.requiredEnrollmentFields = list(field(b, 'RequiredEnrollmentFields'), 'RequiredEnrollmentFields').map(String);
  if (field(b, 'ExtendedKeyUsages') !== undefined)
    t.extendedKeyUsages = list(field(b, 'ExtendedKeyUsages'), 'ExtendedKeyUsages').map((e, i) => {
      const oid = typeof e === 'string' ? e : str(obj(e, `ExtendedKeyUsages[${i}]`), 'Oid', { required: true })!;
      if (!/^\d+(\.\d+)+$/.test(oid)) fail('ValidationFailed', `ExtendedKeyUsages[${i}] must be an OID such as 1.3.6.1.5.5.7.3.1.`);
      return { oid, displayName: typeof e === 'object' && e !== null && !Array.isArray(e) ? (str(e, 'DisplayName') ?? oid) : oid };
    });
  const policy = field(b, 'TemplatePolicy');
  if (policy !== undefined && policy !== null) {
    const p = obj(policy, 'TemplatePolicy');
    t.policy.allowWildcards = bool(p, 'AllowWildcards') ?? t.policy.allowWildcards;
    // Renewal may certify a CSR-enrolled certificate's key again only when this is true.
    t.policy.allowKeyReuse = bool(p, 'AllowKeyReuse') ?? t.policy.allowKeyReuse ?? false;
    const algs = field(p, 'PrimaryKeyAlgorithms');
    if (algs !== undefined && algs !== null) {
      const parsed = list(algs, 'TemplatePolicy.PrimaryKeyAlgorithms').map((a, i) => obj(a, `PrimaryKeyAlgorithms[${i}]`));
      t.policy.keyTypes = parsed.map((a) => keyType(str(a, 'name', { required: true })!));
      const rsa = parsed.find((a) => keyType(str(a, 'name')!) === 'RSA');
      const bits = rsa ? list(field(rsa, 'bit_lengths'), 'bit_lengths').map(Number) : [];
      if (bits.length) t.policy.minRsaBits = Math.min(...bits);
      const ecc = parsed.find((a) => keyType(str(a, 'name')!) === 'ECC');
      const curves = ecc ? list(field(ecc, 'curves'), 'curves').map(String) : [];
      if (curves.length) t.policy.curves = curves;
    }
  }
  // Countersign's policy fields (no Active Directory template to read them from).
  const validity = int(b, 'ValidityDays', { min: 1 });
  if (validity !== null) t.policy.validityDays = validity <= 3650 ? validity : fail('ValidationFailed', 'ValidityDays must be from 1 to 3650.');
  if (field(b, 'KeyTypes') !== undefined && typeof field(b, 'KeyTypes') === 'string')
    t.policy.keyTypes = String(field(b, 'KeyTypes'))
      .split(',')
      .map((k) => keyType(k.trim()));
  t.policy.minRsaBits = int(b, 'MinimumRsaKeySize', { min: 0 }) ?? t.policy.minRsaBits;
  if (field(b, 'Curves') !== undefined) t.policy.curves = list(field(b, 'Curves'), 'Curves').map(String);
  if (field(b, 'AllowedSanTypes') !== undefined) t.policy.sanTypes = list(field(b, 'AllowedSanTypes'), 'AllowedSanTypes').map((x) => String(x).toLowerCase());
  const mode = str(b, 'PolicyMode', { max: 20 });
  if (mode !== null)
    t.policy.mode = /^review$/i.test(mode) ? 'review' : /^enforce$/i.test(mode) ? 'enforce' : fail('ValidationFailed', "PolicyMode must be 'Enforce' or 'Review'.");
  if (field(b, 'CertificateAuthorityIds') !== undefined) t.policy.caIds = list(field(b, 'CertificateAuthorityIds'), 'CertificateAuthorityIds').map(Number);
  if (t.policy.minRsaBits < MIN_RSA_BITS) fail('ValidationFailed', `The minimum RSA key size must be at least ${MIN_RSA_BITS}.`);
  const badCurve = t.policy.curves.find((c) => !KNOWN_CURVES.includes(c));
  if (badCurve) fail('ValidationFailed', `Curve '${badCurve}' is not supported; use ${KNOWN_CURVES.join(', ')}.`);
  if (t.policy.keyTypes.length === 0) fail('ValidationFailed', 'A template must allow at least one key type.');
  if (!t.commonName || !/^[\w .-]{1,100}$/.test(t.commonName))
    fail('ValidationFailed', 'CommonName (the template short name) must be 1 to 100 letters, digits, spaces, dots, dashes or underscores.');
  return t;
}

function keyType(name: string): KeyAlgorithm {
  const n = name.trim().toUpperCase();
  if (n === 'RSA') return 'RSA';
  if (n === 'ECC' || n === 'EC' || n === 'ECDSA') return 'ECC';
  if (n === 'ED25519') return 'Ed25519';
  return fail('ValidationFailed', `Key algorithm '${name}' is not supported; use RSA, ECC or Ed25519.`);
}
