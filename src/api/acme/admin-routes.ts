import { extension } from '../schema/routes.ts';
import type { FastifyPluginAsync } from 'fastify';
import type { AcmeProfile, ChallengeType, EabKey } from '../../domain/acme/types.ts';
import { fail } from '../../domain/errors.ts';
import type { Json } from '../../domain/types.ts';
import { P } from '../../security/permissions.ts';
import type { AcmeService } from '../../service/acme/acme-service.ts';
import { defaultProfile } from '../../domain/acme/policy.ts';
import { requirePermission } from '../guard.ts';
import { asObject, bool, field, int, str } from '../wire.ts';

/*
 * Extension: administration of the ACME server under /KeyfactorAPI/ACME (docs/acme.md): profiles
 * (read with the CA read permission, changed with the CA modify permission) and EAB keys.
 */

const strings = (b: Record<string, Json>, name: string): string[] | null => {
  const v = field(b, name);
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string') || v.length > 500) return fail('ValidationFailed', `${name} must be an array of strings.`);
  return v as string[];
};

export function profileWire(p: AcmeProfile, baseUrl: string) {
  return {
    Name: p.name,
    DirectoryUrl: `${baseUrl}/ACME${p.name === 'default' ? '' : `/${p.name}`}/directory`,
    Template: p.template,
    CertificateAuthority: p.certificateAuthority,
    RequireEab: p.requireEab,
    ChallengeTypes: p.challengeTypes,
    AllowedDomains: p.allowedDomains,
    AllowedIpRanges: p.allowedIpRanges,
    AllowWildcards: p.allowWildcards,
    OrderLifetimeSeconds: p.orderLifetimeSeconds,
    MaxPendingOrders: p.maxPendingOrders,
  };
}

const eabWire = (k: EabKey) => ({
  KeyId: k.kid,
  IdentityId: k.identityId,
  Profile: k.profile,
  CreatedAt: k.createdAt,
  CreatedBy: k.createdBy,
  RevokedAt: k.revokedAt,
  AccountId: k.accountId,
});

export const acmeAdminRoutes =
  (acme: AcmeService): FastifyPluginAsync =>
  async (app) => {
    const base = (req: { protocol: string; host: string }) => `${req.protocol}://${req.host}`;

    app.get('/ACME/Profiles', { schema: extension({ summary: 'List the ACME profiles (one directory each)' }) }, async (req) => {
      requirePermission(req, P.casRead);
      const stored = await acme.listProfiles();
      const all = stored.some((p) => p.name === 'default') ? stored : [defaultProfile(), ...stored];
      return all.map((p) => profileWire(p, base(req)));
    });

    app.put<{ Params: { name: string } }>(
      '/ACME/Profiles/:name',
      { schema: extension({ summary: 'Create or change an ACME profile: template, CA, identifier policy, EAB, challenge types, order lifetime' }) },
      async (req) => {
        requirePermission(req, P.casModify);
        const b = asObject(req.body ?? null);
        const d = defaultProfile(req.params.name);
        const profile = await acme.putProfile({
          name: req.params.name,
          template: str(b, 'Template', { max: 200 }) ?? null,
          certificateAuthority: str(b, 'CertificateAuthority', { max: 400 }) ?? null,
          requireEab: bool(b, 'RequireEab') ?? d.requireEab,
          challengeTypes: (strings(b, 'ChallengeTypes') as ChallengeType[] | null) ?? d.challengeTypes,
          allowedDomains: strings(b, 'AllowedDomains') ?? [],
          allowedIpRanges: strings(b, 'AllowedIpRanges') ?? [],
          allowWildcards: bool(b, 'AllowWildcards') ?? d.allowWildcards,
          orderLifetimeSeconds: int(b, 'OrderLifetimeSeconds', { min: 60 }) ?? d.orderLifetimeSeconds,
          maxPendingOrders: int(b, 'MaxPendingOrders', { min: 1 }) ?? d.maxPendingOrders,
        });
        return profileWire(profile, base(req));
      },
    );

    app.delete<{ Params: { name: string } }>('/ACME/Profiles/:name', { schema: extension({ summary: 'Delete an ACME profile' }) }, async (req, reply) => {
      requirePermission(req, P.casModify);
      if (!(await acme.deleteProfile(req.params.name))) fail('NotFound', `No stored ACME profile '${req.params.name}'.`);
      reply.code(204).send();
    });

    app.get('/ACME/EabKeys', { schema: extension({ summary: 'List the External Account Binding keys (never their HMAC keys)' }) }, async (req) => {
      requirePermission(req, P.casModify);
      return (await acme.listEabKeys()).map(eabWire);
    });

    // The HMAC key is in this answer only; Countersign keeps it sealed.
    app.post('/ACME/EabKeys', { schema: extension({ summary: 'Create an External Account Binding key bound to an identity (the HMAC key is shown once)' }) }, async (req) => {
      const principal = requirePermission(req, P.casModify);
      const b = asObject(req.body ?? null);
      const identity = str(b, 'Identity', { required: true, nonEmpty: true, max: 300 })!;
      const { key, hmac } = await acme.createEabKey(identity, str(b, 'Profile', { max: 64 }) ?? null, principal);
      return { ...eabWire(key), HmacKey: hmac };
    });

    app.delete<{ Params: { kid: string } }>('/ACME/EabKeys/:kid', { schema: extension({ summary: 'Revoke an External Account Binding key' }) }, async (req, reply) => {
      const principal = requirePermission(req, P.casModify);
      if (!(await acme.revokeEabKey(req.params.kid, principal))) fail('NotFound', `No EAB key '${req.params.kid}'.`);
      reply.code(204).send();
    });
  };
