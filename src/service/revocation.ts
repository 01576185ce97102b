import {
  actionOf,
  applyRevocation,
  reasonName,
  revocationInitialData,
  type RevocationAction,
  type RevocationFacts,
  type RevocationState,
  trustedRevocation,
  trustedRevocationOf,
} from '../certificates/revocation.ts';
import { CountersignError, fail } from '../domain/errors.ts';
import { implicitStepNamed } from '../domain/implicit-steps.ts';
import { StepFailure } from '../domain/step-type.ts';
import type { Instance, JsonObject } from '../domain/types.ts';
import type { Principal } from '../security/principal.ts';
import type { CertificateRecord } from '../store/certificate-store.ts';
import type { CertificateAuthorities } from './enrollment.ts';
import type { RevocationStatus } from './revocation-status.ts';
import type { WorkflowService } from './workflow.ts';

export interface RevokeInput {
  certificateIds: number[];
  /** Keyfactor RevokeCode (certificates-notes 4): -1/7/8 release, 0-5 revoke, 6 hold. */
  reason: number;
  comment: string;
  /** ISO-8601; now when absent. */
  effectiveDate: string | null;
  collectionId: number | null;
}

export interface RevokeOutcome {
  revokedIds: number[];
  suspended: { certId: number; workflowId: string; message: string }[];
}

/** ExtensionName of the step type that revokes (src/steps/revoke). */
export const REVOKE_STEP = 'RevokeStep';

/**
 * Revocation: every request runs through the Revocation workflow bound to the certificate's
 * template (or the global one, key null), and without one is carried out at once. The change
 * itself is one store transaction (state, history, the CA's revision); then the CA's CRL and
 * OCSP answers are refreshed.
 */
export class Revocation {
  constructor(
    private readonly certs: CertificateAuthorities,
    private readonly workflow: WorkflowService,
    private readonly status: RevocationStatus,
  ) {}

  private get store() {
    return this.certs.store.certificates;
  }

  async revoke(input: RevokeInput, principal: Principal): Promise<RevokeOutcome> {
    const action = actionOf(input.reason);
    if (action.kind === 'invalid') return fail('ValidationFailed', action.message);
    const effectiveDate = input.effectiveDate ?? new Date().toISOString();
    // Everything is checked before anything changes: one bad id refuses the whole request.
    const targets: { cert: CertificateRecord; facts: RevocationFacts }[] = [];
    for (const id of input.certificateIds) {
      const cert = (await this.store.getCertificate(id)) ?? fail('NotFound', `No certificate has Id ${id}.`);
      if (cert.caId === null) fail('RevocationRefused', `Certificate ${id} was not issued by a certificate authority Countersign manages; it cannot be revoked here.`);
      const check = applyRevocation(cert.revocation ?? null, action, effectiveDate, input.comment);
      if (!check.ok) fail('RevocationRefused', `Certificate ${id} cannot be changed with Reason ${input.reason} (${reasonName(input.reason)}): ${check.message}`);
      const ca = this.certs.caById(cert.caId!);
      targets.push({
        cert,
        facts: {
          certificateId: cert.id,
          serialNumber: cert.serialNumber,
          thumbprint: cert.thumbprint,
          issuedDn: cert.issuedDn,
          issuedCn: cert.issuedCn,
          caName: `${ca.hostName}\\${ca.logicalName}`,
          code: input.reason,
          effectiveDate,
          comment: input.comment,
          requester: { id: principal.identity.id, name: principal.identity.accountName },
        },
      });
    }
    const out: RevokeOutcome = { revokedIds: [], suspended: [] };
    for (const { cert, facts } of targets) {
      const definition =
        (cert.templateId !== null ? await this.certs.store.findBoundDefinition('Revocation', String(cert.templateId)) : null) ??
        (await this.certs.store.findBoundDefinition('Revocation', null));
      if (!definition) {
        // The built-in global workflow: nothing to approve, revoke at once.
        await this.carryOut(facts, principal.identity.accountName, null);
        out.revokedIds.push(cert.id);
        continue;
      }
      const initialData = revocationInitialData(facts, new Date().toISOString()) as JsonObject;
      // The server's own copy, which the RevokeStep acts on and approvers' conditions may read; the comment is the caller's text.
      const { Comment: _c, cmnt: _m, ...serverSet } = initialData;
      const instance = await this.workflow.start(
        {
          definitionId: definition.id,
          workflowType: null,
          key: null,
          title: `Revocation of ${cert.issuedCn ?? cert.issuedDn} (certificate ${cert.id}, ${reasonName(facts.code)})`,
          initialData,
          trustedData: { ...serverSet, ...(trustedRevocation(facts) as unknown as JsonObject) },
        },
        principal,
      );
      const now = await this.workflow.getInstance(instance.id);
      const version = await this.workflow.version(now.definitionId, now.definitionVersion);
      const current = now.currentStep === null ? undefined : (version.steps.find((s) => s.uniqueName === now.currentStep) ?? implicitStepNamed(now.currentStep));
      const atRevokeStep = now.status === 'Running' && current?.extensionName === REVOKE_STEP;
      if (atRevokeStep) {
        // Reached the RevokeStep without waiting: revoke now (the step's own run finds it done).
        await this.carryOut(facts, principal.identity.accountName, instance.id);
        out.revokedIds.push(cert.id);
      } else if (now.status === 'Complete' && sameState((await this.store.getCertificate(cert.id))?.revocation ?? null, intended(facts))) {
        out.revokedIds.push(cert.id);
      } else {
        const detail = now.statusMessage ? ` (${now.statusMessage})` : '';
        const message =
          now.status === 'Suspended'
            ? `The revocation waits for approval in workflow instance ${now.id}${detail}.`
            : now.status === 'Running'
              ? `The revocation runs in workflow instance ${now.id}${detail}; the certificate is revoked when it reaches its RevokeStep.`
              : `The revocation workflow instance ${now.id} ended ${now.status}${now.statusMessage ? `: ${now.statusMessage}` : ''}; the certificate was not revoked.`;
        out.suspended.push({ certId: cert.id, workflowId: now.id, message });
      }
    }
    return out;
  }

  /** The RevokeStep's side effect: the revocation this instance was started for, once. */
  async revokeForInstance(instance: Instance): Promise<{ message: string; variables: JsonObject }> {
    // Only the server's own record says what to revoke: never the requester's InitialData.
    const t = trustedRevocationOf(instance.trustedData);
    if (!t) return { message: 'No revocation request belongs to this instance; nothing to revoke.', variables: {} };
    const cert = await this.store.getCertificate(t.RevocationCertificateId);
    if (!cert) throw new StepFailure(`Certificate ${t.RevocationCertificateId} does not exist any more; nothing to revoke.`, false);
    const ca = cert.caId === null ? null : this.certs.caById(cert.caId);
    const facts: RevocationFacts = {
      certificateId: cert.id,
      serialNumber: cert.serialNumber,
      thumbprint: cert.thumbprint,
      issuedDn: cert.issuedDn,
      issuedCn: cert.issuedCn,
      caName: ca ? `${ca.hostName}\\${ca.logicalName}` : '',
      code: t.RevocationCode,
      effectiveDate: t.RevocationEffectiveDate,
      comment: t.RevocationComment,
      requester: { id: 0, name: t.RevocationRequester },
    };
    const state = await this.carryOut(facts, t.RevocationRequester, instance.id);
    return {
      message: `${state ? `Revoked certificate ${cert.id} (${reasonName(state.reason)})` : `Released certificate ${cert.id} from hold`}, serial ${cert.serialNumber}.`,
      variables: {
        'CA Certificate': {
          'CA Certificate Id': cert.id,
          Status: state ? 'Revoked' : 'Issued',
          SerialNumber: cert.serialNumber,
          'Revocation Date': state?.effectiveDate ?? null,
          'Revocation Reason': state?.reason ?? null,
        },
      },
    };
  }

  /**
   * Applies a revocation under the store's lock. Idempotent for one instance (the inline call
   * and the step's run, a retry): when the certificate already is in the state asked for by
   * this request, nothing changes. Returns the state after.
   */
  private async carryOut(f: RevocationFacts, username: string, instanceId: string | null): Promise<RevocationState | null> {
    const action = actionOf(f.code) as RevocationAction;
    const wanted = intended(f);
    const cert = await this.store.getCertificate(f.certificateId);
    if (!cert) throw new CountersignError('NotFound', `No certificate has Id ${f.certificateId}.`);
    const ca = cert.caId === null ? null : this.certs.caById(cert.caId);
    // An external CA is told first: if it refuses, nothing is recorded.
    if (ca?.revoke && !sameState(cert.revocation ?? null, wanted))
      await ca.revoke({ der: cert.der, serialNumber: cert.serialNumber }, action.kind === 'release' ? 'release' : (wanted?.reason ?? 0));
    const history = {
      at: new Date().toISOString(),
      username,
      action: action.kind === 'release' ? 'ReleasedFromHold' : action.kind === 'hold' ? 'OnHold' : 'Revoked',
      comment: `${reasonName(f.code)}: ${f.comment}${instanceId ? ` (workflow instance ${instanceId})` : ''}`,
    };
    const result = await this.store.reviseRevocation(
      f.certificateId,
      (current) => {
        if (sameState(current, wanted)) return current;
        const r = applyRevocation(current, action, f.effectiveDate, f.comment);
        if (!r.ok) throw new CountersignError('RevocationRefused', `Certificate ${f.certificateId} cannot be changed with Reason ${f.code} (${reasonName(f.code)}): ${r.message}`);
        return r.next;
      },
      history,
    );
    if (!result) throw new CountersignError('NotFound', `No certificate has Id ${f.certificateId}.`);
    if (result.changed && cert.caId !== null) {
      this.certs.events.emit('certificate.revoked', {
        certificateId: f.certificateId,
        serialNumber: cert.serialNumber,
        reason: f.code,
        by: username,
        instanceId,
      });
      this.status.changed(cert.caId);
    }
    return result.certificate.revocation ?? null;
  }
}

/** The state a request asks for: null for a release. */
function intended(f: RevocationFacts): RevocationState | null {
  const action = actionOf(f.code) as RevocationAction;
  return action.kind === 'release' ? null : { reason: action.kind === 'hold' ? 6 : action.reason, effectiveDate: f.effectiveDate, comment: f.comment };
}

/** Same reason and date: the request was already carried out (the comment may differ in casing of history only). */
const sameState = (a: RevocationState | null, b: RevocationState | null): boolean =>
  a === null || b === null ? a === b : a.reason === b.reason && Date.parse(a.effectiveDate) === Date.parse(b.effectiveDate);
