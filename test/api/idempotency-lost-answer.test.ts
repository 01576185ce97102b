import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import type { Store } from '../../src/store/store.ts';
import { opensslCsr } from '../certificates/openssl.ts';
import { approval, createRole, createUser, noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/*
 * The Idempotency-Key crash window (docs/approvals.md#idempotency-key): the action commits, then
 * the node dies before the answer is stored. Simulated on a real server: finishIdempotencyKey is
 * dropped (never happens), the server's clock moves past the 60 s lease, and the client retries
 * with the same key and body. The retry must not act a second time.
 */

const LEASE_MS = 60_000;
const OUTCOME_UNKNOWN = '0xA5C000B3';
const CA = 'countersign\\CountersignIssuingCA';

let t: TestApp;
let store: Store;
let dave: { id: number; auth: string };
let realNow: () => string;

beforeEach(async () => {
  t = await startTestApp();
  store = t.server.services.store;
  realNow = t.server.services.now;
  dave = await createUser(store, 'CORP\\dave');
  await createRole(store, 'Requesters', [P.instancesStart, P.instancesReadMine, P.enrollCsr], [dave.id]);
});
afterEach(() => t.close());

/** Runs `send` as the node that dies after the action's commit: its answer is never stored. */
async function answerLost<R>(send: () => Promise<R>): Promise<R> {
  const finish = store.finishIdempotencyKey;
  store.finishIdempotencyKey = async () => {};
  try {
    return await send();
  } finally {
    store.finishIdempotencyKey = finish;
  }
}

/** The server's clock (the Idempotency-Key hooks read it) moves past the first request's lease. */
const leaseOver = () => {
  t.server.services.now = () => new Date(Date.parse(realNow()) + LEASE_MS + 5_000).toISOString();
};

describe('Idempotency-Key: the answer lost after the action committed', () => {
  it('a retried start is 409 IdempotencyKeyOutcomeUnknown, and exactly one instance exists', async () => {
    const seed = await publishedDefinition(t, [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [1]), noop('EndNOOP')]);
    const title = `lost answer ${Math.random().toString(36).slice(2)}`;
    const start = () =>
      t.call('POST', '/KeyfactorAPI/Workflow/Instances', {
        auth: dave.auth,
        body: { DefinitionId: seed, Title: title },
        headers: { 'Idempotency-Key': 'lost-1' },
        unchecked: true,
      });
    const mine = async () =>
      ((await t.call('GET', '/KeyfactorAPI/Workflow/Instances/My?pq.returnLimit=1000', { auth: dave.auth, unchecked: true })).body as { Title: string }[]).filter(
        (i) => i.Title === title,
      );

    const first = await answerLost(start);
    expect(first.status).toBe(201); // what the client never received
    leaseOver();
    const retry = await start();
    expect(retry.status).toBe(409);
    expect(retry.body.ErrorCode).toBe(OUTCOME_UNKNOWN);
    expect(retry.body.Message).toContain('was carried out, but its answer was lost');
    expect(retry.body.Message).toContain('/Workflow/Instances/My');
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    // Every later retry says the same, and still nothing is started again.
    expect((await start()).body.ErrorCode).toBe(OUTCOME_UNKNOWN);
    expect(await mine()).toHaveLength(1);
    // Another request with the key is still refused as a reuse; a new key acts.
    const other = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', {
      auth: dave.auth,
      body: { DefinitionId: seed, Title: 'other' },
      headers: { 'Idempotency-Key': 'lost-1' },
      unchecked: true,
    });
    expect(other.status).toBe(422);
  });

  it('a retried enrollment is 409 IdempotencyKeyOutcomeUnknown, and exactly one certificate is issued', async () => {
    const cn = `lost-${Math.random().toString(36).slice(2)}.example.com`;
    const { csr } = opensslCsr('p256', `/CN=${cn}`, `DNS:${cn}`);
    const enroll = () =>
      t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
        auth: dave.auth,
        headers: { 'x-certificateformat': 'PEM', 'Idempotency-Key': 'lost-enroll' },
        body: { CSR: csr, Template: 'Countersign', CertificateAuthority: CA },
        unchecked: true,
      });
    const first = await answerLost(enroll);
    expect(first.status).toBe(200);
    leaseOver();
    const retry = await enroll();
    expect(retry.status).toBe(409);
    expect(retry.body.ErrorCode).toBe(OUTCOME_UNKNOWN);
    const found = await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=${encodeURIComponent(`IssuedCN -eq "${cn}"`)}`, { unchecked: true });
    expect(found.body).toHaveLength(1);
  });

  it('a key whose request acted nothing before its node died is still taken over after the lease, and acts', async () => {
    // The first request was refused (no such definition): its 4xx is its answer, but here that answer is lost too.
    const send = (id: string) =>
      t.call('POST', '/KeyfactorAPI/Workflow/Instances', { auth: dave.auth, body: { DefinitionId: id, Title: 'x' }, headers: { 'Idempotency-Key': 'lost-2' }, unchecked: true });
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await answerLost(() => send(missing))).status).toBe(404);
    leaseOver();
    // Nothing acted: the retry acts (and answers 404 again, stored this time).
    const retry = await send(missing);
    expect(retry.status).toBe(404);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect((await send(missing)).headers.get('idempotent-replayed')).toBe('true');
  });
});
