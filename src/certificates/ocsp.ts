import { createHash, type KeyObject, sign } from 'node:crypto';
import {
  type CertID,
  CertStatus,
  id_pkix_ocsp_nonce,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, CRLReason, Extension } from '@peculiar/asn1-x509';

/*
 * OCSP (RFC 6960) encoding and decoding: requests in, responses out. The status of each
 * certificate comes from the caller; this module only speaks the protocol.
 */

const SHA1 = '1.3.14.3.2.26';
const SHA256 = '2.16.840.1.101.3.4.2.1';
const HASHES: Record<string, string> = { [SHA1]: 'sha1', [SHA256]: 'sha256' };
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

export class OcspMalformed extends Error {}

export interface OcspQuery {
  certId: CertID;
  /** Upper-case hex of the serial number's content octets, as Countersign stores serials. */
  serialNumber: string;
  /** Node's name of the CertID hash ('sha1', 'sha256'); null when not one Countersign computes. */
  hash: string | null;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
}

export interface ParsedOcspRequest {
  queries: OcspQuery[];
  /** The requester's nonce extension value (RFC 8954 / 6960 4.4.1), DER of the OCTET STRING content; null if none. */
  nonce: Uint8Array | null;
}

/** Decodes a DER OCSPRequest; throws OcspMalformed for anything else. */
export function parseOcspRequest(der: Uint8Array): ParsedOcspRequest {
  let req: OCSPRequest;
  try {
    req = AsnConvert.parse(der, OCSPRequest);
  } catch (e) {
    throw new OcspMalformed(`not a DER OCSPRequest: ${(e as Error).message}`);
  }
  const list = req.tbsRequest.requestList ?? [];
  if (list.length === 0 || list.length > 32) throw new OcspMalformed('an OCSP request must ask about 1 to 32 certificates');
  const queries = list.map((r) => {
    const c = r.reqCert;
    return {
      certId: c,
      serialNumber: Buffer.from(c.serialNumber).toString('hex').toUpperCase(),
      hash: HASHES[c.hashAlgorithm.algorithm] ?? null,
      issuerNameHash: Buffer.from(c.issuerNameHash.buffer),
      issuerKeyHash: Buffer.from(c.issuerKeyHash.buffer),
    };
  });
  const nonceExt = req.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  let nonce: Uint8Array | null = null;
  if (nonceExt) {
    nonce = new Uint8Array(nonceExt.extnValue.buffer);
    // RFC 8954: a nonce is 1 to 32 octets (its OCTET STRING, here with tag and length).
    if (nonce.length < 3 || nonce.length > 34) throw new OcspMalformed('the nonce must be 1 to 32 octets');
  }
  return { queries, nonce };
}

/** The hashes a CertID names its issuer by: of the issuer's subject DN and of its public key bits. */
export interface IssuerHashes {
  names: Record<string, Buffer>;
  keys: Record<string, Buffer>;
}

export function issuerHashes(issuerDer: Uint8Array): IssuerHashes {
  const cert = AsnConvert.parse(issuerDer, Certificate);
  const name = Buffer.from(AsnConvert.serialize(cert.tbsCertificate.subject));
  const key = Buffer.from(cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
  const names: Record<string, Buffer> = {};
  const keys: Record<string, Buffer> = {};
  for (const h of Object.values(HASHES)) {
    names[h] = createHash(h).update(name).digest();
    keys[h] = createHash(h).update(key).digest();
  }
  return { names, keys };
}

/** Whether a CertID names this issuer. */
export const isIssuer = (q: OcspQuery, issuer: IssuerHashes): boolean =>
  q.hash !== null && issuer.names[q.hash]!.equals(q.issuerNameHash) && issuer.keys[q.hash]!.equals(q.issuerKeyHash);

export type OcspStatus = { kind: 'good' } | { kind: 'unknown' } | { kind: 'revoked'; at: Date; reason: number };

export interface OcspAnswer {
  certId: CertID;
  status: OcspStatus;
  thisUpdate: Date;
  nextUpdate: Date;
}

/** The delegated responder that signs: its certificate and its (P-256) private key. */
export interface OcspResponder {
  certificateDer: Uint8Array;
  privateKey: KeyObject;
  /** SHA-1 of the responder's public key bits: its ResponderID byKey. */
  keyHash: Buffer;
}

/** A responder from its certificate (DER) and private key. */
export function ocspResponder(certificateDer: Uint8Array, privateKey: KeyObject): OcspResponder {
  const certificate = AsnConvert.parse(certificateDer, Certificate);
  const keyHash = createHash('sha1').update(Buffer.from(certificate.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)).digest();
  return { certificateDer, privateKey, keyHash };
}

/** A signed, successful OCSPResponse (DER) with one SingleResponse per answer. */
export function signedOcspResponse(responder: OcspResponder, answers: OcspAnswer[], producedAt: Date, nonce: Uint8Array | null): Uint8Array {
  const tbs = new ResponseData({
    responderID: new ResponderID({ byKey: new OctetString(responder.keyHash) }),
    producedAt: whole(producedAt),
    responses: answers.map(
      (a) =>
        new SingleResponse({
          certID: a.certId,
          certStatus: statusOf(a.status),
          thisUpdate: whole(a.thisUpdate),
          nextUpdate: whole(a.nextUpdate),
        }),
    ),
    // The nonce goes back exactly as asked (its OCTET STRING, tag and length included).
    responseExtensions: nonce ? [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: new OctetString(nonce) })] : undefined,
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign('sha256', tbsDer, { key: responder.privateKey, dsaEncoding: 'der' });
  // The outer layers are assembled as DER directly: re-encoding the decoded responder certificate
  // through the schema library on every answer cost more than the signature itself.
  const basic = tlv(0x30, [tbsDer, ECDSA_WITH_SHA256_DER, tlv(0x03, [Buffer.from([0]), signature]), tlv(0xa0, [tlv(0x30, [Buffer.from(responder.certificateDer)])])]);
  return new Uint8Array(tlv(0x30, [Buffer.from([0x0a, 0x01, OCSPResponseStatus.successful]), tlv(0xa0, [tlv(0x30, [BASIC_OID_DER, tlv(0x04, [basic])])])]));
}

/** DER: tag, definite length, content. */
function tlv(tag: number, parts: Buffer[]): Buffer {
  const content = Buffer.concat(parts);
  const n = content.length;
  const len =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : n < 0x10000
          ? Buffer.from([0x82, n >> 8, n & 0xff])
          : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const ECDSA_WITH_SHA256_DER = Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 })));
/** OBJECT IDENTIFIER id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1). */
const BASIC_OID_DER = Buffer.from('06092b0601050507300101', 'hex');

/** An unsigned error response (RFC 6960 2.3): malformedRequest, internalError, tryLater, unauthorized. */
export function ocspError(status: OCSPResponseStatus): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));
}

export { OCSPResponseStatus };

function statusOf(s: OcspStatus): CertStatus {
  if (s.kind === 'good') return new CertStatus({ good: null });
  if (s.kind === 'unknown') return new CertStatus({ unknown: null });
  return new CertStatus({ revoked: new RevokedInfo({ revocationTime: whole(s.at), revocationReason: s.reason === 0 ? undefined : new CRLReason(s.reason) }) });
}

/** GeneralizedTime in OCSP carries no fractions of a second. */
const whole = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);
