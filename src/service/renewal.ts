import { checkPolicy } from '../certificates/policy.ts';
import { describeCertificate } from '../certificates/describe.ts';
import type { PublicKeyInfo, Template } from '../certificates/types.ts';
import { bytes, subtle, x509 } from '../certificates/x509.ts';
import { CountersignError, fail } from '../domain/errors.ts';
import { StepFailure } from '../domain/step-type.ts';
import type { Instance, JsonObject } from '../domain/types.ts';
import type { CertificateRecord, RequestRecord } from '../store/certificate-store.ts';
import type { CertificateAuthorities, Enrollment } from './enrollment.ts';

/** Keyfactor's RenewalType: what GET /Enrollment/AvailableRenewal answers. */
export const RenewalType = { None: 0, Seamless: 1, OneClick: 2, Manual: 4 } as const;

export interface RenewalPlan {
  template: Template;
  caId: number;
  /** PFX: a new key pair of the same type and size; CSR: the certificate's own public key again. */
  kind: 'PFX' | 'CSR';
}

export interface RenewOptions {
  /** Who asked (Expiration instance, API call): a retry with the same key finds the first renewal. */
  idempotencyKey: string;
  actor: string;
  /** A template short name or CA name other than the certificate's own (ExpirationRenewal's Template and CA). */
  template?: string | null;
  ca?: string | null;
}

export interface RenewOutcome {
  certificate: CertificateRecord;
  requestId: number;
  created: boolean;
}

/**
 * Renewal: a new certificate for the same subject and SANs, from the same template and CA (unless
 * told otherwise), recorded as a request of its own and linked old -> new. A key Countersign
 * generated (PFX enrollment) is replaced by a new one of the same type and size, kept sealed for
 * the owner to recover; a CSR's key is certified again only when the template allows key reuse.
 * The template's policy as it is now applies: a template that refuses now refuses the renewal.
 */
export class Renewal {
  constructor(
    private readonly certs: CertificateAuthorities,
    private readonly enrollment: Enrollment,
  ) {}

  private get store() {
    return this.certs.store;
  }

  /** Why this certificate cannot be renewed, or the plan; never throws for a refusal. */
  async plan(cert: CertificateRecord, opts: Pick<RenewOptions, 'template' | 'ca'> = {}): Promise<RenewalPlan | { refused: string }> {
    if (cert.requestId === null) return { refused: `Certificate ${cert.id} was not issued through Countersign; enroll for a new one instead.` };
    const request = await this.store.certificates.getRequest(cert.requestId);
    if (!request) return { refused: `The request of certificate ${cert.id} no longer exists.` };
    let template: Template | null;
    try {
      template = opts.template
        ? await this.certs.resolveTemplate(opts.template, null)
        : cert.templateId === null
          ? null
          : await this.store.certificates.getTemplate(cert.templateId);
    } catch (e) {
      if (e instanceof CountersignError) return { refused: e.message };
      throw e;
    }
    if (!template) return { refused: `The template of certificate ${cert.id} no longer exists.` };
    let caId = cert.caId ?? request.caId;
    if (opts.ca) {
      try {
        caId = this.certs.resolveCa(opts.ca, template).id;
      } catch (e) {
        if (e instanceof CountersignError) return { refused: e.message };
        throw e;
      }
    }
    const kind = request.kind;
    if (kind === 'CSR' && !template.policy.allowKeyReuse)
      return {
        refused: `Certificate ${cert.id} was enrolled with a CSR, so Countersign does not hold its key, and template '${template.commonName}' does not allow key reuse (TemplatePolicy.AllowKeyReuse); enroll with a new CSR instead.`,
      };
    const facts = describeCertificate(cert.der);
    const violations = checkPolicy(template, {
      enrollmentType: kind,
      key: facts.key,
      subjectParts: facts.subjectParts,
      sans: facts.sans,
      caId,
      additionalFields: {},
      requester: cert.requesterName ?? request.requesterName,
    });
    if (violations.length)
      return { refused: `Template '${template.commonName}' refuses the renewal of certificate ${cert.id}: ${violations.map((v) => `${v.rule}: ${v.message}`).join(' ')}` };
    return { template, caId, kind };
  }

  /** Renews once per idempotency key; throws EnrollmentRefused when the renewal is not possible. */
  async renew(cert: CertificateRecord, opts: RenewOptions): Promise<RenewOutcome> {
    const earlier = await this.store.alerts.findRenewalByKey(opts.idempotencyKey);
    if (earlier) return this.finish(earlier.id, cert, earlier.requestId, false, opts.actor);
    const plan = await this.plan(cert, opts);
    if ('refused' in plan) return fail('EnrollmentRefused', plan.refused);
    const request = (await this.store.certificates.getRequest(cert.requestId!))!;
    const facts = describeCertificate(cert.der);
    const subject = new x509.X509Certificate(bytes(cert.der)).subject;
    const generated = plan.kind === 'PFX' ? await generateKeyLike(facts.key) : null;
    const publicKey = generated ? generated.spki : new Uint8Array(new x509.X509Certificate(bytes(cert.der)).publicKey.rawData);
    const keyLabel = `request-key:${globalThis.crypto.randomUUID()}`;
    const created = await this.store.certificates.createRequest({
      kind: plan.kind,
      // The renewed certificate belongs to the old one's owner, whoever triggered the renewal.
      requesterId: cert.requesterId ?? request.requesterId,
      requesterName: cert.requesterName ?? request.requesterName,
      templateId: plan.template.id,
      caId: plan.caId,
      data: {
        issue: {
          subject,
          publicKey: Buffer.from(publicKey).toString('base64'),
          sans: facts.sans,
          validityDays: plan.template.policy.validityDays,
          keyUsage: plan.template.keyUsage,
          extendedKeyUsages: plan.template.extendedKeyUsages.map((e) => e.oid),
          keyType: facts.key.algorithm,
          keySize: facts.key.bits,
        },
        metadata: cert.metadata,
        includeChain: false,
        keyLabel,
        csr: null,
        renewalOf: cert.id,
      } as JsonObject,
      sealedKey: generated ? this.certs.protector.seal(generated.pkcs8, keyLabel) : null,
      createdAt: new Date().toISOString(),
    });
    // A racing retry may have recorded its renewal first: the first one wins, this request stays unused.
    const { renewal, created: isNew } = await this.store.alerts.insertRenewal({
      idempotencyKey: opts.idempotencyKey,
      oldCertificateId: cert.id,
      requestId: created.id,
      at: new Date().toISOString(),
    });
    return this.finish(renewal.id, cert, renewal.requestId, isNew, opts.actor);
  }

  private async finish(renewalId: number, old: CertificateRecord, requestId: number, created: boolean, actor: string): Promise<RenewOutcome> {
    const request = (await this.store.certificates.getRequest(requestId)) as RequestRecord;
    const certificate = await this.enrollment.issueForRequest(request);
    const before = await this.store.alerts.renewalsOf(old.id);
    await this.store.alerts.setRenewalCertificate(renewalId, certificate.id);
    if (!before.by.some((r) => r.id === renewalId))
      await this.store.certificates.addCertificateHistory(old.id, {
        at: new Date().toISOString(),
        username: actor,
        action: 'Renewed',
        comment: `Renewed by certificate ${certificate.id} (request ${requestId}).`,
      });
    return { certificate, requestId, created };
  }

  /** The ExpirationRenewal step's side effect: renew the certificate the Expiration instance is about. */
  async renewForInstance(instance: Instance, config: { template: string | null; ca: string | null }): Promise<{ message: string; variables: JsonObject }> {
    // Only the server's own record says which certificate the instance is for.
    const id = instance.trustedData.certid;
    if (typeof id !== 'number') throw new StepFailure('This instance was not started by an expiration alert: it names no certificate to renew.', false);
    const cert = await this.store.certificates.getCertificate(id);
    if (!cert) throw new StepFailure(`Certificate ${id} no longer exists; nothing to renew.`, false);
    try {
      const out = await this.renew(cert, {
        idempotencyKey: `expiration:${instance.id}`,
        actor: `workflow:${instance.referenceId}`,
        template: config.template,
        ca: config.ca,
      });
      const c = out.certificate;
      return {
        message: `Renewed certificate ${cert.id} as certificate ${c.id} (serial ${c.serialNumber}).`,
        variables: {
          RenewedCertificate: { Id: c.id, SerialNumber: c.serialNumber, Thumbprint: c.thumbprint, NotAfter: c.notAfter, KeyfactorRequestId: out.requestId },
        },
      };
    } catch (e) {
      if (e instanceof CountersignError && e.errorName === 'CaUnavailable') throw new StepFailure(e.message, true);
      if (e instanceof CountersignError) throw new StepFailure(e.message, false);
      throw e;
    }
  }
}

/** A new key pair of the same algorithm and size (RSA bits, EC curve). */
async function generateKeyLike(key: PublicKeyInfo): Promise<{ spki: Uint8Array; pkcs8: Uint8Array }> {
  let gen: RsaHashedKeyGenParams | EcKeyGenParams;
  if (key.algorithm === 'RSA') gen = { name: 'RSASSA-PKCS1-v1_5', modulusLength: key.bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  else if (key.algorithm === 'ECC' && key.curve && ['P-256', 'P-384', 'P-521'].includes(key.curve)) gen = { name: 'ECDSA', namedCurve: key.curve };
  else return fail('EnrollmentRefused', `Countersign cannot make a new ${key.algorithm} key; enroll for a new certificate instead.`);
  const pair = (await subtle.generateKey(gen, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { spki: new Uint8Array(await subtle.exportKey('spki', pair.publicKey)), pkcs8: new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey)) };
}
