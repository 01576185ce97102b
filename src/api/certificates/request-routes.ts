import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { nameParts, publicKeyInfo } from '../../certificates/csr.ts';
import { checkPolicy } from '../../certificates/policy.ts';
import type { SanMap } from '../../certificates/types.ts';
import { x509 } from '../../certificates/x509.ts';
import { fail } from '../../domain/errors.ts';
import { grants, P } from '../../security/permissions.ts';
import type { CertificateService } from '../../service/certificates.ts';
import { principalOf } from '../guard.ts';
import { extension, FreeObject } from '../schema/routes.ts';
import { Nullable } from '../schema/typebox.ts';
import { intParam } from '../wire.ts';

/**
 * Extension for the portal: an enrollment request decoded for its requester and its approvers
 * (subject, SANs, key, template, validity), checked again against the template as it is now,
 * with where it stands.
 */
export const requestRoutes =
  (certs: CertificateService): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { id: string } }>('/Enrollment/Requests/:id', { schema: ENROLLMENT_REQUEST }, async (req) => {
      const p = principalOf(req);
      const id = intParam(req.params.id, 'Request id');
      const request = (await certs.store.certificates.getRequest(id)) ?? fail('NotFound', `No enrollment request has Id ${id}.`);
      const state = await certs.enrollment.dispositionOf(request);
      const mayRead =
        request.requesterId === p.identity.id ||
        grants(p.permissions, P.certificatesRead) ||
        grants(p.permissions, P.instancesReadAll) ||
        (state.instance !== null && grants(p.permissions, P.instancesReadPending) && p.roleIds.some((r) => state.instance!.pendingRoleIds.includes(r)));
      if (!mayRead) fail('NotFound', `No enrollment request has Id ${id}.`);
      const issue = request.data.issue as unknown as { subject: string; publicKey: string; sans: SanMap; validityDays: number };
      const key = publicKeyInfo(Buffer.from(issue.publicKey, 'base64'));
      const subjectParts = nameParts(new x509.Name(issue.subject));
      const template = await certs.store.certificates.getTemplate(request.templateId);
      const ca = certs.listCas().find((c) => c.id === request.caId);
      const violations = template
        ? checkPolicy(template, {
            enrollmentType: request.kind,
            key,
            subjectParts,
            sans: issue.sans,
            caId: request.caId,
            additionalFields: {},
            requester: request.requesterName,
          }).filter((v) => v.rule !== 'EnrollmentField')
        : [];
      return {
        Id: request.id,
        EnrollmentType: request.kind,
        Requester: request.requesterName,
        SubmissionDate: request.createdAt,
        Subject: issue.subject,
        SubjectParts: subjectParts,
        SANs: issue.sans,
        Key: { Type: key.algorithm, Size: key.bits, Curve: key.curve },
        ValidityDays: issue.validityDays,
        CSR: request.data.csr ?? null,
        Template: template
          ? {
              Id: template.id,
              Name: template.commonName,
              KeyTypes: template.policy.keyTypes,
              MinimumRsaKeySize: template.policy.minRsaBits,
              Curves: template.policy.curves,
              AllowedSanTypes: template.policy.sanTypes,
              ValidityDays: template.policy.validityDays,
            }
          : null,
        CertificateAuthority: ca ? `${ca.hostName}\\${ca.logicalName}` : null,
        PolicyViolations: violations.map((v) => ({ Rule: v.rule, Message: v.message })),
        Disposition: state.disposition,
        WorkflowInstanceId: request.instanceId,
        KeyfactorID: state.certificate?.id ?? null,
      };
    });
  };

const ENROLLMENT_REQUEST = extension({
  summary: 'An enrollment request, decoded for its requester and approvers',
  description: "Subject, SANs, key, template and validity, checked again against the template as it is now, with the request's disposition.",
  params: Type.Object({ id: Type.Integer() }),
  response: {
    200: Type.Object({
      Id: Type.Integer(),
      EnrollmentType: Type.String({ description: 'CSR or PFX' }),
      Requester: Type.String(),
      SubmissionDate: Type.String({ format: 'date-time' }),
      Subject: Type.String(),
      SubjectParts: FreeObject('Subject attributes by name (CN, O, …).'),
      SANs: FreeObject('SAN values by type (dns, ip4, …).'),
      Key: Type.Object({ Type: Type.String(), Size: Nullable(Type.Integer()), Curve: Nullable(Type.String()) }),
      ValidityDays: Type.Integer(),
      CSR: Nullable(Type.String()),
      Template: Nullable(
        Type.Object({
          Id: Type.Integer(),
          Name: Type.String(),
          KeyTypes: Type.Array(Type.String()),
          MinimumRsaKeySize: Type.Integer(),
          Curves: Type.Array(Type.String()),
          AllowedSanTypes: Type.Array(Type.String()),
          ValidityDays: Type.Integer(),
        }),
      ),
      CertificateAuthority: Nullable(Type.String()),
      PolicyViolations: Type.Array(Type.Object({ Rule: Type.String(), Message: Type.String() })),
      Disposition: Type.String(),
      WorkflowInstanceId: Nullable(Type.String({ format: 'uuid' })),
      KeyfactorID: Nullable(Type.Integer()),
    }),
  },
});
