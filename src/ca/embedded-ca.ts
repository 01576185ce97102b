import { webcrypto as nodeWebcrypto, randomBytes } from 'node:crypto';
import { publicKeyInfo } from '../certificates/csr.ts';
import { bytes, hex, pemBlocks, subtle, thumbprintOf, toPem, x509 } from '../certificates/x509.ts';
import type { SanMap } from '../certificates/types.ts';
import type { CaRecord } from '../store/certificate-store.ts';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber } from '@peculiar/asn1-x509';
import type { CaConnector, CaSigner, CrlContent, IssuedCertificate, IssueRequest, RevocationSigner } from './connector.ts';
import { KeyProtector } from './key-protection.ts';
import { Pkcs11Error, type Pkcs11Token, type TokenKeyRef } from './pkcs11/token.ts';

const webcrypto = nodeWebcrypto as unknown as Crypto;

export type CaAlgorithm = 'P-256' | 'P-384' | 'RSA-3072';
export const CA_ALGORITHMS: CaAlgorithm[] = ['P-256', 'P-384', 'RSA-3072'];

/** WebCrypto parameters to generate, import and sign with a CA key of each kind. */
export function signingParams(alg: CaAlgorithm | { algorithm: string; bits: number; curve: string | null }) {
  const kind = typeof alg === 'string' ? alg : alg.algorithm === 'RSA' ? 'RSA-3072' : alg.curve === 'P-384' ? 'P-384' : alg.curve === 'P-521' ? 'P-521' : 'P-256';
  if (kind === 'RSA-3072') {
    const a = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { generate: { ...a, modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]) }, import: a, sign: a };
  }
  const curve = kind as 'P-256' | 'P-384' | 'P-521';
  const hash = curve === 'P-256' ? 'SHA-256' : curve === 'P-384' ? 'SHA-384' : 'SHA-512';
  return { generate: { name: 'ECDSA', namedCurve: curve }, import: { name: 'ECDSA', namedCurve: curve }, sign: { name: 'ECDSA', hash } };
}

/** RFC 5280 serial numbers: 16 random bytes (>= 64 bits of entropy), positive, never zero. */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return hex(b);
}

const DAY = 86_400_000;
/** Whole seconds: certificates carry no milliseconds. */
const at = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);

/** .NET X509KeyUsageFlags (Keyfactor's KeyUsage integer) to the X.509 bit flags. */
export function keyUsageFlags(dotnet: number): number {
  const F = x509.KeyUsageFlags;
  const map: [number, number][] = [
    [128, F.digitalSignature],
    [64, F.nonRepudiation],
    [32, F.keyEncipherment],
    [16, F.dataEncipherment],
    [8, F.keyAgreement],
    [4, F.keyCertSign],
    [2, F.cRLSign],
    [1, F.encipherOnly],
    [32768, F.decipherOnly],
  ];
  return map.reduce((acc, [d, f]) => (dotnet & d ? acc | f : acc), 0);
}

/** Where a new embedded CA's keys are made: in the store (sealed), or in a PKCS#11 token. */
export type CaKeyHome = { kind: 'store'; protector: KeyProtector } | { kind: 'pkcs11'; token: Pkcs11Token };

/** What a CA record's `config.pkcs11` holds: which token and which keys in it (CKA_ID and label). */
export interface Pkcs11KeyConfig {
  token: string;
  issuingKey: TokenKeyRef;
  rootKey: TokenKeyRef;
}

/**
 * Creates a root and an issuing CA under it; returns the record to store. Keys made in the store
 * are sealed into it; keys made in a PKCS#11 token stay there (the record names them).
 */
export async function createEmbeddedCa(alg: CaAlgorithm, home: CaKeyHome | KeyProtector, now = Date.now(), logicalName = 'CountersignIssuingCA'): Promise<Omit<CaRecord, 'id'>> {
  const where: CaKeyHome = home instanceof KeyProtector ? { kind: 'store', protector: home } : home;
  const p = signingParams(alg);
  const tag = hex(randomBytes(4)).toUpperCase();
  const crypto = where.kind === 'pkcs11' ? where.token.crypto : webcrypto;
  const generate = async (role: string) =>
    where.kind === 'pkcs11'
      ? where.token.generate(p.generate as EcKeyGenParams, `countersign-${role}-${tag}`)
      : { keys: (await subtle.generateKey(p.generate, true, ['sign', 'verify'])) as CryptoKeyPair, ref: null };
  const rootKeys = await generate('root');
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: `CN=Countersign Root CA ${tag}, O=Countersign`,
      notBefore: at(now - 60_000),
      notAfter: at(now + 20 * 365 * DAY),
      signingAlgorithm: p.sign,
      keys: rootKeys.keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const issuingKeys = await generate('issuing');
  const issuing = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: `CN=Countersign Issuing CA ${tag}, O=Countersign`,
      issuer: root.subjectName,
      notBefore: at(now - 60_000),
      notAfter: at(now + 10 * 365 * DAY),
      signingAlgorithm: p.sign,
      publicKey: issuingKeys.keys.publicKey,
      signingKey: rootKeys.keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(issuingKeys.keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const common = {
    logicalName,
    hostName: 'countersign',
    chainPem: [issuing.toString('pem'), root.toString('pem')],
    imported: false,
    createdAt: new Date(now).toISOString(),
    connector: 'embedded' as const,
  };
  if (where.kind === 'pkcs11') {
    const pkcs11: Pkcs11KeyConfig = { token: where.token.tokenLabel, issuingKey: issuingKeys.ref!, rootKey: rootKeys.ref! };
    // No key material in the store: the record names the keys in the token.
    return { ...common, sealedKey: '', sealedRootKey: null, config: { pkcs11 } };
  }
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', issuingKeys.keys.privateKey));
  const rootPkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', rootKeys.keys.privateKey));
  return {
    ...common,
    sealedKey: where.protector.seal(pkcs8, `ca:${logicalName}`),
    sealedRootKey: where.protector.seal(rootPkcs8, `ca-root:${logicalName}`),
    config: null,
  };
}

/** Where relying parties fetch revocation status of a CA's certificates (docs/certificates.md). */
export interface PublicationUrls {
  crl: string;
  ocsp: string;
  caIssuers: string;
}

/** Absolute URLs of a CA's CRL, OCSP responder and certificate, given the public base URL. */
export function publicationUrls(baseUrl: string, caId: number): PublicationUrls {
  const base = `${baseUrl.replace(/\/+$/, '')}/pki/${caId}`;
  return { crl: `${base}/crl`, ocsp: `${base}/ocsp`, caIssuers: `${base}/ca.crt` };
}

export interface EmbeddedCaOptions {
  /** The public base URL (asked at each issuance: a test server knows its port only once listening); none: no CDP/AIA. */
  publicBaseUrl?: () => string | null;
}

const OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';
const OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
const CRL_NUMBER = '2.5.29.20';

/** The keys of a CA record that live in a PKCS#11 token, if they do. */
export const pkcs11KeysOf = (record: Pick<CaRecord, 'config'>): Pkcs11KeyConfig | null => (record.config?.pkcs11 as Pkcs11KeyConfig | undefined) ?? null;

/** An embedded CA loaded from its record: the issuing key is opened once, at start. */
export class EmbeddedCa implements CaConnector, RevocationSigner {
  private constructor(
    private readonly record: CaRecord,
    private readonly key: CryptoKey,
    private readonly issuer: x509.X509Certificate,
    private readonly chainCerts: x509.X509Certificate[],
    private readonly signAlg: Algorithm,
    /** The same for every certificate this CA issues: built once. */
    private readonly authorityKeyId: x509.AuthorityKeyIdentifierExtension,
    /** Node's WebCrypto, or the PKCS#11 token's when the key lives there. */
    private readonly crypto: Crypto,
    private readonly tokenLabel: string | null,
    private readonly options: EmbeddedCaOptions = {},
  ) {}

  /** The embedded CA publishes its own CRL and OCSP answers. */
  get publisher(): RevocationSigner {
    return this;
  }

  /** The one way to sign as this CA (certificates here; CRLs and OCSP responses use it too). */
  signer(): CaSigner {
    return { key: this.key, crypto: this.crypto, algorithm: this.signAlg, certificate: this.issuer };
  }

  properties(): Record<string, unknown> {
    return this.tokenLabel === null ? { Embedded: true } : { Embedded: true, KeyStorage: 'PKCS#11', Token: this.tokenLabel };
  }

  get id(): number {
    return this.record.id;
  }
  get logicalName(): string {
    return this.record.logicalName;
  }
  get hostName(): string {
    return this.record.hostName;
  }

  /**
   * Throws KeyProtectionError when the key-encryption key is wrong for this record, Pkcs11Error
   * when its key is in a token that is not configured or does not hold it.
   */
  static async load(record: CaRecord, protector: KeyProtector, token: Pkcs11Token | null = null, options: EmbeddedCaOptions = {}): Promise<EmbeddedCa> {
    const chain = record.chainPem.flatMap((pem) => pemBlocks(pem, 'CERTIFICATE')).map((der) => new x509.X509Certificate(bytes(der)));
    const issuer = chain[0]!;
    const p = signingParams(publicKeyInfo(issuer.publicKey.rawData));
    const aki = await x509.AuthorityKeyIdentifierExtension.create(issuer);
    const inToken = pkcs11KeysOf(record);
    if (inToken) {
      if (!token)
        throw new Pkcs11Error(
          `The key of CA ${record.logicalName} is in the PKCS#11 token '${inToken.token}': set COUNTERSIGN_PKCS11_MODULE, COUNTERSIGN_PKCS11_TOKEN and the PIN (COUNTERSIGN_PKCS11_PIN or _FILE).`,
        );
      const key = await token.privateKey(inToken.issuingKey, p.import as EcKeyImportParams);
      // The key found must be the CA certificate's: sign once and verify with the certificate.
      const probe = new Uint8Array(await token.crypto.subtle.sign(p.sign, key, new Uint8Array([1, 2, 3])));
      if (!(await subtle.verify(p.sign, await issuer.publicKey.export(p.import, ['verify']), probe, new Uint8Array([1, 2, 3]))))
        throw new Pkcs11Error(`The key ${inToken.issuingKey.id} in token '${token.tokenLabel}' is not the key of CA ${record.logicalName}'s certificate.`);
      return new EmbeddedCa(record, key, issuer, chain, p.sign, aki, token.crypto, token.tokenLabel, options);
    }
    const pkcs8 = protector.open(record.sealedKey, `ca:${record.logicalName}`);
    const key = await subtle.importKey('pkcs8', bytes(pkcs8), p.import, false, ['sign']);
    return new EmbeddedCa(record, key, issuer, chain, p.sign, aki, webcrypto, null, options);
  }

  chain(): Uint8Array[] {
    return this.chainCerts.map((c) => new Uint8Array(c.rawData));
  }

  /** The embedded CA signs locally; exactly-once is the caller's record keyed by request id. */
  async issue(req: IssueRequest, _idempotencyKey: string): Promise<IssuedCertificate> {
    const now = Date.now();
    const notAfter = Math.min(now + req.validityDays * DAY, this.issuer.notAfter.getTime());
    const publicKey = new x509.PublicKey(bytes(req.publicKey));
    const subject = new x509.Name(req.subject);
    const sans = sanNames(req.sans);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectKeyIdentifierExtension(hex(await publicKey.getKeyIdentifier('SHA-1'))),
      this.authorityKeyId,
    ];
    const ku = keyUsageFlags(req.keyUsage);
    if (ku) extensions.push(new x509.KeyUsagesExtension(ku, true));
    if (req.extendedKeyUsages.length) extensions.push(new x509.ExtendedKeyUsageExtension(req.extendedKeyUsages, false));
    // RFC 5280 4.2.1.6: with an empty subject the SAN extension must be critical.
    if (sans.length) extensions.push(new x509.SubjectAlternativeNameExtension(sans, subject.toJSON().length === 0));
    const base = this.options.publicBaseUrl?.();
    if (base) {
      // Where relying parties check this certificate: the CRL (CDP) and OCSP (AIA), RFC 5280 4.2.1.13 / 4.2.2.1.
      const urls = publicationUrls(base, this.id);
      extensions.push(new x509.CRLDistributionPointsExtension([urls.crl], false));
      extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: [urls.ocsp], caIssuers: [urls.caIssuers] }, false));
    }
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject,
        issuer: this.issuer.subjectName,
        notBefore: at(now - 60_000),
        notAfter: at(notAfter),
        signingAlgorithm: this.signAlg,
        publicKey,
        signingKey: this.key,
        extensions,
      },
      this.crypto,
    );
    const der = new Uint8Array(cert.rawData);
    return {
      der,
      serialNumber: cert.serialNumber.toUpperCase(),
      thumbprint: await thumbprintOf(der),
      subjectDn: cert.subject,
      issuerDn: cert.issuer,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      signingAlgorithm: signatureName(this.signAlg),
    };
  }

  /** RevocationSigner: the CRL, signed with the issuing key (the one signing path, as issue()). */
  async signCrl(crl: CrlContent): Promise<Uint8Array> {
    const generated = await x509.X509CrlGenerator.create(
      {
        issuer: this.issuer.subjectName,
        thisUpdate: at(crl.thisUpdate.getTime()),
        nextUpdate: at(crl.nextUpdate.getTime()),
        signingAlgorithm: this.signAlg,
        signingKey: this.key,
        extensions: [this.authorityKeyId, new x509.Extension(CRL_NUMBER, false, AsnConvert.serialize(new CRLNumber(crl.number)))],
        entries: crl.entries.map((e) => ({
          serialNumber: e.serialNumber,
          revocationDate: at(e.revocationDate.getTime()),
          // RFC 5280 5.3.1: unspecified (0) should be left out rather than listed.
          reason: e.reason === 0 ? undefined : (e.reason as x509.X509CrlReason),
        })),
      },
      this.crypto,
    );
    return new Uint8Array(generated.rawData);
  }

  /** RevocationSigner: a short-lived delegated OCSP responder certificate for a key held in memory. */
  async issueOcspResponder(publicKey: CryptoKey, notBefore: Date, notAfter: Date): Promise<Uint8Array> {
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: `CN=${this.issuer.subjectName.getField('CN')[0] ?? 'Countersign'} OCSP Responder, O=Countersign`,
        issuer: this.issuer.subjectName,
        notBefore: at(notBefore.getTime()),
        notAfter: at(Math.min(notAfter.getTime(), this.issuer.notAfter.getTime())),
        signingAlgorithm: this.signAlg,
        publicKey,
        signingKey: this.key,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([OCSP_SIGNING], false),
          // id-pkix-ocsp-nocheck (value NULL): relying parties need not check the responder's own status.
          new x509.Extension(OCSP_NOCHECK, false, new Uint8Array([0x05, 0x00])),
          await x509.SubjectKeyIdentifierExtension.create(publicKey),
          this.authorityKeyId,
        ],
      },
      this.crypto,
    );
    return new Uint8Array(cert.rawData);
  }
}

function signatureName(a: Algorithm & { hash?: string }): string {
  const h = (a.hash ?? '').replace('-', '').toLowerCase();
  return a.name === 'ECDSA' ? `${h}ECDSA` : `${h}RSA`;
}

/** SANs as general names; unknown flags are left out (the policy refuses them first). */
function sanNames(sans: SanMap): x509.JsonGeneralName[] {
  const out: x509.JsonGeneralName[] = [];
  const add = (type: x509.GeneralNameType, values: string[] | undefined) => {
    for (const value of values ?? []) out.push({ type, value });
  };
  add('dns', sans.dns);
  add('ip', [...(sans.ip ?? []), ...(sans.ip4 ?? []), ...(sans.ip6 ?? [])]);
  add('url', sans.uri);
  add('email', sans.rfc822);
  add('upn', sans.ms_ntprincipalname);
  return out;
}

export const chainPem = (ca: CaConnector): string[] => ca.chain().map((d) => toPem(d));
