import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fail } from '../domain/errors.ts';
import { type HeldIdempotencyKey, holdingIdempotencyKey } from '../store/idempotency-rows.ts';
import type { Store } from '../store/store.ts';

/*
 * Idempotency-Key (an extension; docs/approvals.md). On the operations that act (start, signal,
 * bulk signals, enrollment, revocation) a client may send `Idempotency-Key: <key>`: the first
 * answer (status, body, Location) is stored and replayed to every retry with the same key and the
 * same request, without acting again. The same key with another request is 422; a retry while the
 * first is being answered waits for it. Keys belong to the caller who sent them and expire after
 * COUNTERSIGN_IDEMPOTENCY_TTL. The store holds them, so retries may reach any node.
 *
 * The handler runs holding its key (holdingIdempotencyKey): the store marks the key acted upon in
 * the action's own transaction. A key acted upon whose answer was never stored (the node died
 * between the commit and onSend) is not acted on again: its retries get 409
 * IdempotencyKeyOutcomeUnknown once the lease is over.
 */

/** Method and route pattern (as registered, under the API base) of the operations that honour the header. */
export const IDEMPOTENT_ROUTES = new Set([
  'POST /KeyfactorAPI/Workflow/Instances',
  'POST /KeyfactorAPI/Workflow/Instances/:id/Signals',
  'POST /KeyfactorAPI/Workflow/Instances/BulkSignals',
  'POST /KeyfactorAPI/Enrollment/CSR',
  'POST /KeyfactorAPI/Enrollment/PFX',
  'POST /KeyfactorAPI/Certificates/Revoke',
]);

const KEY = /^[\x21-\x7e]{1,255}$/;
/** How long one answer may take before another node may take the key over (its node died). */
const LEASE_MS = 60_000;
/** How long a retry waits for the first request's answer before answering 409. */
const WAIT_MS = 30_000;
const REPLAYED_HEADERS = ['location', 'content-type', 'retry-after'];

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: HeldIdempotencyKey | null;
  }
}

export interface IdempotencyOptions {
  store: Store;
  ttlMs: number;
  now?: () => number;
}

/** Installs the hooks on the authenticated API scope (after authentication, before the handler). */
export function installIdempotency(api: FastifyInstance, o: IdempotencyOptions): void {
  const now = o.now ?? Date.now;
  api.decorateRequest('idempotency', null);
  let lastSweep = 0;

  // Hooks only on the routes that honour the header: every other route's answer path stays as it was.
  api.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((m) => IDEMPOTENT_ROUTES.has(`${m} ${route.url}`))) return;
    route.preHandler = [...asArray(route.preHandler), claim];
    // The handler acts under the key it claimed: the store's transactions read it (idempotency-rows.ts).
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
      const held = req.idempotency;
      return held ? holdingIdempotencyKey(held, () => handler.call(this, req, reply)) : handler.call(this, req, reply);
    };
    route.onSend = [...asArray(route.onSend), store];
    route.onResponse = [...asArray(route.onResponse), release];
  });

  async function claim(req: FastifyRequest, reply: FastifyReply) {
    const raw = req.headers['idempotency-key'];
    if (raw === undefined) return;
    const key = Array.isArray(raw) ? fail('IdempotencyKeyInvalid', 'Send one Idempotency-Key header.') : raw.trim();
    if (!KEY.test(key)) fail('IdempotencyKeyInvalid', 'Idempotency-Key must be 1 to 255 printable ASCII characters without spaces.');
    const scope = req.principal!.identity.id;
    const fingerprint = fingerprintOf(req);
    const deadline = now() + WAIT_MS;
    for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
      const t = now();
      const claim = await o.store.claimIdempotencyKey({
        scope,
        key,
        fingerprint,
        now: new Date(t).toISOString(),
        leaseUntil: new Date(t + LEASE_MS).toISOString(),
        expiresAt: new Date(t + o.ttlMs).toISOString(),
      });
      if (claim.state === 'claimed') {
        req.idempotency = { scope, key, open: true };
        break;
      }
      if (claim.state === 'mismatch') fail('IdempotencyKeyReused', `Idempotency-Key '${key}' was already used with a different request; use a new key for a new request.`);
      if (claim.state === 'replay') return replay(reply, claim);
      if (claim.state === 'acted')
        fail(
          'IdempotencyKeyOutcomeUnknown',
          `The request with Idempotency-Key '${key}' was carried out, but its answer was lost (the server stopped before sending it); it is not carried out again. ${LOOK_UP[req.routeOptions.url ?? ''] ?? ''}Send a new key only to act anew.`,
        );
      if (now() + delay > deadline) {
        reply.header('Retry-After', '5');
        fail('IdempotencyKeyInFlight', `A request with Idempotency-Key '${key}' is still being answered; retry in a few seconds.`);
      }
      await new Promise((r) => setTimeout(r, delay));
    }
    // Expired keys go in small batches, at most once a minute, never scanning the whole table.
    if (now() - lastSweep > 60_000) {
      lastSweep = now();
      o.store.sweepIdempotencyKeys(new Date(lastSweep).toISOString(), 500).catch((err) => req.log.warn({ err }, 'idempotency key sweep failed'));
    }
  }

  async function store(req: FastifyRequest, reply: FastifyReply, payload: unknown) {
    const held = req.idempotency;
    if (!held) return payload;
    req.idempotency = null;
    held.open = false;
    // A 5xx (store unavailable) releases the key so the retry is tried again; but a key whose
    // action committed is kept by the store (its retries learn IdempotencyKeyOutcomeUnknown).
    const answer =
      reply.statusCode >= 500 || (payload !== null && payload !== undefined && typeof payload !== 'string' && !Buffer.isBuffer(payload))
        ? null
        : { status: reply.statusCode, headers: pickHeaders(reply), body: payload === null || payload === undefined ? '' : String(payload) };
    await o.store.finishIdempotencyKey(held.scope, held.key, answer);
    return payload;
  }

  // An error thrown after the claim but before onSend (a closed connection) must not strand the key.
  async function release(req: FastifyRequest) {
    const held = req.idempotency;
    if (!held) return;
    req.idempotency = null;
    held.open = false;
    await o.store.finishIdempotencyKey(held.scope, held.key, null).catch(() => {});
  }
}

/** Where a client finds what a request whose answer was lost did. */
const LOOK_UP: Record<string, string> = {
  '/KeyfactorAPI/Workflow/Instances': 'Find the instance it started among yours (GET /KeyfactorAPI/Workflow/Instances/My). ',
  '/KeyfactorAPI/Workflow/Instances/:id/Signals': "Read the instance's history (GET /KeyfactorAPI/Workflow/Instances/{id}?includeHistory=true). ",
  '/KeyfactorAPI/Workflow/Instances/BulkSignals': "Read each instance's history (GET /KeyfactorAPI/Workflow/Instances/{id}?includeHistory=true). ",
  '/KeyfactorAPI/Enrollment/CSR':
    'Look the request up among your workflow instances (GET /KeyfactorAPI/Workflow/Instances/My) or the certificate (GET /KeyfactorAPI/Certificates). ',
  '/KeyfactorAPI/Enrollment/PFX':
    'Look the request up among your workflow instances (GET /KeyfactorAPI/Workflow/Instances/My) or the certificate (GET /KeyfactorAPI/Certificates). ',
  '/KeyfactorAPI/Certificates/Revoke': "Read the certificates' state (GET /KeyfactorAPI/Certificates/{id}). ",
};

const asArray = (h: any): any[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);

/** Request headers that change what an operation answers (the certificate's format). */
const MEANINGFUL_HEADERS = ['x-certificateformat', 'prefer'];

/** The request as far as its meaning goes: operation, path, query, the headers that change the answer, and body. */
function fingerprintOf(req: FastifyRequest): string {
  const path = req.url.split('?')[0]!.toLowerCase();
  const query = JSON.stringify(Object.entries((req.query ?? {}) as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
  const headers = JSON.stringify(
    MEANINGFUL_HEADERS.map((h) =>
      String(req.headers[h] ?? '')
        .trim()
        .toLowerCase(),
    ),
  );
  return createHash('sha256')
    .update(`${req.method}\n${path}\n${query}\n${req.apiVersion}\n${headers}\n${JSON.stringify(req.body ?? null)}`)
    .digest('base64url');
}

function pickHeaders(reply: FastifyReply): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of REPLAYED_HEADERS) {
    const v = reply.getHeader(h);
    if (v !== undefined) out[h] = String(v);
  }
  return out;
}

function replay(reply: FastifyReply, answer: { status: number; headers: Record<string, string>; body: string }): FastifyReply {
  reply.code(answer.status).headers(answer.headers).header('Idempotent-Replayed', 'true');
  return reply.send(answer.body === '' ? undefined : answer.body);
}
