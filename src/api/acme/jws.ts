import * as jose from 'jose';
import { AcmeProblem, acmeFail } from '../../domain/acme/problems.ts';
import type { AcmeAccount, AcmeProfile } from '../../domain/acme/types.ts';
import type { AccountKey, AcmeService } from '../../service/acme/acme-service.ts';

/** Signature algorithms accepted for account keys (RFC 8555 §6.2); HMAC and "none" never. */
export const ACCOUNT_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'EdDSA', 'Ed25519'];

export interface VerifiedRequest {
  /** Null: POST-as-GET (empty payload). */
  payload: Record<string, unknown> | null;
  header: jose.ProtectedHeaderParameters;
  /** The account the kid names (kid requests). */
  account: AcmeAccount | null;
  /** The key the jwk carries (jwk requests). */
  key: AccountKey | null;
}

export async function keyOf(jwk: unknown): Promise<AccountKey> {
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) return acmeFail('malformed', 'jwk must be a JSON Web Key object.');
  const j = jwk as jose.JWK;
  if ('d' in j || 'k' in j || 'p' in j) acmeFail('badPublicKey', 'jwk must be a public key.');
  if (j.kty !== 'EC' && j.kty !== 'RSA' && j.kty !== 'OKP') acmeFail('badPublicKey', 'jwk must be an EC, RSA or OKP (Ed25519) public key.');
  if (j.kty === 'RSA' && Buffer.from(String(j.n ?? ''), 'base64url').length * 8 < 2048) acmeFail('badPublicKey', 'RSA account keys must have at least 2048 bits.');
  try {
    return { jwk: { kty: j.kty, crv: j.crv, x: j.x, y: j.y, n: j.n, e: j.e }, thumbprint: await jose.calculateJwkThumbprint(j, 'sha256') };
  } catch {
    return acmeFail('badPublicKey', 'jwk is not a usable public key.');
  }
}

/**
 * Checks a flattened JWS request (RFC 8555 §6.2-6.5): shape, algorithm, the URL it was signed
 * for, a nonce used once, jwk xor kid (as the endpoint wants), the signature, then the payload.
 */
export async function verifyJws(
  service: AcmeService,
  profile: AcmeProfile,
  body: unknown,
  opts: { url: string; accountUrlPrefix: string; keyBy: 'jwk' | 'kid' | 'either' },
): Promise<VerifiedRequest> {
  const jws = body as Record<string, unknown> | undefined;
  if (!jws || typeof jws !== 'object' || Array.isArray(jws)) return acmeFail('malformed', 'The request body must be a flattened JWS (application/jose+json).');
  if (typeof jws.protected !== 'string' || typeof jws.payload !== 'string' || typeof jws.signature !== 'string')
    acmeFail('malformed', 'The JWS must have string fields protected, payload and signature (flattened serialization).');
  if ('header' in jws || 'signatures' in jws) acmeFail('malformed', 'Unprotected headers and multiple signatures are not allowed.');
  let header: jose.ProtectedHeaderParameters;
  try {
    header = jose.decodeProtectedHeader(jws as unknown as jose.FlattenedJWS);
  } catch {
    return acmeFail('malformed', 'The JWS protected header is not base64url JSON.');
  }
  if (typeof header.alg !== 'string' || !ACCOUNT_ALGORITHMS.includes(header.alg))
    throw new AcmeProblem('badSignatureAlgorithm', `Algorithm '${String(header.alg).slice(0, 20)}' is not accepted; use one of ${ACCOUNT_ALGORITHMS.join(', ')}.`);
  if (header.url !== opts.url) acmeFail('unauthorized', `The JWS url header must be the URL this request was sent to (${opts.url}).`);
  if (typeof header.nonce !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(header.nonce)) acmeFail('badNonce', 'The JWS needs a nonce from newNonce.');
  if (!(await service.consumeNonce(header.nonce as string))) acmeFail('badNonce', 'The nonce is unknown, used or expired; get a fresh one from the Replay-Nonce header.');
  const hasJwk = header.jwk !== undefined;
  const hasKid = header.kid !== undefined;
  if (hasJwk === hasKid) acmeFail('malformed', 'The JWS must carry exactly one of jwk and kid.');
  if (hasJwk && opts.keyBy === 'kid') acmeFail('malformed', 'This request must be signed by an account: use kid, not jwk.');
  if (hasKid && opts.keyBy === 'jwk') acmeFail('malformed', 'This request must carry the key itself (jwk).');
  let account: AcmeAccount | null = null;
  let key: AccountKey | null = null;
  let publicJwk: jose.JWK;
  if (hasJwk) {
    key = await keyOf(header.jwk);
    publicJwk = key.jwk;
  } else {
    const kid = String(header.kid);
    if (!kid.startsWith(opts.accountUrlPrefix) || !/^[A-Za-z0-9_-]{1,64}$/.test(kid.slice(opts.accountUrlPrefix.length)))
      acmeFail('accountDoesNotExist', 'kid must be an account URL of this directory.');
    account = await service.findAccount(profile, kid.slice(opts.accountUrlPrefix.length));
    publicJwk = account.jwk as jose.JWK;
  }
  let verified: jose.FlattenedVerifyResult;
  try {
    const k = await jose.importJWK(publicJwk, header.alg);
    verified = await jose.flattenedVerify(jws as unknown as jose.FlattenedJWSInput, k, { algorithms: ACCOUNT_ALGORITHMS });
  } catch {
    return acmeFail('malformed', 'The JWS signature does not verify with the key (or the algorithm does not fit the key).');
  }
  const text = new TextDecoder().decode(verified.payload);
  if (text === '') return { payload: null, header, account, key };
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return acmeFail('malformed', 'The JWS payload is not JSON.');
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) acmeFail('malformed', 'The JWS payload must be a JSON object (or empty for POST-as-GET).');
  return { payload: payload as Record<string, unknown>, header, account, key };
}
