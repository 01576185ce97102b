import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { toPem, x509, bytes } from '../../certificates/x509.ts';
import { fail } from '../../domain/errors.ts';
import type { FieldSpec } from '../../domain/query/index.ts';
import { grants, P } from '../../security/permissions.ts';
import type { Principal } from '../../security/principal.ts';
import type { CertificateService } from '../../service/certificates.ts';
import type { CertificateRecord } from '../../store/certificate-store.ts';
import { requirePermission } from '../guard.ts';
import { listQuery } from '../listing.ts';
import { asObject, bool, int, intParam, queryBool, str } from '../wire.ts';
import { readStringMap } from './read.ts';
import { certificateWire, historyWire } from './wire.ts';

/** QueryString fields of GET /Certificates (certificates-notes 4), mapped to store columns. */
export const CERTIFICATE_FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'integer', column: 'id', aliases: ['CertId'] },
  { name: 'CertRequestId', type: 'integer', column: 'request_id' },
  { name: 'IssuedCN', type: 'string', column: 'issued_cn', aliases: ['CN'] },
  { name: 'IssuedDN', type: 'string', column: 'issued_dn' },
  { name: 'IssuerDN', type: 'string', column: 'issuer_dn' },
  { name: 'Thumbprint', type: 'string', column: 'thumbprint' },
  { name: 'SerialNumber', type: 'string', column: 'serial_number' },
  { name: 'NotBefore', type: 'date', column: 'not_before' },
  { name: 'NotAfter', type: 'date', column: 'not_after' },
  { name: 'ImportDate', type: 'date', column: 'import_date' },
  { name: 'TemplateId', type: 'integer', column: 'template_id', aliases: ['EnrollmentPatternId'] },
  { name: 'CertificateAuthorityId', type: 'integer', column: 'ca_id' },
  { name: 'RequesterName', type: 'string', column: 'requester_name' },
  { name: 'KeySizeInBits', type: 'integer', column: 'key_size' },
  { name: 'KeyTypeString', type: 'string', column: 'key_type' },
  // Revoked certificates are listed only with includeRevoked=true.
  { name: 'RevocationReason', type: 'integer', column: 'revocation_reason' },
  { name: 'RevocationEffDate', type: 'date', column: 'revocation_date' },
];

/** The certificate inventory: list, read, history, metadata, download, recover, delete. */
export const inventoryRoutes =
  (certs: CertificateService): FastifyPluginAsync =>
  async (app) => {
    const store = certs.store.certificates;

    const view = async (req: FastifyRequest, c: CertificateRecord, p: Principal) => {
      const template = c.templateId === null ? null : await store.getTemplate(c.templateId);
      const ca = certs.listCas().find((x) => x.id === c.caId);
      return {
        includeMetadata: queryBool(req.q, 'includeMetadata'),
        includeLocations: queryBool(req.q, 'includeLocations'),
        hasPrivateKey: grants(p.permissions, P.certificatesRecover) || c.requesterId === p.identity.id,
        templateName: template?.commonName ?? null,
        caName: ca ? `${ca.hostName}\\${ca.logicalName}` : null,
        now: new Date().toISOString(),
      };
    };

    app.get('/Certificates', async (req) => {
      const p = requirePermission(req, P.certificatesRead, P.enrollCsr, P.enrollPfx);
      const v = certs.visibility(p);
      const q = listQuery(req, CERTIFICATE_FIELDS, 'Id');
      const rows = await store.queryCertificates({
        ...q,
        requesterId: v.all ? undefined : p.identity.id,
        includeExpired: queryBool(req.q, 'includeExpired'),
        includeRevoked: queryBool(req.q, 'includeRevoked'),
        now: new Date().toISOString(),
      });
      return Promise.all(rows.map(async (c) => certificateWire(c, await view(req, c, p))));
    });

    app.get<{ Params: { id: string } }>('/Certificates/:id', async (req) => {
      const p = requirePermission(req, P.certificatesRead, P.enrollCsr, P.enrollPfx);
      const c = await certs.visibleCertificate(intParam(req.params.id, 'Certificate id'), p);
      const body = certificateWire(c, await view(req, c, p), true);
      // Extension (docs/certificates.md, "Renewal"): present only on certificates a renewal links.
      const links = await certs.store.alerts.renewalsOf(c.id);
      const renewedBy = links.by.at(-1)?.newCertificateId ?? null;
      return {
        ...body,
        ...(links.from ? { RenewedFromId: links.from.oldCertificateId } : {}),
        ...(renewedBy !== null ? { RenewedById: renewedBy } : {}),
      };
    });

    app.get<{ Params: { id: string } }>('/Certificates/:id/History', async (req) => {
      const p = requirePermission(req, P.certificatesRead, P.enrollCsr, P.enrollPfx);
      const c = await certs.visibleCertificate(intParam(req.params.id, 'Certificate id'), p);
      return (await store.listCertificateHistory(c.id)).map(historyWire);
    });

    app.put('/Certificates/Metadata', async (req, reply) => {
      const p = requirePermission(req, P.certificatesMetadata);
      const b = asObject(req.body ?? null);
      const id = int(b, 'Id', { required: true, min: 1 })!;
      const c = await certs.visibleCertificate(id, p);
      const metadata = { ...c.metadata, ...readStringMap(b.Metadata ?? b.metadata ?? null, 'Metadata') };
      await store.updateCertificateMetadata(id, metadata);
      await store.addCertificateHistory(id, {
        at: new Date().toISOString(),
        username: p.identity.accountName,
        action: 'MetadataUpdated',
        comment: Object.keys(metadata).join(', '),
      });
      reply.code(204).send();
    });

    app.post('/Certificates/Download', async (req) => {
      const p = requirePermission(req, P.certificatesRead, P.enrollCsr, P.enrollPfx);
      const fmt = headerFormat(req, ['PEM', 'DER', 'P7B'], 'PEM');
      const b = asObject(req.body ?? null);
      const c = await certs.find(selector(b), p);
      const chain = bool(b, 'IncludeChain') ? certs.chainOf(c.caId) : [];
      const order = str(b, 'ChainOrder') ?? 'EndEntityFirst';
      if (!/^(EndEntityFirst|RootFirst)$/i.test(order)) fail('ValidationFailed', "ChainOrder must be 'EndEntityFirst' or 'RootFirst'.");
      const all = [c.der, ...chain];
      const ordered = /^RootFirst$/i.test(order) ? all.reverse() : all;
      await store.addCertificateHistory(c.id, { at: new Date().toISOString(), username: p.identity.accountName, action: 'Downloaded', comment: fmt });
      if (fmt === 'DER') return { Content: Buffer.from(c.der).toString('base64') };
      if (fmt === 'PEM') return { Content: Buffer.from(ordered.map((d) => toPem(d)).join('')).toString('base64') };
      const p7 = new x509.X509Certificates(ordered.map((d) => new x509.X509Certificate(bytes(d))));
      return { Content: Buffer.from(p7.export('raw')).toString('base64') };
    });

    app.post('/Certificates/Recover', async (req) => {
      const p = requirePermission(req, P.certificatesRecover, P.enrollPfx, P.enrollCsr);
      headerFormat(req, ['PFX'], 'PFX');
      const b = asObject(req.body ?? null);
      const password = str(b, 'Password', { required: true, nonEmpty: true, max: 200 })!;
      const c = await certs.find(selector(b), p);
      const pfx = await certs.recover(c, password, bool(b, 'IncludeChain') ?? true, p);
      return { PFX: pfx.toString('base64'), FileName: `${(c.issuedCn ?? `certificate-${c.id}`).replace(/[^\w.-]+/g, '_')}.pfx` };
    });

    app.delete<{ Params: { id: string } }>('/Certificates/:id', async (req, reply) => {
      const p = requirePermission(req, P.certificatesDelete);
      const id = intParam(req.params.id, 'Certificate id');
      const existing = await store.getCertificate(id);
      // The inventory is the embedded CA's record: deleting a revoked certificate would take it off the CRL.
      if (existing?.revocation && existing.notAfter > new Date().toISOString())
        fail('Conflict', `Certificate ${id} is revoked (or on hold) and has not expired; deleting it would take it off the CRL. Delete it after it expires.`);
      if (!(await store.deleteCertificate(id))) fail('NotFound', `No certificate has Id ${id}.`);
      certs.events.emit('certificate.deleted', { certificateId: id, by: p.identity.accountName });
      reply.code(204).send();
    });
  };

function headerFormat<T extends string>(req: FastifyRequest, allowed: T[], dflt: T): T {
  const raw = req.headers['x-certificateformat'];
  const v = typeof raw === 'string' ? raw.trim() : '';
  if (v === '') return dflt;
  return allowed.find((a) => a.toLowerCase() === v.toLowerCase()) ?? fail('ValidationFailed', `X-CertificateFormat '${v}' is not supported here; use ${allowed.join(', ')}.`);
}

/** CertID, or Thumbprint, or SerialNumber with IssuerDN. */
function selector(b: Record<string, unknown>): { id: number } | { thumbprint: string } | { serialNumber: string; issuerDn: string } {
  const o = b as Parameters<typeof int>[0];
  const id = int(o, 'CertID', { min: 1 }) ?? int(o, 'CertificateId', { min: 1 });
  if (id !== null) return { id };
  const thumbprint = str(o, 'Thumbprint', { max: 200 });
  if (thumbprint) return { thumbprint: thumbprint.replace(/[\s:]/g, '') };
  const serialNumber = str(o, 'SerialNumber', { max: 200 });
  const issuerDn = str(o, 'IssuerDN', { max: 4000 });
  if (serialNumber && issuerDn) return { serialNumber: serialNumber.replace(/[\s:]/g, ''), issuerDn };
  return fail('ValidationFailed', 'Identify the certificate by CertID, by Thumbprint, or by SerialNumber and IssuerDN.');
}
