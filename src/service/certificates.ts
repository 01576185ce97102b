import type { CaConnector } from '../ca/connector.ts';
import { NO_SECURITY_EVENTS, type SecurityEvents } from '../observability/logger.ts';
import { createEmbeddedCa, EmbeddedCa, type CaAlgorithm } from '../ca/embedded-ca.ts';
import { CaImportError, importCa, type CaImport } from '../ca/import.ts';
import { type KeyProtector, resolveKeyProtector, type KeySource } from '../ca/key-protection.ts';
import { buildPkcs12 } from '../certificates/pkcs12.ts';
import { defaultTemplate } from '../certificates/policy.ts';
import { retainsKeys } from '../certificates/request.ts';
import type { Template } from '../certificates/types.ts';
import { fail } from '../domain/errors.ts';
import { grants, P } from '../security/permissions.ts';
import type { Principal } from '../security/principal.ts';
import type { CertificateRecord } from '../store/certificate-store.ts';
import type { Store } from '../store/store.ts';
import { Enrollment } from './enrollment.ts';
import type { WorkflowService } from './workflow.ts';

export interface CertificateOptions {
  keySource: KeySource;
  algorithm: CaAlgorithm;
  log: (msg: string) => void;
  /** Where certificate.issued / certificate.deleted go (docs/operations.md "Logs"). */
  events?: SecurityEvents;
}

/**
 * The certificate side's shell: the CAs (opened once at start), templates, and the inventory.
 * Enrollment lives in enrollment.ts.
 */
export class CertificateService {
  readonly enrollment: Enrollment;
  private readonly cas = new Map<number, CaConnector>();

  private constructor(
    readonly store: Store,
    readonly protector: KeyProtector,
    workflow: WorkflowService,
    readonly events: SecurityEvents,
  ) {
    this.enrollment = new Enrollment(this, workflow);
  }

  /**
   * Opens the CAs: on a fresh store creates the embedded root and issuing CA and the default
   * template. Throws (the server must not start) when the key-encryption key is missing or wrong.
   */
  static async open(store: Store, workflow: WorkflowService, opts: CertificateOptions): Promise<CertificateService> {
    const existing = await store.certificates.listCas();
    const protector = resolveKeyProtector(opts.keySource, existing.length > 0, opts.log);
    if (existing.length === 0) {
      const ca = await store.certificates.insertCaIfAbsent(await createEmbeddedCa(opts.algorithm, protector));
      opts.log(`Created the embedded certificate authority ${ca.hostName}\\${ca.logicalName} (${opts.algorithm}).`);
    }
    const service = new CertificateService(store, protector, workflow, opts.events ?? NO_SECURITY_EVENTS);
    for (const record of await store.certificates.listCas()) service.cas.set(record.id, await EmbeddedCa.load(record, protector));
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

  /** CAs another node added (imported) since this one started. */
  async loadNewCas(): Promise<void> {
    for (const record of await this.store.certificates.listCas()) if (!this.cas.has(record.id)) this.cas.set(record.id, await EmbeddedCa.load(record, this.protector));
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
  async revokeCertificate(cert: CertificateRecord, reason: number, actor: string): Promise<boolean> {
    const history = await this.store.certificates.listCertificateHistory(cert.id);
    if (history.some((h) => h.action === 'Revoked')) return false;
    await this.store.certificates.addCertificateHistory(cert.id, { at: new Date().toISOString(), username: actor, action: 'Revoked', comment: `Revoked (reason ${reason}).` });
    this.events.emit('certificate.revoked', { certificateId: cert.id, serialNumber: cert.serialNumber, reason, by: actor });
    return true;
  }
}
