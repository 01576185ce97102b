import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { fail } from '../../domain/errors.ts';
import { checkAccountName, checkEmail } from '../../domain/security/account-policy.ts';
import type { Json } from '../../domain/types.ts';
import { P } from '../../security/permissions.ts';
import type { SecurityService } from '../../service/security.ts';
import { IDENTITY_FIELDS } from '../../store/query-fields.ts';
import type { Identity } from '../../store/store.ts';
import { requirePermission } from '../guard.ts';
import { listQuery } from '../listing.ts';
import { extension, NoContent } from '../schema/routes.ts';
import { asObject, intParam, str } from '../wire.ts';
import { identityPermissions, identityV1 } from './views.ts';

/** /Security/Identities, and the Unlock and Password extensions. */
export const identityRoutes =
  (security: SecurityService): FastifyPluginAsync =>
  async (app) => {
    app.post('/Security/Identities', async (req) => {
      requirePermission(req, P.securityModify);
      const body = asObject(req.body);
      const accountName = checkAccountName(str(body, 'AccountName', { required: true, nonEmpty: true }) as string);
      const typeRaw = str(body, 'IdentityType');
      let identityType: Identity['identityType'] = 'User';
      if (typeRaw !== null && typeRaw.trim() !== '') {
        const t = typeRaw.trim().toLowerCase();
        if (t !== 'user' && t !== 'group') fail('ValidationFailed', `IdentityType must be 'User' or 'Group', not '${typeRaw}'.`);
        identityType = t === 'group' ? 'Group' : 'User';
      }
      const password = str(body, 'Password');
      if (password !== null) security.checkNewPassword(password, identityType, accountName); // before Email, as the errors have always come
      const email = checkEmail(str(body, 'Email', { max: 256 }), 'Email');
      const sid = str(body, 'SID', { max: 256 });
      const created = await security.createIdentity({ accountName, identityType, password, email, sid: sid === null || sid.trim() === '' ? null : sid.trim() });
      return identityV1(created, await security.rolesOf(created));
    });

    app.get('/Security/Identities', async (req) => {
      requirePermission(req, P.securityRead);
      // The contract gives this list no QueryString; ignoring one would return unfiltered results.
      if (req.q.querystring?.trim()) fail('ValidationFailed', 'GET /Security/Identities takes no QueryString (Keyfactor defines none); page with PageReturned and ReturnLimit.');
      const q = listQuery(req, IDENTITY_FIELDS, 'AccountName');
      const out: Json[] = [];
      for (const i of await security.listIdentities({ limit: q.limit, offset: q.offset, sortColumn: q.sortColumn, ascending: q.ascending }))
        out.push(identityV1(i, await security.rolesOf(i)));
      return out;
    });

    app.get('/Security/Identities/Lookup', async (req) => {
      requirePermission(req, P.securityRead);
      const name = req.q.accountname;
      if (name === undefined || name.trim() === '') fail('ValidationFailed', 'accountName is required.');
      return { Valid: (await security.findIdentity(name!.trim())) !== null };
    });

    app.get('/Security/Identities/:id', async (req) => {
      requirePermission(req, P.securityRead);
      const identity = await security.identity(idParam(req));
      return identityPermissions(identity, await security.rolesOf(identity));
    });

    app.delete('/Security/Identities/:id', async (req, reply) => {
      const p = requirePermission(req, P.securityModify);
      await security.deleteIdentity(p, idParam(req));
      return reply.code(204).send();
    });

    // Lifts a log-in lock-out (docs/security/authentication.md); an extension, not in Keyfactor's API.
    app.post(
      '/Security/Identities/:id/Unlock',
      {
        schema: extension({
          summary: 'Lift the log-in lock-out of an identity',
          params: Type.Object({ id: Type.Integer() }),
          response: { 204: NoContent('The identity may sign in again.') },
        }),
      },
      async (req, reply) => {
        requirePermission(req, P.securityModify);
        await security.unlock(idParam(req));
        return reply.code(204).send();
      },
    );

    // Sets an identity's password (docs/security/authentication.md); an extension, not in Keyfactor's API.
    // The password is never answered back; it lifts a lock-out, so it works at once.
    app.post(
      '/Security/Identities/:id/Password',
      {
        schema: extension({
          summary: 'Set an identity’s password (administrators)',
          params: Type.Object({ id: Type.Integer() }),
          body: Type.Object({ Password: Type.String() }),
          response: { 204: NoContent('Set; never answered back.') },
        }),
      },
      async (req, reply) => {
        const p = requirePermission(req, P.securityModify);
        const id = idParam(req);
        const password = str(asObject(req.body), 'Password', { required: true }) as string;
        await security.resetPassword(p, id, password);
        return reply.code(204).send();
      },
    );
  };

const idParam = (req: FastifyRequest): number => intParam((req.params as { id?: string }).id, 'Identity id');
