import { createPrivateKey, createPublicKey } from 'node:crypto';
import { CsrError, decodeCsr, nameParts, publicKeyInfo } from '../certificates/csr.ts';
import { checkPolicy } from '../certificates/policy.ts';
import { enrollmentInitialData, mergeSans, requestIdOf, retainsKeys, serverSetData, type EnrollmentFacts } from '../certificates/request.ts';
import type { PublicKeyInfo, SanMap, Template } from '../certificates/types.ts';
import { subtle, toPem, x509 } from '../certificates/x509.ts';
import { CountersignError, fail } from '../domain/errors.ts';
import { isTerminal } from '../domain/status.ts';
import type { Instance, JsonObject } from '../domain/types.ts';
import type { Principal } from '../security/principal.ts';
import { StepFailure } from '../domain/step-type.ts';
import type { CertificateRecord, RequestRecord } from '../store/certificate-store.ts';
import { CaRefusal, type CaConnector } from '../ca/connector.ts';
import type { KeyProtector } from '../ca/key-protection.ts';
import type { Store } from '../store/store.ts';
import type { SecurityEvents } from '../observability/logger.ts';
import type { WorkflowService } from './workflow.ts';

/** What enrollment needs of the certificate service (CertificateService implements it): the CAs, templates and key protection. */
export interface CertificateAuthorities {
  readonly store: Store;
  readonly protector: KeyProtector;
  readonly events: SecurityEvents;
  loadNewCas(): Promise<void>;
  caById(id: number): CaConnector;
  chainOf(caId: number | null): Uint8Array[];
  resolveCa(selector: string | null, template: Template): CaConnector;
  resolveTemplate(name: string | null, patternId: number | null): Promise<Template>;
}

export interface EnrollInput {
  kind: 'CSR' | 'PFX';
  csr: string | null;
  /** CSR enrollment: the unencrypted PKCS#8 a client sends when the key is to be retained. */
  privateKey: string | null;
  subject: string | null;
  keyType: string | null;
  keyLength: number | null;
  curve: string | null;
  template: string | null;
  enrollmentPatternId: number | null;
  certificateAuthority: string | null;
  sans: SanMap;
  metadata: Record<string, string>;
  additionalFields: Record<string, string>;
  includeChain: boolean;
  /** The caller receives the generated key in this answer (PFX/PEM); false: kept for one Recover. */
  deliverKeyNow: boolean;
  /** ACME orders: account, identifiers and validation results, shown to approvers as InitialData.ACME. */
  acme?: JsonObject;
}

export type Disposition = 'ISSUED' | 'PENDING' | 'DENIED' | 'FAILED';

export interface EnrollOutcome {
  disposition: Disposition;
  message: string;
  requestId: number;
  instance: { id: string; referenceId: number } | null;
  certificate: CertificateRecord | null;
  /** Leaf first, then the chain when IncludeChain: DER. */
  certificates: Uint8Array[];
  /** PFX enrollment issued at once: the generated key (PKCS#8), to be packed for the caller only. */
  pkcs8: Uint8Array | null;
}

/** How the CA is asked to sign, frozen in the request when it is made. */
interface IssueParams {
  subject: string;
  publicKey: string;
  sans: SanMap;
  validityDays: number;
  keyUsage: number;
  extendedKeyUsages: string[];
  keyType: string;
  keySize: number;
}

/**
 * Enrollment: a request checked against its template, recorded with a KeyfactorRequestId, run
 * through the Enrollment workflow bound to the template (or issued at once when none is), and
 * issued through the CA connector exactly once per request.
 */
export class Enrollment {
  constructor(
    private readonly certs: CertificateAuthorities,
    private readonly workflow: WorkflowService,
  ) {}

  private get store() {
    return this.certs.store.certificates;
  }

  async enroll(input: EnrollInput, principal: Principal): Promise<EnrollOutcome> {
    const template = await this.certs.resolveTemplate(input.template, input.enrollmentPatternId);
    if (input.certificateAuthority) await this.certs.loadNewCas().catch(() => {});
    const ca = this.certs.resolveCa(input.certificateAuthority, template);
    const requested = input.kind === 'CSR' ? await fromCsr(input) : await fromPfx(input);
    const sans = mergeSans(requested.sans, input.sans);
    const violations = checkPolicy(template, {
      enrollmentType: input.kind,
      key: requested.key,
      subjectParts: requested.subjectParts,
      sans,
      caId: ca.id,
      additionalFields: input.additionalFields,
      requester: principal.identity.accountName,
    });
    const definition = (await this.certs.store.findBoundDefinition('Enrollment', String(template.id))) ?? (await this.certs.store.findBoundDefinition('Enrollment', null));
    // Review mode: approvers see what is outside the template, flagged; nobody reviews without a workflow.
    const refused = template.policy.mode === 'review' && definition ? violations.filter((v) => v.absolute) : violations;
    if (refused.length) fail('EnrollmentRefused', `Template '${template.commonName}' refuses this request: ${refused.map((v) => `${v.rule}: ${v.message}`).join(' ')}`);
    const retained = requested.pkcs8 ?? (input.privateKey ? matchingKey(input.privateKey, requested.publicKeyDer) : null);

    const params: IssueParams = {
      subject: requested.subject,
      publicKey: Buffer.from(requested.publicKeyDer).toString('base64'),
      sans,
      validityDays: template.policy.validityDays,
      keyUsage: template.keyUsage,
      extendedKeyUsages: template.extendedKeyUsages.map((e) => e.oid),
      keyType: requested.key.algorithm,
      keySize: requested.key.bits,
    };
    const caName = `${ca.hostName}\\${ca.logicalName}`;
    const keyLabel = `request-key:${cryptoRandomId()}`;
    const request = await this.store.createRequest({
      kind: input.kind,
      requesterId: principal.identity.id,
      requesterName: principal.identity.accountName,
      templateId: template.id,
      caId: ca.id,
      data: { issue: params as unknown as JsonObject, metadata: input.metadata, includeChain: input.includeChain, keyLabel, csr: requested.csrPem },
      // A waiting request keeps a generated (or handed-over) key sealed until issuance.
      sealedKey: retained ? this.certs.protector.seal(retained, keyLabel) : null,
      createdAt: new Date().toISOString(),
    });
    const facts: EnrollmentFacts = {
      requestId: request.id,
      requester: { id: principal.identity.id, name: principal.identity.accountName },
      template,
      caName,
      kind: input.kind,
      key: requested.key,
      subject: requested.subject,
      subjectParts: requested.subjectParts,
      sans,
      csrPem: requested.csrPem,
      metadata: input.metadata,
      additionalFields: input.additionalFields,
      includeChain: input.includeChain,
      violations,
    };
    if (!definition) {
      // The built-in global workflow: nothing to approve, enroll at once.
      const now = input.deliverKeyNow ? requested.pkcs8 : null;
      const certificate = await this.issueForRequest(request, now);
      return this.outcome('ISSUED', 'Issued.', request, null, certificate, input.includeChain, now);
    }
    // A CSR with an empty subject (certbot's) is named by its first SAN.
    const title = `Enrollment of ${facts.subjectParts.CN?.[0] ?? Object.values(sans).flat()[0] ?? requested.subject} (request ${request.id})`;
    const instance = await this.workflow.start(
      {
        definitionId: definition.id,
        workflowType: null,
        key: null,
        title,
        initialData: { ...enrollmentInitialData(facts), ...(input.acme ? { ACME: input.acme } : {}) },
        trustedData: serverSetData(facts) as unknown as JsonObject,
      },
      principal,
    );
    await this.store.setRequestInstance(request.id, instance.id);
    const linked = { ...request, instanceId: instance.id };
    const now = await this.workflow.getInstance(instance.id);
    const ref = { id: now.id, referenceId: now.referenceId };
    // Reached the EnrollStep without waiting: issue now (the step's own run finds it recorded).
    const version = await this.workflow.version(now.definitionId, now.definitionVersion);
    const atEnrollStep = now.status === 'Running' && version.steps.find((s) => s.uniqueName === now.currentStep)?.extensionName === ENROLL_STEP;
    if (atEnrollStep) {
      const deliver = input.deliverKeyNow ? requested.pkcs8 : null;
      const certificate = await this.issueForRequest(linked, deliver);
      return this.outcome('ISSUED', 'Issued.', linked, ref, certificate, input.includeChain, deliver);
    }
    if (now.status === 'Suspended' || now.status === 'Running')
      return this.outcome('PENDING', `Waiting for approval in workflow instance ${now.id} (${now.statusMessage ?? ''}).`.replace(' ()', ''), linked, ref, null, false, null);
    return this.outcome(now.status === 'Rejected' ? 'DENIED' : 'FAILED', now.statusMessage ?? `The workflow ended ${now.status}.`, linked, ref, null, false, null);
  }

  private outcome(
    disposition: Disposition,
    message: string,
    request: RequestRecord,
    instance: EnrollOutcome['instance'],
    certificate: CertificateRecord | null,
    includeChain: boolean,
    pkcs8: Uint8Array | null,
  ): EnrollOutcome {
    const certificates = certificate ? [certificate.der, ...(includeChain ? this.certs.chainOf(certificate.caId) : [])] : [];
    return { disposition, message, requestId: request.id, instance, certificate, certificates, pkcs8: certificate ? pkcs8 : null };
  }

  /**
   * Issues the certificate of a request once. A second call (the EnrollStep's run after an
   * inline issue, a retry after a crash, another node) finds the recorded certificate; should
   * two signings race, the store keeps the first record and the other signature is discarded.
   */
  async issueForRequest(request: RequestRecord, generatedKey: Uint8Array | null = null): Promise<CertificateRecord> {
    const existing = await this.store.findCertificateByRequest(request.id);
    // Issued before, perhaps by a run that died before recording it in the history: finish that record.
    if (existing) return this.announceIssued(existing, request, false);
    const template = await this.store.getTemplate(request.templateId);
    const ca = this.certs.caById(request.caId);
    const p = request.data.issue as unknown as IssueParams;
    const chainBefore = ca.chain();
    const label = String(request.data.keyLabel ?? '');
    const key = generatedKey ?? (request.sealedKey ? this.certs.protector.open(request.sealedKey, label) : null);
    const csrPem = typeof request.data.csr === 'string' ? request.data.csr : null;
    let issued: Awaited<ReturnType<typeof ca.issue>>;
    try {
      issued = await ca.issue(
        {
          subject: p.subject,
          publicKey: Buffer.from(p.publicKey, 'base64'),
          sans: p.sans,
          validityDays: p.validityDays,
          keyUsage: p.keyUsage,
          extendedKeyUsages: p.extendedKeyUsages,
          csrPem,
          // Only a key Countersign generated (PFX), so a CA that needs a CSR gets one signed by it.
          keyForCsr: csrPem === null ? key : null,
        },
        `request:${request.id}`,
      );
    } catch (e) {
      // A refusal is final (the step fails with it); anything else is the CA being unavailable (retried).
      if (e instanceof CaRefusal) throw new CountersignError('EnrollmentRefused', `The certificate authority ${ca.logicalName} refused request ${request.id}: ${e.message}`);
      throw new CountersignError('CaUnavailable', `The certificate authority ${ca.logicalName} could not sign request ${request.id}: ${(e as Error).message}`);
    }
    // An external CA answered with its issuing chain: kept with the CA, so IncludeChain works on every node and after a restart.
    if (issued.chain?.length && !sameChain(issued.chain, chainBefore))
      await this.store.updateCaChain(
        ca.id,
        issued.chain.map((d) => toPem(d)),
      );
    // Kept when the template retains keys, or once for a PFX requester who could not get it yet.
    const keep = key !== null && ((template && retainsKeys(template)) || (request.kind === 'PFX' && generatedKey === null));
    const facts = publicKeyInfo(Buffer.from(p.publicKey, 'base64'));
    const { certificate, created } = await this.store.recordIssued({
      requestId: request.id,
      thumbprint: issued.thumbprint,
      serialNumber: issued.serialNumber,
      issuerDn: issued.issuerDn,
      issuedDn: issued.subjectDn,
      issuedCn: new x509.Name(issued.subjectDn).getField('CN')[0] ?? null,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      importDate: new Date().toISOString(),
      templateId: request.templateId,
      caId: request.caId,
      requesterId: request.requesterId,
      requesterName: request.requesterName,
      keyType: facts.algorithm,
      keySize: facts.bits,
      der: issued.der,
      metadata: (request.data.metadata ?? {}) as Record<string, string>,
      sealedKey: keep ? this.certs.protector.seal(key!, `certificate-key:${request.id}`) : null,
    });
    await this.announceIssued(certificate, request, created);
    if (request.sealedKey) await this.store.clearRequestKey(request.id);
    return certificate;
  }

  /**
   * The issuance's history entry and security event, once per certificate: the run that stored it
   * writes them, and a later run finds them missing only when that run died in between.
   */
  private async announceIssued(certificate: CertificateRecord, request: RequestRecord, created: boolean): Promise<CertificateRecord> {
    if (!created && (await this.store.listCertificateHistory(certificate.id)).some((h) => h.action === 'Issued')) return certificate;
    const ca = this.certs.caById(request.caId);
    this.certs.events.emit('certificate.issued', {
      certificateId: certificate.id,
      requestId: request.id,
      serialNumber: certificate.serialNumber,
      issuedDn: certificate.issuedDn,
      requester: request.requesterName,
      ca: ca.logicalName,
    });
    await this.store.addCertificateHistory(certificate.id, {
      at: new Date().toISOString(),
      username: request.requesterName,
      action: 'Issued',
      comment: `Issued by ${ca.logicalName} for request ${request.id}.`,
    });
    return certificate;
  }

  /** The EnrollStep's side effect: issue for the request this instance was started for. */
  async issueForInstance(instance: Instance): Promise<{ message: string; variables: JsonObject }> {
    // Only the server's own record says which request an instance is for: never the requester's data.
    const id = requestIdOf(instance.trustedData);
    if (id === null) return { message: 'No certificate request belongs to this instance; nothing to enroll.', variables: {} };
    const request = await this.store.getRequest(id);
    if (!request) throw new StepFailure(`Certificate request ${id} does not exist.`, false);
    // The request names its instance once the enrollment call has linked them: until then, retry.
    if (request.instanceId === null) throw new StepFailure(`Certificate request ${id} is not linked to a workflow instance yet.`, true);
    if (request.instanceId !== instance.id && request.instanceId !== instance.restartedFrom)
      throw new StepFailure(`Certificate request ${id} belongs to another workflow instance; this instance may not enroll it.`, false);
    if (request.instanceId !== instance.id) await this.store.setRequestInstance(id, instance.id);
    const cert = await this.issueForRequest({ ...request, instanceId: instance.id });
    return {
      message: `Issued certificate ${cert.id} (serial ${cert.serialNumber}) for request ${id}.`,
      variables: {
        'CA Certificate': {
          'CA Certificate Id': cert.id,
          'CA Request ID': id,
          Status: 'Issued',
          Certificate: toPem(cert.der),
          SerialNumber: cert.serialNumber,
          Thumbprint: cert.thumbprint,
        },
      },
    };
  }

  /** Where a request stands: issued, waiting, or ended without a certificate. */
  async dispositionOf(request: RequestRecord): Promise<{ disposition: Disposition; certificate: CertificateRecord | null; instance: Instance | null }> {
    const certificate = await this.store.findCertificateByRequest(request.id);
    const instance = request.instanceId ? await this.certs.store.getInstance(request.instanceId) : null;
    if (certificate) return { disposition: 'ISSUED', certificate, instance };
    if (instance && isTerminal(instance.status)) return { disposition: instance.status === 'Rejected' ? 'DENIED' : 'FAILED', certificate, instance };
    return { disposition: 'PENDING', certificate, instance };
  }
}

interface Requested {
  subject: string;
  subjectParts: Record<string, string[]>;
  sans: SanMap;
  key: PublicKeyInfo;
  publicKeyDer: Uint8Array;
  csrPem: string | null;
  pkcs8: Uint8Array | null;
}

async function fromCsr(input: EnrollInput): Promise<Requested> {
  if (!input.csr || input.csr.trim() === '') fail('ValidationFailed', 'CSR is required: a PEM (or base64 DER) PKCS#10 request.');
  let d: Awaited<ReturnType<typeof decodeCsr>>;
  try {
    d = await decodeCsr(input.csr!);
  } catch (e) {
    if (e instanceof CsrError) fail('CertificateRequestInvalid', e.message);
    throw e;
  }
  if (!d.signatureValid)
    fail('CertificateRequestInvalid', 'The CSR signature does not verify with the key it carries (no proof of possession); make a new CSR with the private key.');
  return { subject: d.subject, subjectParts: d.subjectParts, sans: d.sans, key: d.key, publicKeyDer: d.publicKeyDer, csrPem: toPem(d.der, 'CERTIFICATE REQUEST'), pkcs8: null };
}

const CURVE_ALIASES: Record<string, 'P-256' | 'P-384' | 'P-521'> = {
  'p-256': 'P-256',
  p256: 'P-256',
  prime256v1: 'P-256',
  secp256r1: 'P-256',
  '1.2.840.10045.3.1.7': 'P-256',
  'p-384': 'P-384',
  p384: 'P-384',
  secp384r1: 'P-384',
  '1.3.132.0.34': 'P-384',
  'p-521': 'P-521',
  p521: 'P-521',
  secp521r1: 'P-521',
  '1.3.132.0.35': 'P-521',
};

/** PFX enrollment: the server makes the key pair (RSA or ECC) for the Subject asked for. */
async function fromPfx(input: EnrollInput): Promise<Requested> {
  const subjectText = input.subject?.trim() ?? '';
  let name: x509.Name;
  try {
    name = new x509.Name(subjectText);
  } catch {
    return fail('CertificateRequestInvalid', `Subject '${subjectText}' is not a distinguished name such as "CN=app.example.com,O=Example".`);
  }
  const type = (input.keyType ?? 'RSA').trim().toUpperCase();
  let gen: RsaHashedKeyGenParams | EcKeyGenParams;
  if (type === 'RSA') {
    const bits = input.keyLength ?? 2048;
    if (![2048, 3072, 4096].includes(bits)) fail('CertificateRequestInvalid', `KeyLength ${bits} is not supported for RSA; use 2048, 3072 or 4096.`);
    gen = { name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  } else if (type === 'ECC' || type === 'EC' || type === 'ECDSA') {
    const curve = CURVE_ALIASES[(input.curve ?? (input.keyLength === 384 ? 'P-384' : input.keyLength === 521 ? 'P-521' : 'P-256')).trim().toLowerCase()];
    if (!curve) fail('CertificateRequestInvalid', `Curve '${input.curve}' is not supported; use P-256, P-384 or P-521.`);
    gen = { name: 'ECDSA', namedCurve: curve! };
  } else {
    return fail('CertificateRequestInvalid', `KeyType '${input.keyType}' is not supported for PFX enrollment; use RSA or ECC.`);
  }
  const keys = (await subtle.generateKey(gen!, true, ['sign', 'verify'])) as CryptoKeyPair;
  const spki = new Uint8Array(await subtle.exportKey('spki', keys.publicKey));
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey));
  return { subject: name.toString(), subjectParts: nameParts(name), sans: {}, key: publicKeyInfo(spki), publicKeyDer: spki, csrPem: null, pkcs8 };
}

/** A PKCS#8 key handed over with a CSR must be the CSR's key; returns it as DER. */
function matchingKey(text: string, publicKeyDer: Uint8Array): Uint8Array {
  try {
    const t = text.trim();
    const key = t.startsWith('-----') ? createPrivateKey(t) : createPrivateKey({ key: Buffer.from(t, 'base64'), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    if (!spki.equals(Buffer.from(publicKeyDer))) throw new Error('mismatch');
    return new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
  } catch {
    return fail('CertificateRequestInvalid', 'PrivateKey must be the unencrypted PKCS#8 key of the CSR.');
  }
}

const sameChain = (a: Uint8Array[], b: Uint8Array[]): boolean => a.length === b.length && a.every((d, i) => Buffer.from(d).equals(Buffer.from(b[i]!)));

/** ExtensionName of the step type that issues (src/steps/enroll). */
export const ENROLL_STEP = 'EnrollStep';

const cryptoRandomId = (): string => globalThis.crypto.randomUUID();
