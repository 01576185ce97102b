import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AcmeProblem, acmeFail } from '../../domain/acme/problems.ts';
import type { AcmeAccount, AcmeAuthz, AcmeChallenge, AcmeOrder, AcmeProfile } from '../../domain/acme/types.ts';
import { CountersignError } from '../../domain/errors.ts';
import { isStoreUnavailable } from '../../store/unavailable.ts';
import { PROCESSING_RETRY_AFTER, RESERVED_PROFILE_NAMES, type AcmeService } from '../../service/acme/acme-service.ts';
import * as jose from 'jose';
import { ACCOUNT_ALGORITHMS, keyOf, verifyJws, type VerifiedRequest } from './jws.ts';

/*
 * RFC 8555 over HTTP: one directory per profile, `/ACME/directory` (profile "default") and
 * `/ACME/<profile>/directory`. Every answer carries a fresh Replay-Nonce and Link rel="index";
 * every error is an application/problem+json document.
 */

interface Ctx {
  profile: AcmeProfile;
  /** https://host/ACME or https://host/ACME/<profile> */
  base: string;
}

export function acmeRoutes(service: AcmeService) {
  return async (app: FastifyInstance): Promise<void> => {
    // RFC 8555's resources, not Keyfactor's API: described by the RFC and docs/acme.md, not in the OpenAPI document.
    app.addHook('onRoute', (route) => {
      route.schema = { ...(route.schema ?? {}), hide: true };
    });
    app.setErrorHandler((err, req, reply) => sendProblem(err as Error, req, reply));
    app.setNotFoundHandler((req, reply) =>
      sendProblem(new AcmeProblem('malformed', `No ACME resource ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}.`, [], 404), req, reply),
    );
    // Ids are ours (base64url); anything else names nothing and never reaches the store.
    app.addHook('preValidation', async (req) => {
      for (const v of Object.values((req.params ?? {}) as Record<string, string>))
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw new AcmeProblem('malformed', 'No such ACME resource.', [], 404);
    });
    app.addHook('onSend', async (req, reply, payload) => {
      reply.header('Cache-Control', 'no-store');
      try {
        reply.header('Replay-Nonce', await service.newNonce());
      } catch {
        // The store is down: the answer (a 503 problem) goes out without a nonce.
      }
      const base = (req as FastifyRequest & { acmeBase?: string }).acmeBase;
      if (base && !/\/directory$/.test(req.url.split('?')[0]!)) {
        // Beside a handler's own links (rel="up" of a challenge).
        const own = reply.getHeader('Link');
        const links = own === undefined ? [] : Array.isArray(own) ? own.map(String) : [String(own)];
        reply.header('Link', [...links, `<${base}/directory>;rel="index"`]);
      }
      return payload;
    });

    // Mounted at /ACME (server.ts): the default profile's paths and each named profile's.
    for (const prefix of ['', '/:profile']) {
      const ctx = async (req: FastifyRequest): Promise<Ctx> => {
        const raw = (req.params as { profile?: string }).profile;
        if (raw !== undefined && (RESERVED_PROFILE_NAMES.has(raw.toLowerCase()) || !/^[A-Za-z0-9_-]{1,64}$/.test(raw))) acmeFail('malformed', 'No such ACME profile.');
        const profile = await service.profile(raw ?? 'default');
        const base = `${req.protocol}://${req.host}/ACME${raw === undefined ? '' : `/${raw}`}`;
        (req as FastifyRequest & { acmeBase?: string }).acmeBase = base;
        return { profile, base };
      };
      const verify = async (req: FastifyRequest, c: Ctx, keyBy: 'jwk' | 'kid' | 'either'): Promise<VerifiedRequest> => {
        const type = String(req.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim()
          .toLowerCase();
        if (type !== 'application/jose+json') throw new AcmeProblem('malformed', 'Send the JWS as application/jose+json.', [], 415);
        return verifyJws(service, c.profile, req.body, { url: `${req.protocol}://${req.host}${req.url}`, accountUrlPrefix: `${c.base}/acct/`, keyBy });
      };
      const asAccount = (v: VerifiedRequest): AcmeAccount => v.account ?? acmeFail('malformed', 'This request must be signed by an account (kid).');

      app.get(`${prefix}/directory`, async (req) => {
        const c = await ctx(req);
        return {
          newNonce: `${c.base}/new-nonce`,
          newAccount: `${c.base}/new-account`,
          newOrder: `${c.base}/new-order`,
          revokeCert: `${c.base}/revoke-cert`,
          keyChange: `${c.base}/key-change`,
          meta: {
            externalAccountRequired: c.profile.requireEab,
            website: `${req.protocol}://${req.host}/KeyfactorPortal`,
            'countersign:profile': c.profile.name,
            'countersign:challenges': c.profile.challengeTypes,
          },
        };
      });
      app.route({
        method: 'HEAD',
        url: `${prefix}/new-nonce`,
        handler: async (req, reply) => {
          await ctx(req);
          // Returned: an async handler that sends without returning the reply races Fastify's own
          // send (the Replay-Nonce hook is async on PostgreSQL), and the nonce header was lost.
          return reply.code(200).send();
        },
      });
      app.get(`${prefix}/new-nonce`, async (req, reply) => {
        await ctx(req);
        return reply.code(204).send();
      });

      app.post(`${prefix}/new-account`, async (req, reply) => {
        const c = await ctx(req);
        const v = await verify(req, c, 'jwk');
        const { account, created } = await service.newAccount(c.profile, v.key!, v.payload ?? {}, `${c.base}/new-account`);
        reply.code(created ? 201 : 200).header('Location', `${c.base}/acct/${account.id}`);
        return accountView(account, c);
      });
      app.post(`${prefix}/acct/:id`, async (req, reply) => {
        const c = await ctx(req);
        const v = await verify(req, c, 'kid');
        const account = asAccount(v);
        if (account.id !== (req.params as { id: string }).id) acmeFail('unauthorized', 'An account can only read or change itself.');
        const updated = v.payload && (v.payload.contact !== undefined || v.payload.status !== undefined) ? await service.updateAccount(account, v.payload) : account;
        reply.header('Location', `${c.base}/acct/${account.id}`);
        return accountView(updated, c);
      });
      app.post(`${prefix}/acct/:id/orders`, async (req) => {
        const c = await ctx(req);
        const account = asAccount(await verify(req, c, 'kid'));
        if (account.id !== (req.params as { id: string }).id) acmeFail('unauthorized', 'An account can only list its own orders.');
        return { orders: (await service.listOrderIds(account)).map((id) => `${c.base}/order/${id}`) };
      });
      app.post(`${prefix}/key-change`, async (req) => {
        const c = await ctx(req);
        const outer = await verify(req, c, 'kid');
        const account = asAccount(outer);
        // The inner JWS (§7.3.5): signed by the new key (jwk), url the same, payload {account, oldKey}.
        const inner = outer.payload as Record<string, unknown> | null;
        if (!inner || typeof inner.protected !== 'string' || typeof inner.payload !== 'string' || typeof inner.signature !== 'string')
          acmeFail('malformed', 'The keyChange payload must be a flattened JWS signed by the new key.');
        let header: jose.ProtectedHeaderParameters;
        try {
          header = jose.decodeProtectedHeader(inner as unknown as jose.FlattenedJWS);
        } catch {
          return acmeFail('malformed', 'The inner JWS header is not readable.');
        }
        if (header.url !== outer.header.url) acmeFail('malformed', 'The inner JWS url must equal the outer one.');
        if (header.nonce !== undefined) acmeFail('malformed', 'The inner JWS must not carry a nonce.');
        const newKey = await keyOf(header.jwk);
        let body: { account?: unknown; oldKey?: unknown };
        try {
          const r = await jose.flattenedVerify(inner as unknown as jose.FlattenedJWSInput, await jose.importJWK(newKey.jwk, String(header.alg)), {
            algorithms: ACCOUNT_ALGORITHMS,
          });
          body = JSON.parse(new TextDecoder().decode(r.payload));
        } catch {
          return acmeFail('malformed', 'The inner JWS does not verify with the new key.');
        }
        if (body.account !== `${c.base}/acct/${account.id}`) acmeFail('malformed', 'The inner payload account must be this account URL.');
        const old = await keyOf(body.oldKey);
        if (old.thumbprint !== account.thumbprint) acmeFail('malformed', 'oldKey is not the account key.');
        return accountView(await service.changeKey(account, newKey), c);
      });

      app.post(`${prefix}/new-order`, async (req, reply) => {
        const c = await ctx(req);
        const v = await verify(req, c, 'kid');
        const order = await service.newOrder(c.profile, asAccount(v), v.payload ?? acmeFail('malformed', 'newOrder needs a payload.'));
        reply.code(201).header('Location', `${c.base}/order/${order.id}`);
        return orderView(order, c);
      });
      app.post(`${prefix}/order/:id`, async (req, reply) => {
        const c = await ctx(req);
        const account = asAccount(await verify(req, c, 'kid'));
        const order = await service.order(account, (req.params as { id: string }).id);
        if (order.status === 'processing') reply.header('Retry-After', String(PROCESSING_RETRY_AFTER));
        reply.header('Location', `${c.base}/order/${order.id}`);
        return orderView(order, c);
      });
      app.post(`${prefix}/order/:id/finalize`, async (req, reply) => {
        const c = await ctx(req);
        const v = await verify(req, c, 'kid');
        const order = await service.finalize(c.profile, asAccount(v), (req.params as { id: string }).id, v.payload?.csr);
        if (order.status === 'processing') reply.header('Retry-After', String(PROCESSING_RETRY_AFTER));
        reply.header('Location', `${c.base}/order/${order.id}`);
        return orderView(order, c);
      });
      app.post(`${prefix}/authz/:id`, async (req) => {
        const c = await ctx(req);
        const v = await verify(req, c, 'kid');
        const id = (req.params as { id: string }).id;
        const authz = v.payload?.status === 'deactivated' ? await service.deactivateAuthz(asAccount(v), id) : await service.authz(asAccount(v), id);
        return authzView(authz, c);
      });
      app.post(`${prefix}/chall/:authz/:id`, async (req, reply) => {
        const c = await ctx(req);
        const v = await verify(req, c, 'kid');
        const p = req.params as { authz: string; id: string };
        if (v.payload === null) {
          const authz = await service.authz(asAccount(v), p.authz);
          const ch = authz.challenges.find((x) => x.id === p.id) ?? acmeFail('malformed', 'No such challenge.');
          return challengeView(ch, authz, c);
        }
        const { authz, challenge } = await service.respondChallenge(asAccount(v), p.authz, p.id);
        reply.header('Link', `<${c.base}/authz/${authz.id}>;rel="up"`);
        return challengeView(challenge, authz, c);
      });
      app.post(`${prefix}/cert/:id`, async (req, reply) => {
        const c = await ctx(req);
        const v = await verify(req, c, 'kid');
        const pem = await service.certificateChain(asAccount(v), (req.params as { id: string }).id);
        reply.type('application/pem-certificate-chain');
        return pem;
      });
      app.post(`${prefix}/revoke-cert`, async (req, reply) => {
        const c = await ctx(req);
        const v = await verify(req, c, 'either');
        await service.revoke(c.profile, v.account, v.key, v.payload ?? {});
        reply.code(200).send();
      });
    }
  };
}

function accountView(a: AcmeAccount, c: Ctx) {
  return { status: a.status, contact: a.contact, orders: `${c.base}/acct/${a.id}/orders`, ...(a.eabKid ? { externalAccountBinding: { kid: a.eabKid } } : {}) };
}

function orderView(o: AcmeOrder, c: Ctx) {
  return {
    status: o.status,
    expires: o.expires,
    identifiers: o.identifiers,
    authorizations: o.authzIds.map((id) => `${c.base}/authz/${id}`),
    finalize: `${c.base}/order/${o.id}/finalize`,
    ...(o.certificateId !== null && o.status === 'valid' ? { certificate: `${c.base}/cert/${o.id}` } : {}),
    ...(o.error ? { error: o.error } : {}),
  };
}

function challengeView(ch: AcmeChallenge, a: AcmeAuthz, c: Ctx) {
  return {
    type: ch.type,
    url: `${c.base}/chall/${a.id}/${ch.id}`,
    token: ch.token,
    status: ch.status,
    ...(ch.validated ? { validated: ch.validated } : {}),
    ...(ch.error ? { error: ch.error } : {}),
  };
}

function authzView(a: AcmeAuthz, c: Ctx) {
  return {
    identifier: a.identifier,
    status: a.status,
    expires: a.expires,
    challenges: a.challenges.map((ch) => challengeView(ch, a, c)),
    ...(a.wildcard ? { wildcard: true } : {}),
  };
}

/** Every error as a problem document; Keyfactor-shaped errors (body parsing, the store) are translated. */
function sendProblem(err: Error, req: FastifyRequest, reply: FastifyReply): void {
  let p: AcmeProblem;
  if (err instanceof AcmeProblem) p = err;
  else if (err instanceof CountersignError)
    p = new AcmeProblem(
      err.status === 429 ? 'rateLimited' : err.status >= 500 ? 'serverInternal' : err.status === 401 || err.status === 403 ? 'unauthorized' : 'malformed',
      err.message,
      [],
      err.status,
    );
  else if (isStoreUnavailable(err)) {
    reply.header('Retry-After', '5');
    p = new AcmeProblem('serverInternal', 'The database is not reachable right now; try again in a few seconds.', [], 503);
  } else {
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) p = new AcmeProblem('malformed', err.message, [], status);
    else {
      req.log.error({ err }, 'unhandled ACME error');
      p = new AcmeProblem('serverInternal', 'An unexpected error occurred; it has been logged.');
    }
  }
  reply.code(p.status).type('application/problem+json').send(JSON.stringify(p.toProblem()));
}
