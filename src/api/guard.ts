import { fail } from '../domain/errors.ts';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../security/principal.ts';
import { grants } from '../security/permissions.ts';

export function principalOf(req: FastifyRequest): Principal {
  return req.principal ?? fail('Unauthenticated', 'Authentication is required.');
}

/** Passes when the caller holds any of the permissions; otherwise 403 naming them. */
export function requirePermission(req: FastifyRequest, ...anyOf: string[]): Principal {
  const p = principalOf(req);
  if (!anyOf.some((perm) => grants(p.permissions, perm))) fail('Forbidden', `${p.identity.accountName} lacks the permission for this operation; it needs ${anyOf.join(' or ')}.`);
  return p;
}

export const can = (p: Principal, perm: string): boolean => grants(p.permissions, perm);
