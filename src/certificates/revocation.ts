/**
 * Revocation semantics, pure: Keyfactor's reason codes, what a revocation request does to a
 * certificate's state (RFC 5280 5.3.1: certificateHold is the one reversible reason), and the
 * facts a Revocation workflow instance carries. No I/O, no clock.
 */

/** A certificate's revocation as stored: absent (null) means not revoked. */
export interface RevocationState {
  /** RFC 5280 CRLReason: 0-6, 8-10 (6 certificateHold: on hold, reversible). */
  reason: number;
  /** ISO-8601: when the revocation takes effect (the CRL entry's revocationDate). */
  effectiveDate: string;
  comment: string | null;
}

export const CERTIFICATE_HOLD = 6;

/**
 * Keyfactor's RevokeCode values: -1 "Remove from hold" and 7/8 "Remove from CRL" release a
 * certificate on hold (the enum says 8, the table in the description 7: both are accepted);
 * 999 "Unknown" revokes nothing and is refused.
 */
export const REVOKE_CODES: Record<number, string> = {
  [-1]: 'Remove from hold',
  0: 'Unspecified',
  1: 'Key compromised',
  2: 'CA compromised',
  3: 'Affiliation changed',
  4: 'Superseded',
  5: 'Cessation of operation',
  6: 'Certificate hold',
  7: 'Remove from CRL',
  8: 'Remove from CRL',
};

const RELEASE_CODES = new Set([-1, 7, 8]);

/** What a revocation request asks for, read from its Reason. */
export type RevocationAction = { kind: 'revoke'; reason: number } | { kind: 'hold' } | { kind: 'release' };

export function actionOf(code: number): RevocationAction | { kind: 'invalid'; message: string } {
  if (!Number.isInteger(code) || !(code in REVOKE_CODES))
    return {
      kind: 'invalid',
      message: `Reason ${code} is not a revocation reason; use one of ${Object.entries(REVOKE_CODES)
        .map(([k, v]) => `${k} (${v})`)
        .join(', ')}.`,
    };
  if (RELEASE_CODES.has(code)) return { kind: 'release' };
  if (code === CERTIFICATE_HOLD) return { kind: 'hold' };
  return { kind: 'revoke', reason: code };
}

export const reasonName = (code: number): string => REVOKE_CODES[code] ?? `Reason ${code}`;

/**
 * The state after applying an action to a certificate in `current`, or why it cannot be applied.
 * RFC 5280: a certificate on hold may be released or revoked for good; a certificate revoked
 * for any other reason stays revoked; only a certificate on hold may be released.
 */
export function applyRevocation(
  current: RevocationState | null,
  action: RevocationAction,
  effectiveDate: string,
  comment: string | null,
): { ok: true; next: RevocationState | null } | { ok: false; message: string } {
  if (current && current.reason !== CERTIFICATE_HOLD)
    return { ok: false, message: `it is revoked already (${reasonName(current.reason)}, effective ${current.effectiveDate}); a revocation is permanent.` };
  switch (action.kind) {
    case 'release':
      if (!current) return { ok: false, message: 'it is not on hold; only a certificate on hold (reason 6) can be released.' };
      return { ok: true, next: null };
    case 'hold':
      if (current) return { ok: false, message: `it is on hold already (since ${current.effectiveDate}).` };
      return { ok: true, next: { reason: CERTIFICATE_HOLD, effectiveDate, comment } };
    case 'revoke':
      return { ok: true, next: { reason: action.reason, effectiveDate, comment } };
  }
}

/** Keyfactor's CertState / CertStateString for a certificate (Countersign's 6 marks expiry). */
export function certState(revocation: RevocationState | null | undefined, expired: boolean): { state: number; text: string } {
  if (revocation) return { state: 2, text: 'Revoked' };
  return expired ? { state: 6, text: 'Expired' } : { state: 1, text: 'Active' };
}

/** The facts of one revocation request, as the server records them. */
export interface RevocationFacts {
  certificateId: number;
  serialNumber: string;
  thumbprint: string;
  issuedDn: string;
  issuedCn: string | null;
  caName: string;
  code: number;
  effectiveDate: string;
  comment: string;
  requester: { id: number; name: string };
}

/**
 * InitialData of a Revocation instance: Keyfactor's documented fields (CertificateAuthority,
 * CertificateId, SerialNumberString, Thumbprint, RevokeCode, EffectiveDate, Comment, Delegate,
 * OperationStart) plus the lower-case names the $(certid), $(cn), $(cmnt), $(code) tokens read.
 * Every value comes from the server's records or the checked request; none is free text from
 * the certificate's requester except the Comment.
 */
export function revocationInitialData(f: RevocationFacts, operationStart: string): Record<string, string | number | boolean | null> {
  return {
    CertificateAuthority: f.caName,
    CertificateId: f.certificateId,
    SerialNumberString: f.serialNumber,
    Thumbprint: f.thumbprint,
    RevokeCode: f.code,
    EffectiveDate: f.effectiveDate,
    Comment: f.comment,
    Delegate: false,
    OperationStart: operationStart,
    certid: f.certificateId,
    cn: f.issuedCn ?? '',
    dn: f.issuedDn,
    serial: f.serialNumber,
    thumbprint: f.thumbprint,
    code: f.code,
    cmnt: f.comment,
    CA: f.caName,
    requester: f.requester.name,
  };
}

/** What the server keeps apart in trustedData: the RevokeStep acts on these only. */
export interface TrustedRevocation {
  RevocationCertificateId: number;
  RevocationCode: number;
  RevocationEffectiveDate: string;
  RevocationComment: string;
  RevocationRequester: string;
}

export function trustedRevocation(f: RevocationFacts): TrustedRevocation {
  return {
    RevocationCertificateId: f.certificateId,
    RevocationCode: f.code,
    RevocationEffectiveDate: f.effectiveDate,
    RevocationComment: f.comment,
    RevocationRequester: f.requester.name,
  };
}

/** The revocation an instance was started for, read from its trusted data; null for others. */
export function trustedRevocationOf(trusted: Record<string, unknown>): TrustedRevocation | null {
  const id = trusted.RevocationCertificateId;
  const code = trusted.RevocationCode;
  if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0 || typeof code !== 'number') return null;
  return {
    RevocationCertificateId: id,
    RevocationCode: code,
    RevocationEffectiveDate: String(trusted.RevocationEffectiveDate ?? ''),
    RevocationComment: String(trusted.RevocationComment ?? ''),
    RevocationRequester: String(trusted.RevocationRequester ?? ''),
  };
}
