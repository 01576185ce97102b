import type { CaConnector } from '../ca/connector.ts';
import { NO_SECURITY_EVENTS, type SecurityEvents } from '../observability/logger.ts';
import { type CaAlgorithm, type CaKeyHome, createEmbeddedCa, EmbeddedCa, pkcs11KeysOf } from '../ca/embedded-ca.ts';
import { Pkcs11Token, type Pkcs11Settings } from '../ca/pkcs11/token.ts';
import { CaImportError, importCa, type CaImport } from '../ca/import.ts';
import { type KeyProtector, resolveKeyProtector, type KeySource } from '../ca/key-protection.ts';
import { buildPkcs12 } from '../certificates/pkcs12.ts';
import { defaultTemplate } from '../certificates/policy.ts';
import { retainsKeys } from '../certificates/request.ts';
import type { Template } from '../certificates/types.ts';
import { CountersignError, fail } from '../domain/errors.ts';
import { grants, P } from '../security/permissions.ts';
import type { Principal } from '../security/principal.ts';
import type { CaRecord, CertificateRecord } from '../store/certificate-store.ts';
import { AcmeUpstreamCa, type AcmeCaInput, type AcmeEnvironment } from '../ca/acme-upstream/acme-ca.ts';
import { ChallengeResponder } from '../ca/acme-upstream/challenges.ts';
import { pemBlocks } from '../certificates/x509.ts';
import { DEFAULT_EGRESS_POLICY, type EgressPolicy } from '../domain/egress.ts';
import type { Store } from '../store/store.ts';
import { Enrollment } from './enrollment.ts';
import { Revocation } from './revocation.ts';
import { RevocationStatus, type RevocationStatusOptions } from './revocation-status.ts';
import type { WorkflowService } from './workflow.ts';

export interface CertificateOptions {
  keySource: KeySource;
  /** Where ACME CAs may be reached (the REST steps' egress policy); default: public addresses only. */
  egress?: EgressPolicy;
  /** The embedded CA's keys in a PKCS#11 token instead of the store (COUNTERSIGN_PKCS11_*). */
  pkcs11?: Pkcs11Settings;
  /** Time limits of ACME upstream CAs: one HTTP call, and a whole order (validation and issuance). */
  acme?: { timeoutMs: number; orderTimeoutMs: number };
  algorithm: CaAlgorithm;
  log: (msg: string) => void;
  /** Where certificate.issued / certificate.deleted go (docs/operations.md "Logs"). */
  events?: SecurityEvents;
  /** The base URL relying parties reach this server at, written into issued certificates (CRL, OCSP); none: left out. */
  publicBaseUrl?: () => string | null;
  /** CRL and OCSP validity and caching. */
  revocationStatus?: RevocationStatusOptions;
}

/**
 * The certificate side's shell: the CAs (opened once at start), templates, and the inventory.
 * Enrollment lives in enrollment.ts.
 */
export class CertificateService {
  readonly enrollment: Enrollment;
  readonly revocation: Revocation;
  /** The embedded CAs' CRLs and OCSP answers. */
  readonly revocationStatus: RevocationStatus;
  private readonly cas = new Map<number, CaConnector>();
  /** The http-01 answers of ACME orders in progress, in the store (any node serves them at /.well-known/acme-challenge/). */
  readonly challenges: ChallengeResponder;
  private readonly acmeEnv: AcmeEnvironment;

  private constructor(
    readonly store: Store,
    readonly protector: KeyProtector,
    workflow: WorkflowService,
    readonly events: SecurityEvents,
    private readonly opts: CertificateOptions,
    private readonly token: Pkcs11Token | null,
  ) {
    const orderTimeoutMs = opts.acme?.orderTimeoutMs ?? 120_000;
    this.challenges = new ChallengeResponder(store.certificates, orderTimeoutMs + 60_000);
    this.acmeEnv = {
      orders: store.certificates,
      egress: opts.egress ?? DEFAULT_EGRESS_POLICY,
      timeoutMs: opts.acme?.timeoutMs ?? 30_000,
      orderTimeoutMs,
      challenges: this.challenges,
    };
    this.enrollment = new Enrollment(this, workflow);
    this.revocationStatus = new RevocationStatus(store, (id) => this.cas.get(id), opts.revocationStatus);
    this.revocation = new Revocation(this, workflow, this.revocationStatus);
  }

  /**
   * Opens the CAs: on a fresh store creates the embedded root and issuing CA and the default
   * template. Throws (the server must not start) when the key-encryption key is missing or wrong.
   */
  static async open(store: Store, workflow: WorkflowService, opts: CertificateOptions): Promise<CertificateService> {
    const existing = await store.certificates.listCas();
    const protector = resolveKeyProtector(opts.keySource, existing.length > 0, opts.log);
    const token = opts.pkcs11 ? Pkcs11Token.open(opts.pkcs11) : null;
    if (existing.length === 0) {
      const ca = await CertificateService.createCa(store, opts, token ? { kind: 'pkcs11', token } : { kind: 'store', protector }, 'CountersignIssuingCA');
      opts.log(`Created the embedded certificate authority ${ca.hostName}\\${ca.logicalName} (${opts.algorithm}${token ? `, keys in PKCS#11 token '${token.tokenLabel}'` : ''}).`);
    } else if (token && !existing.some((r) => pkcs11KeysOf(r))) {
      // A token configured for a store whose CAs keep their keys in the store: a new CA beside them, with its keys in the token.
      const ca = await CertificateService.createCa(store, opts, { kind: 'pkcs11', token }, 'CountersignHsmIssuingCA');
      opts.log(`Created the certificate authority ${ca.hostName}\\${ca.logicalName} (${opts.algorithm}) with its keys in PKCS#11 token '${token.tokenLabel}'.`);
    }
    const service = new CertificateService(store, protector, workflow, opts.events ?? NO_SECURITY_EVENTS, opts, token);
    for (const record of await store.certificates.listCas()) service.cas.set(record.id, await service.loadCa(record));
    await store.certificates.insertTemplateIfNone(defaultTemplate());
    return service;
  }

  /** Imports an existing CA (certificate and key); every node loads it on its next enrollment for it. */
  async importCa(input: CaImport): Promise<CaConnector> {
    let record: Awaited<ReturnType<typeof importCa>>;
    try {
      record = await importCa(input, this.protector);
    } catch (e) {
      if (e instanceof CaImportError) return fail('ValidationFailed', e.message);
      throw e;
    }
    if ((await this.store.certificates.listCas()).some((c) => c.logicalName.toLowerCase() === record.logicalName.toLowerCase()))
      return fail('Conflict', `A certificate authority named '${record.logicalName}' exists already.`);
    const stored = await this.store.certificates.insertCaIfAbsent(record);
    await this.loadNewCas();
    return this.caById(stored.id);
  }

  /** Creates and stores an embedded CA; when another node stored one under that name first, its CA is used and keys made in a token are deleted. */
  private static async createCa(store: Store, opts: CertificateOptions, home: CaKeyHome, logicalName: string): Promise<CaRecord> {
    const record = await createEmbeddedCa(opts.algorithm, home, Date.now(), logicalName);
    const stored = await store.certificates.insertCaIfAbsent(record);
    const ours = pkcs11KeysOf(record);
    if (home.kind === 'pkcs11' && ours && pkcs11KeysOf(stored)?.issuingKey.id !== ours.issuingKey.id) {
      await home.token.remove(ours.issuingKey);
      await home.token.remove(ours.rootKey);
    }
    return stored;
  }

  /** The connector of a stored CA, by its kind. */
  private async loadCa(record: CaRecord): Promise<CaConnector> {
    if (record.connector === 'acme') return AcmeUpstreamCa.load(record, this.protector, this.acmeEnv);
    return EmbeddedCa.load(record, this.protector, this.token, { publicBaseUrl: this.opts.publicBaseUrl });
  }

  /**
   * Extension: adds an external ACME CA. Registers an account (a new key, sealed like CA keys)
   * with the directory before anything is stored, so a CA that cannot be reached is not added.
   */
  async addAcmeCa(input: AcmeCaInput): Promise<CaConnector> {
    if (!/^[A-Za-z0-9][\w.-]{0,99}$/.test(input.logicalName)) return fail('ValidationFailed', 'LogicalName must be 1 to 100 letters, digits, dots, dashes or underscores.');
    if (!/^[A-Za-z0-9][\w.-]{0,252}$/.test(input.hostName)) return fail('ValidationFailed', 'HostName must be a host name.');
    let url: URL;
    try {
      url = new URL(input.directoryUrl);
    } catch {
      return fail('ValidationFailed', 'DirectoryUrl must be the https URL of the ACME directory.');
    }
    if (url.protocol !== 'https:') return fail('ValidationFailed', 'DirectoryUrl must be an https URL (RFC 8555 6.1).');
    if (input.caBundlePem !== null && pemBlocks(input.caBundlePem, 'CERTIFICATE').length === 0)
      return fail('ValidationFailed', 'CaBundlePem must hold PEM certificates (the roots to trust for the directory).');
    if ((await this.store.certificates.listCas()).some((c) => c.logicalName.toLowerCase() === input.logicalName.toLowerCase()))
      return fail('Conflict', `A certificate authority named '${input.logicalName}' exists already.`);
    let record: Omit<CaRecord, 'id'>;
    try {
      record = await AcmeUpstreamCa.register(input, this.protector, this.acmeEnv);
    } catch (e) {
      return fail('ValidationFailed', `The ACME account could not be registered: ${(e as Error).message}`);
    }
    const stored = await this.store.certificates.insertCaIfAbsent(record);
    // Another administrator added a CA of that name at the same moment: theirs stays.
    if (stored.sealedKey !== record.sealedKey) return fail('Conflict', `A certificate authority named '${input.logicalName}' exists already.`);
    await this.loadNewCas();
    return this.caById(stored.id);
  }

  /** CAs another node added (imported) since this one started. */
  async loadNewCas(): Promise<void> {
    for (const record of await this.store.certificates.listCas()) if (!this.cas.has(record.id)) this.cas.set(record.id, await this.loadCa(record));
  }

  listCas(): CaConnector[] {
    return [...this.cas.values()];
  }

  caById(id: number): CaConnector {
    return this.cas.get(id) ?? fail('CaUnavailable', `Certificate authority ${id} is not loaded on this node.`);
  }

  chainOf(caId: number | null): Uint8Array[] {
    return caId !== null && this.cas.has(caId) ? this.cas.get(caId)!.chain() : [];
  }

  /** `host\\logical`, or the logical name alone; absent: the first CA the template allows. */
  resolveCa(selector: string | null, template: Template): CaConnector {
    const all = this.listCas();
    if (selector === null || selector.trim() === '') {
      return (
        all.find((c) => template.policy.caIds.length === 0 || template.policy.caIds.includes(c.id)) ??
        fail('EnrollmentRefused', `No certificate authority may issue template '${template.commonName}'.`)
      );
    }
    const s = selector.trim();
    const cut = s.lastIndexOf('\\');
    const host = cut >= 0 ? s.slice(0, cut).replace(/\\+$/, '') : null;
    const logical = cut >= 0 ? s.slice(cut + 1) : s;
    const ca = all.find((c) => c.logicalName.toLowerCase() === logical.toLowerCase() && (host === null || c.hostName.toLowerCase() === host.toLowerCase()));
    return ca ?? fail('ValidationFailed', `No certificate authority '${s}'; known: ${all.map((c) => `${c.hostName}\\${c.logicalName}`).join(', ')}.`);
  }

  async resolveTemplate(name: string | null, patternId: number | null): Promise<Template> {
    if (patternId !== null) return (await this.store.certificates.getTemplate(patternId)) ?? fail('ValidationFailed', `No enrollment pattern has Id ${patternId}.`);
    if (name === null || name.trim() === '') return fail('ValidationFailed', 'Template (the template short name) or EnrollmentPatternId is required.');
    const all = await this.store.certificates.listTemplates();
    const n = name.trim().toLowerCase();
    return (
      all.find((t) => t.commonName.toLowerCase() === n) ??
      all.find((t) => t.displayName.toLowerCase() === n) ??
      fail('ValidationFailed', `No template '${name}'; known: ${all.map((t) => t.commonName).join(', ')}.`)
    );
  }

  // Inventory ------------------------------------------------------------------------------------

  /** Holders of the read permission see every certificate; requesters see those they requested. */
  visibility(p: Principal): { all: boolean } {
    if (grants(p.permissions, P.certificatesRead)) return { all: true };
    if (grants(p.permissions, P.enrollCsr) || grants(p.permissions, P.enrollPfx)) return { all: false };
    return fail(
      'Forbidden',
      `${p.identity.accountName} lacks the permission for this operation; it needs ${P.certificatesRead} (or an enrollment permission, for its own certificates).`,
    );
  }

  async visibleCertificate(id: number, p: Principal): Promise<CertificateRecord> {
    const v = this.visibility(p);
    const cert = await this.store.certificates.getCertificate(id);
    if (!cert || (!v.all && cert.requesterId !== p.identity.id)) return fail('NotFound', `No certificate has Id ${id}.`);
    return cert;
  }

  async find(by: { id: number } | { thumbprint: string } | { serialNumber: string; issuerDn: string }, p: Principal): Promise<CertificateRecord> {
    if ('id' in by) return this.visibleCertificate(by.id, p);
    const cert = await this.store.certificates.findCertificate(by);
    if (!cert) return fail('NotFound', 'No certificate matches.');
    return this.visibleCertificate(cert.id, p);
  }

  /** PKCS#12 of a certificate whose key Countersign holds; a key delivered once is dropped after. */
  async recover(cert: CertificateRecord, password: string, includeChain: boolean, p: Principal): Promise<Buffer> {
    const own = cert.requesterId === p.identity.id;
    if (!own && !grants(p.permissions, P.certificatesRecover))
      fail('Forbidden', `${p.identity.accountName} may not recover the key of certificate ${cert.id}; it needs ${P.certificatesRecover}.`);
    if (!cert.sealedKey) return fail('KeyNotRecoverable', `Countersign holds no private key for certificate ${cert.id}.`);
    const pkcs8 = this.protector.open(cert.sealedKey, `certificate-key:${cert.requestId}`);
    const pfx = await buildPkcs12(pkcs8, [cert.der, ...(includeChain ? this.chainOf(cert.caId) : [])], password);
    const template = cert.templateId === null ? null : await this.store.certificates.getTemplate(cert.templateId);
    if (!template || !retainsKeys(template)) await this.store.certificates.clearCertificateKey(cert.id);
    await this.store.certificates.addCertificateHistory(cert.id, { at: new Date().toISOString(), username: p.identity.accountName, action: 'KeyRecovered', comment: null });
    return pfx;
  }

  /**
   * Revocation as far as this branch knows it: a `Revoked` entry in the certificate's history
   * (once; false when it is revoked already). The revocation service (CRL, OCSP) replaces this
   * when merged; ACME's revokeCert calls only this method.
   */
  /**
   * A revocation asked for over ACME (revokeCert): through the same Revocation workflow as
   * POST /Certificates/Revoke, so CRL and OCSP show it; the ACME actor is the requester. False when
   * the certificate is revoked already. Refusals other than that are the caller's to report.
   */
  async revokeCertificate(cert: CertificateRecord, reason: number, actor: string): Promise<boolean> {
    const known = await this.store.findIdentityByName(actor);
    const identity = known ?? { id: 0, accountName: actor, identityType: 'User' as const, sid: null, email: null, passwordHash: null, createdAt: new Date().toISOString() };
    try {
      await this.revocation.revoke(
        { certificateIds: [cert.id], reason, comment: `Revoked over ACME by ${actor}.`, effectiveDate: null, collectionId: null },
        { identity, roleIds: [], permissions: [] },
      );
      return true;
    } catch (e) {
      if (e instanceof CountersignError && e.errorName === 'RevocationRefused' && (cert.revocation?.reason ?? null) !== null) return false;
      throw e;
    }
  }
}
