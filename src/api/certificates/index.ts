import type { FastifyPluginAsync } from 'fastify';
import type { CertificateService } from '../../service/certificates.ts';
import { catalogRoutes } from './catalog-routes.ts';
import { enrollmentRoutes } from './enrollment-routes.ts';
import { inventoryRoutes } from './inventory-routes.ts';
import { requestRoutes } from './request-routes.ts';
import { revocationRoutes } from './revocation-routes.ts';

/** Every certificate-side route plugin, mounted under /KeyfactorAPI behind authentication. */
export const certificateRoutes = (certs: CertificateService): FastifyPluginAsync[] => [
  catalogRoutes(certs),
  enrollmentRoutes(certs),
  inventoryRoutes(certs),
  requestRoutes(certs),
  revocationRoutes(certs),
];
