import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { extension } from './schema/routes.ts';
import { OCSPResponseStatus, ocspError } from '../certificates/ocsp.ts';
import type { RevocationStatus } from '../service/revocation-status.ts';

const CaId = Type.Object({ caId: Type.String({ description: 'The CA id (GET /KeyfactorAPI/CertificateAuthority).' }) });
const Binary = (description: string) => Type.String({ format: 'binary', description });
const S = {
  crl: extension({
    summary: "The CA's current CRL (DER), as written into issued certificates",
    params: CaId,
    produces: ['application/pkix-crl'],
    response: { 200: Binary('DER CRL') },
  }),
  caCert: extension({
    summary: 'The CA certificate (DER), as named in Authority Information Access',
    params: CaId,
    produces: ['application/pkix-cert'],
    response: { 200: Binary('DER certificate') },
  }),
  ocspPost: extension({
    summary: 'OCSP (RFC 6960), POST form: body application/ocsp-request',
    params: CaId,
    produces: ['application/ocsp-response'],
    response: { 200: Binary('DER OCSPResponse') },
  }),
  ocspGet: extension({
    summary: 'OCSP (RFC 6960), GET form',
    description: 'GET /pki/{caId}/ocsp/{url-encoded base64 of the DER OCSPRequest} (RFC 6960 Appendix A.1); without a request, an OCSP answer saying it is malformed.',
    params: CaId,
    produces: ['application/ocsp-response'],
    response: { 200: Binary('DER OCSPResponse') },
  }),
};

/** An OCSP request is small (RFC 6960 A.1); anything larger is refused before it is read. */
const MAX_OCSP_REQUEST = 16 * 1024;

/**
 * What relying parties fetch (docs/certificates.md "CRL and OCSP"): the CRL, OCSP (GET and
 * POST, RFC 6960 Appendix A) and the CA certificate, at /pki/{caId}/. Public by design: no
 * authentication and no Keyfactor header, as a relying party sends neither.
 */
export const pkiRoutes =
  (status: RevocationStatus): FastifyPluginAsync =>
  async (app) => {
    app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: MAX_OCSP_REQUEST }, (_req, body, done) => done(null, body));

    const caIdOf = (raw: string): number | null => (/^\d{1,9}$/.test(raw) ? Number(raw) : null);
    const notFound = (reply: FastifyReply) => reply.code(404).type('text/plain').send('No certificate authority publishes here.\n');

    app.get<{ Params: { caId: string } }>('/pki/:caId/crl', { schema: S.crl }, async (req, reply) => {
      const id = caIdOf(req.params.caId);
      const der = id === null ? null : await status.crl(id);
      if (!der) return notFound(reply);
      return reply.type('application/pkix-crl').header('Cache-Control', 'no-cache').send(Buffer.from(der));
    });

    app.get<{ Params: { caId: string } }>('/pki/:caId/ca.crt', { schema: S.caCert }, async (req, reply) => {
      const id = caIdOf(req.params.caId);
      const der = id === null ? null : status.issuerCertificate(id);
      if (!der) return notFound(reply);
      return reply.type('application/pkix-cert').send(Buffer.from(der));
    });

    const answer = async (reply: FastifyReply, raw: string, request: Uint8Array) => {
      const id = caIdOf(raw);
      if (id === null) return notFound(reply);
      let der: Uint8Array;
      try {
        der = await status.ocsp(id, request);
      } catch (err) {
        // The store unreachable, a signing failure: an OCSP client understands tryLater, not a JSON error.
        reply.log.warn({ err, component: 'revocation' }, 'OCSP answer failed');
        der = ocspError(OCSPResponseStatus.tryLater);
      }
      return reply.type('application/ocsp-response').header('Cache-Control', 'no-cache').send(Buffer.from(der));
    };

    app.post<{ Params: { caId: string } }>('/pki/:caId/ocsp', { schema: S.ocspPost }, async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      return answer(reply, req.params.caId, body);
    });

    // GET without a request: an OCSP answer saying so, as for any malformed request.
    app.get<{ Params: { caId: string } }>('/pki/:caId/ocsp', { schema: S.ocspGet }, async (req, reply) => answer(reply, req.params.caId, new Uint8Array(0)));

    // GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}: the base64 may hold '/'.
    // Not drawn in the OpenAPI document (a wildcard path); the GET /pki/{caId}/ocsp entry describes it.
    app.get<{ Params: { caId: string; '*': string } }>('/pki/:caId/ocsp/*', { schema: { hide: true } }, async (req, reply) => {
      const encoded = req.params['*'] ?? '';
      if (encoded.length > (MAX_OCSP_REQUEST * 4) / 3 + 8) return answer(reply, req.params.caId, new Uint8Array(0));
      let text = encoded;
      try {
        text = decodeURIComponent(encoded);
      } catch {
        /* left as sent: the base64 check below refuses it */
      }
      const der = /^[A-Za-z0-9+/_-]*={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
      return answer(reply, req.params.caId, der);
    });
  };
