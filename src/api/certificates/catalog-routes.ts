import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { defaultTemplate } from '../../certificates/policy.ts';
import { fail } from '../../domain/errors.ts';
import type { FieldSpec } from '../../domain/query/index.ts';
import { P } from '../../security/permissions.ts';
import type { CertificateService } from '../../service/certificates.ts';
import type { MetadataField } from '../../store/certificate-store.ts';
import { requirePermission } from '../guard.ts';
import { listInMemory, listQuery } from '../listing.ts';
import { extension, keyfactorBody, keyfactorShape, NoContent } from '../schema/routes.ts';
import { Nullable } from '../schema/typebox.ts';
import { asArray, asObject, bool, int, intParam, str } from '../wire.ts';
import { readTemplate } from './read.ts';
import { caWire, enrollmentPatternWire, metadataFieldWire, templateCollectionWire, templateWire } from './wire.ts';

const PATTERN_FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'integer', column: 'Id' },
  { name: 'Name', type: 'string', column: 'Name' },
  { name: 'Description', type: 'string', column: 'Description' },
];

const ENROLL = [P.enrollCsr, P.enrollPfx];

/** CAs, templates (with our create/delete extension), enrollment patterns and metadata fields. */
export const catalogRoutes =
  (certs: CertificateService): FastifyPluginAsync =>
  async (app) => {
    const store = certs.store.certificates;

    app.get('/CertificateAuthority', async (req) => {
      requirePermission(req, P.casRead, ...ENROLL);
      return certs.listCas().map(caWire);
    });

    app.get<{ Params: { id: string } }>('/CertificateAuthority/:id', async (req) => {
      requirePermission(req, P.casRead, ...ENROLL);
      const id = intParam(req.params.id, 'Certificate authority id');
      const ca = certs.listCas().find((c) => c.id === id) ?? fail('NotFound', `No certificate authority has Id ${id}.`);
      return caWire(ca);
    });

    // Extension: import an existing CA (PEM certificate chain and key, or PKCS#12).
    app.post('/CertificateAuthority/Import', { schema: IMPORT_CA }, async (req) => {
      requirePermission(req, P.casModify);
      const b = asObject(req.body ?? null);
      const ca = await certs.importCa({
        logicalName: str(b, 'LogicalName', { required: true, nonEmpty: true, max: 100 })!,
        hostName: str(b, 'HostName', { max: 253 }) ?? 'countersign',
        certificatesPem: str(b, 'CertificatesPem', { max: 256 * 1024 }) ?? undefined,
        privateKeyPem: str(b, 'PrivateKeyPem', { max: 64 * 1024 }) ?? undefined,
        pkcs12: str(b, 'Pkcs12', { max: 512 * 1024 }) ?? undefined,
        password: str(b, 'Password', { max: 200 }) ?? undefined,
      });
      return caWire(ca);
    });

    // Extension: an external ACME CA (RFC 8555) to issue through; the account is registered now.
    app.post(
      '/CertificateAuthority/Acme',
      {
        schema: extension({
          summary: 'Add an external ACME CA to issue through (the account is registered now)',
          body: Type.Object({
            LogicalName: Type.String(),
            HostName: Type.String(),
            DirectoryUrl: Type.String(),
            Contact: Type.Optional(Type.Array(Type.String())),
            TermsOfServiceAgreed: Type.Optional(Type.Boolean()),
            CaBundlePem: Type.Optional(Type.String()),
            ExternalAccountBinding: Type.Optional(Type.Object({ KeyId: Type.String(), HmacKey: Type.String() })),
          }),
        }),
      },
      async (req) => {
        requirePermission(req, P.casModify);
        const b = asObject(req.body ?? null);
        const eab = b.ExternalAccountBinding === undefined || b.ExternalAccountBinding === null ? null : asObject(b.ExternalAccountBinding, 'ExternalAccountBinding');
        const contact =
          b.Contact === undefined || b.Contact === null
            ? []
            : asArray(b.Contact, 'Contact').map((c, i) => {
                if (typeof c !== 'string' || !/^(mailto:)?[^\s@,]+@[^\s@,]+$/.test(c) || c.length > 254)
                  return fail('ValidationFailed', `Contact[${i}] must be an e-mail address.`);
                return c;
              });
        const ca = await certs.addAcmeCa({
          logicalName: str(b, 'LogicalName', { required: true, nonEmpty: true, max: 100 })!,
          hostName: str(b, 'HostName', { max: 253 }) ?? 'acme',
          directoryUrl: str(b, 'DirectoryUrl', { required: true, nonEmpty: true, max: 2048 })!,
          contact,
          caBundlePem: str(b, 'CaBundlePem', { max: 256 * 1024 }) ?? null,
          eab: eab
            ? { kid: str(eab, 'KeyId', { required: true, nonEmpty: true, max: 1024 })!, hmacKey: str(eab, 'HmacKey', { required: true, nonEmpty: true, max: 1024 })! }
            : null,
          termsOfServiceAgreed: bool(b, 'TermsOfServiceAgreed') ?? false,
        });
        return caWire(ca);
      },
    );

    app.get('/Templates', async (req) => {
      requirePermission(req, P.templatesRead, ...ENROLL);
      return (await store.listTemplates()).map(templateCollectionWire);
    });

    app.get<{ Params: { id: string } }>('/Templates/:id', async (req) => {
      requirePermission(req, P.templatesRead, ...ENROLL);
      const id = intParam(req.params.id, 'Template id');
      return templateWire((await store.getTemplate(id)) ?? fail('NotFound', `No template has Id ${id}.`));
    });

    app.put('/Templates', async (req) => {
      requirePermission(req, P.templatesModify);
      const b = asObject(req.body ?? null);
      const id = int(b, 'Id', { required: true, min: 1 })!;
      const current = (await store.getTemplate(id)) ?? fail('NotFound', `No template has Id ${id}.`);
      const { id: _id, ...base } = current;
      const updated = await store.updateTemplate({ ...readTemplate(base, b), id });
      return templateWire(updated ?? fail('NotFound', `No template has Id ${id}.`));
    });

    // Extension: Countersign has no Active Directory to import templates from.
    app.post('/Templates', { schema: CREATE_TEMPLATE }, async (req) => {
      requirePermission(req, P.templatesModify);
      const b = asObject(req.body ?? null);
      str(b, 'CommonName', { required: true, nonEmpty: true });
      const base = { ...defaultTemplate(), displayName: str(b, 'CommonName')!, friendlyName: null, oid: `1.3.6.1.4.1.55555.1.${Date.now()}` };
      return templateWire(await store.insertTemplate(readTemplate(base, b)));
    });

    app.delete<{ Params: { id: string } }>('/Templates/:id', { schema: DELETE_TEMPLATE }, async (req, reply) => {
      requirePermission(req, P.templatesModify);
      const id = intParam(req.params.id, 'Template id');
      if (!(await store.deleteTemplate(id))) fail('NotFound', `No template has Id ${id}.`);
      reply.code(204).send();
    });

    app.get('/EnrollmentPatterns', async (req) => {
      requirePermission(req, P.templatesRead, ...ENROLL);
      const cas = certs.listCas();
      const all = (await store.listTemplates()).map((t) => enrollmentPatternWire(t, cas));
      return listInMemory(all as unknown as Record<string, unknown>[], listQuery(req, PATTERN_FIELDS, 'Id'), PATTERN_FIELDS);
    });

    app.get('/MetadataFields', async (req) => {
      requirePermission(req, P.metadataTypesRead, P.certificatesRead, ...ENROLL);
      return (await store.listMetadataFields()).map(metadataFieldWire);
    });

    app.post('/MetadataFields', async (req) => {
      requirePermission(req, P.metadataTypesModify);
      return metadataFieldWire(await store.insertMetadataField(readMetadataField(req.body)));
    });

    app.put('/MetadataFields', async (req) => {
      requirePermission(req, P.metadataTypesModify);
      const b = asObject(req.body ?? null);
      const id = int(b, 'Id', { required: true, min: 1 })!;
      const updated = await store.updateMetadataField({ ...readMetadataField(b), id });
      return metadataFieldWire(updated ?? fail('NotFound', `No metadata field has Id ${id}.`));
    });

    app.delete('/MetadataFields', async (req, reply) => {
      requirePermission(req, P.metadataTypesModify);
      const ids = asArray(req.body ?? null, 'The request body (a list of metadata field ids)');
      for (const id of ids) if (!Number.isInteger(id)) fail('ValidationFailed', 'The body must be a list of metadata field ids.');
      for (const id of ids) await store.deleteMetadataField(id as number);
      reply.code(204).send();
    });
  };

const DATA_TYPES = [1, 2, 3, 4, 5, 6, 7];

function readMetadataField(body: unknown): Omit<MetadataField, 'id'> {
  const b = asObject(body ?? null);
  const name = str(b, 'Name', { required: true, nonEmpty: true, max: 200 })!.trim();
  if (!/^[\w .:-]+$/.test(name)) fail('ValidationFailed', 'Name may hold letters, digits, spaces, dots, colons, dashes and underscores.');
  const dataType = int(b, 'DataType', { required: true })!;
  if (!DATA_TYPES.includes(dataType)) fail('ValidationFailed', 'DataType must be 1 (string), 2 (integer), 3 (date), 4 (boolean), 5 (multiple choice), 6 (big text) or 7 (email).');
  const validation = str(b, 'Validation', { max: 1000 });
  if (validation) {
    try {
      new RegExp(validation);
    } catch {
      fail('ValidationFailed', 'Validation must be a valid regular expression.');
    }
  }
  const enrollment = int(b, 'Enrollment') ?? 0;
  if (![0, 1, 2].includes(enrollment)) fail('ValidationFailed', 'Enrollment must be 0 (optional), 1 (required) or 2 (hidden).');
  return {
    name,
    description: str(b, 'Description', { required: true, max: 2000 })!,
    dataType,
    hint: str(b, 'Hint', { max: 400 }),
    validation,
    enrollment,
    message: str(b, 'Message', { max: 400 }),
    options: str(b, 'Options', { max: 4000 }),
    defaultValue: str(b, 'DefaultValue', { max: 400 }),
    displayOrder: int(b, 'DisplayOrder'),
    caseSensitive: bool(b, 'CaseSensitive') ?? false,
  };
}

const IMPORT_CA = extension({
  summary: 'Import an existing certificate authority',
  description: 'A PEM certificate chain with its PEM private key, or a PKCS#12 (base64) with its password. The key is kept encrypted.',
  body: Type.Object({
    LogicalName: Type.String({ maxLength: 100 }),
    HostName: Type.Optional(Nullable(Type.String({ maxLength: 253 }))),
    CertificatesPem: Type.Optional(Nullable(Type.String())),
    PrivateKeyPem: Type.Optional(Nullable(Type.String())),
    Pkcs12: Type.Optional(Nullable(Type.String({ description: 'base64' }))),
    Password: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  }),
  response: { 200: keyfactorShape('GET /CertificateAuthority/{id}') },
});

/** Keyfactor imports templates from Active Directory; Countersign has none, so they are created here. */
const CREATE_TEMPLATE = extension({
  summary: 'Create a certificate template',
  description: "Takes PUT /Templates's body without Id (CommonName is required).",
  body: keyfactorBody('PUT /Templates'),
  response: { 200: keyfactorShape('GET /Templates/{id}') },
});

const DELETE_TEMPLATE = extension({
  summary: 'Delete a certificate template',
  params: Type.Object({ id: Type.Integer() }),
  response: { 204: NoContent() },
});
