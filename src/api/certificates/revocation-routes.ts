import type { FastifyPluginAsync } from 'fastify';
import { fail } from '../../domain/errors.ts';
import { P } from '../../security/permissions.ts';
import type { CertificateService } from '../../service/certificates.ts';
import { requirePermission } from '../guard.ts';
import { asObject, bool, field, int, str } from '../wire.ts';

/** At most this many certificates in one request: each may start a workflow instance. */
const MAX_IDS = 1000;

/** POST /Certificates/Revoke (certificates-notes 4): revoke, hold or release, through the Revocation workflow. */
export const revocationRoutes =
  (certs: CertificateService): FastifyPluginAsync =>
  async (app) => {
    app.post('/Certificates/Revoke', async (req) => {
      const p = requirePermission(req, P.certificatesRevoke);
      const b = asObject(req.body ?? null);
      const ids = field(b, 'CertificateIds');
      if (!Array.isArray(ids) || ids.length === 0) fail('ValidationFailed', 'CertificateIds is required: a list of certificate ids.');
      const list = ids as unknown[];
      if (list.length > MAX_IDS) fail('ValidationFailed', `CertificateIds may list at most ${MAX_IDS} certificates.`);
      if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x > 0)) fail('ValidationFailed', 'CertificateIds must be positive whole numbers.');
      const reason = int(b, 'Reason') ?? 0;
      const comment = str(b, 'Comment', { required: true, nonEmpty: true, max: 4000 })!;
      const effective = str(b, 'EffectiveDate', { max: 64 });
      let effectiveDate: string | null = null;
      if (effective !== null && effective.trim() !== '') {
        const t = Date.parse(effective);
        // A date without a zone is read as UTC, as Keyfactor's clients send them.
        const parsed = Number.isNaN(t) ? Number.NaN : /[zZ]|[+-]\d\d:?\d\d$/.test(effective.trim()) ? t : Date.parse(`${effective.trim()}Z`);
        if (Number.isNaN(parsed) || parsed < Date.UTC(1950, 0, 1) || parsed > Date.UTC(9999, 11, 31))
          fail('ValidationFailed', `EffectiveDate '${effective}' is not an ISO-8601 date and time.`);
        effectiveDate = new Date(parsed).toISOString();
      }
      const collectionId = int(b, 'CollectionId', { min: 0 });
      bool(b, 'PublishCRL'); // Accepted: Countersign reissues the CRL on every revocation anyway.
      const outcome = await certs.revocation.revoke({ certificateIds: [...new Set(list as number[])], reason, comment, effectiveDate, collectionId }, p);
      return {
        RevokedIds: outcome.revokedIds,
        SuspendedCerts: outcome.suspended.map((s) => ({ CertId: s.certId, WorkflowId: s.workflowId, Message: s.message })),
      };
    });
  };
