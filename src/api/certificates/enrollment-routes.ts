import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { zipSync } from 'fflate';
import { buildPkcs12 } from '../../certificates/pkcs12.ts';
import { toPem } from '../../certificates/x509.ts';
import { fail } from '../../domain/errors.ts';
import { P } from '../../security/permissions.ts';
import type { CertificateService } from '../../service/certificates.ts';
import type { EnrollInput, EnrollOutcome } from '../../service/enrollment.ts';
import { requirePermission } from '../guard.ts';
import { asObject, bool, field, int, str } from '../wire.ts';
import { readSans, readStringMap } from './read.ts';
import { csrEnrollmentWire, enrollmentContextWire, pfxEnrollmentWire } from './wire.ts';

/** x-certificateformat, checked against the values an operation takes. */
function format<T extends string>(req: FastifyRequest, allowed: readonly T[], dflt: T | null): T {
  const raw = req.headers['x-certificateformat'];
  const v = typeof raw === 'string' ? raw.trim() : '';
  if (v === '') return dflt ?? fail('ValidationFailed', `The header x-certificateformat is required: ${allowed.join(' or ')}.`);
  const hit = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  return hit ?? fail('ValidationFailed', `x-certificateformat '${v}' is not supported here; use ${allowed.join(', ')}.`);
}

function readEnrollment(body: unknown, kind: 'CSR' | 'PFX'): EnrollInput {
  const b = asObject(body ?? null);
  const pattern = int(b, 'EnrollmentPatternId', { min: 1 });
  const renewal = field(b, 'RenewalCertificateId');
  if (renewal !== undefined && renewal !== null) fail('ValidationFailed', 'RenewalCertificateId: renewal is not supported yet; send null.');
  return {
    kind,
    csr: kind === 'CSR' ? str(b, 'CSR', { required: true, max: 64 * 1024 }) : null,
    privateKey: kind === 'CSR' ? str(b, 'PrivateKey', { max: 64 * 1024 }) : null,
    subject: kind === 'PFX' ? str(b, 'Subject', { required: true, max: 4000 }) : null,
    keyType: str(b, 'KeyType', { max: 20 }),
    keyLength: int(b, 'KeyLength', { min: 0 }),
    curve: str(b, 'Curve', { max: 40 }),
    template: str(b, 'Template', { max: 200 }),
    enrollmentPatternId: pattern,
    certificateAuthority: str(b, 'CertificateAuthority', { max: 400 }),
    sans: readSans(field(b, 'SANs')),
    metadata: readStringMap(field(b, 'Metadata'), 'Metadata'),
    additionalFields: readStringMap(field(b, 'AdditionalEnrollmentFields'), 'AdditionalEnrollmentFields'),
    includeChain: bool(b, 'IncludeChain') ?? false,
    deliverKeyNow: true,
  };
}

/** POST /Enrollment/CSR and /PFX, and the enrollment contexts. */
export const enrollmentRoutes =
  (certs: CertificateService): FastifyPluginAsync =>
  async (app) => {
    app.post('/Enrollment/CSR', async (req) => {
      const p = requirePermission(req, P.enrollCsr);
      const fmt = format(req, ['PEM', 'DER'] as const, null);
      const input = readEnrollment(req.body, 'CSR');
      const outcome = await certs.enrollment.enroll(input, p);
      return csrEnrollmentWire(outcome, fmt, input.metadata);
    });

    app.post('/Enrollment/PFX', async (req) => {
      const p = requirePermission(req, P.enrollPfx);
      const fmt = format(req, ['PFX', 'PEM', 'ZIP', 'STORE'] as const, 'PFX');
      const b = asObject(req.body ?? null);
      const given = str(b, 'Password', { max: 200 });
      const password = given && given !== '' ? given : randomBytes(12).toString('base64url');
      // STORE: Keyfactor deploys to a store; Countersign keeps the key for one POST /Certificates/Recover.
      const input = { ...readEnrollment(b, 'PFX'), deliverKeyNow: fmt !== 'STORE' };
      const outcome = await certs.enrollment.enroll(input, p);
      const blob = fmt === 'STORE' ? null : await packKey(outcome, fmt as 'PFX' | 'PEM' | 'ZIP', password, input.includeChain, certs);
      return pfxEnrollmentWire(outcome, blob, blob && !given ? password : null, input.metadata);
    });

    const context = (kind: 'CSR' | 'PFX') => async (req: FastifyRequest) => {
      requirePermission(req, kind === 'CSR' ? P.enrollCsr : P.enrollPfx);
      return enrollmentContextWire(await certs.store.certificates.listTemplates(), certs.listCas(), kind);
    };
    app.get('/Enrollment/CSR/Context/My', context('CSR'));
    app.get('/Enrollment/PFX/Context/My', context('PFX'));
  };

/**
 * The issued certificate with its generated key: PKCS#12; PEM (encrypted PKCS#8 plus the
 * certificates); or ZIP of PEM files (certificate, chain, encrypted key).
 */
async function packKey(o: EnrollOutcome, fmt: 'PFX' | 'PEM' | 'ZIP', password: string, includeChain: boolean, certs: CertificateService): Promise<string | null> {
  if (!o.certificate || !o.pkcs8) return null;
  const chainDer = includeChain ? certs.chainOf(o.certificate.caId) : [];
  if (fmt === 'PFX') return (await buildPkcs12(o.pkcs8, [o.certificate.der, ...chainDer], password)).toString('base64');
  const key = createPrivateKey({ key: Buffer.from(o.pkcs8), format: 'der', type: 'pkcs8' }).export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: password,
  }) as string;
  const leaf = toPem(o.certificate.der);
  const chain = chainDer.map((d) => toPem(d)).join('');
  if (fmt === 'PEM') return Buffer.from(key + leaf + chain).toString('base64');
  const name = (o.certificate.issuedCn ?? `certificate-${o.certificate.id}`).replace(/[^\w.-]+/g, '_');
  const files: Record<string, Uint8Array> = { [`${name}.crt`]: Buffer.from(leaf), [`${name}.key`]: Buffer.from(key) };
  if (chain) files[`${name}-chain.crt`] = Buffer.from(chain);
  return Buffer.from(zipSync(files)).toString('base64');
}
