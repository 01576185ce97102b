import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { newKey, RawAcme } from './raw-client.ts';
import { challengeServer, startAcmeApp, type AcmeTestApp } from './support.ts';

/*
 * Two nodes on one PostgreSQL store: a nonce one node handed out is good once on either node,
 * and an account and order made on one are served by the other. Runs with
 * COUNTERSIGN_TEST_STORE=postgres (the only store nodes share).
 */
describe.runIf(usePostgres())('ACME across nodes', () => {
  let url = '';
  let a: AcmeTestApp;
  let b: AcmeTestApp;
  let web: Awaited<ReturnType<typeof challengeServer>>;

  beforeAll(async () => {
    url = await testDatabaseUrl();
    web = await challengeServer();
    const shared = { databaseUrl: url, caKey: randomBytes(32).toString('base64') };
    const acme = { httpPort: web.port, resolve: { 'nodes.example.test': '127.0.0.1' } };
    a = await startAcmeApp(acme, shared);
    b = await startAcmeApp(acme, shared);
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await web?.close();
    if (url) await dropTestDatabase(url);
  });

  it("a nonce from one node is accepted once by the other; the other node serves the first's order", async () => {
    const onA = await new RawAcme(a.directory, a.rootPem, await newKey()).init();
    const onB = await new RawAcme(b.directory, a.rootPem, onA.key).init();
    const nonce = await onA.nonce();
    const created = await onB.post(onB.dir.newAccount!, { termsOfServiceAgreed: true }, { kid: null, nonce });
    expect(created.status, created.text).toBe(201);
    expect((await onA.post(onA.dir.newAccount!, { termsOfServiceAgreed: true }, { kid: null, nonce })).body.type).toBe('urn:ietf:params:acme:error:badNonce');
    onA.kid = `${a.url}/ACME/acct/${created.headers.get('location')!.split('/').pop()}`;
    onB.kid = created.headers.get('location');
    const order = await onA.post(onA.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'nodes.example.test' }] });
    expect(order.status, order.text).toBe(201);
    const orderId = order.headers.get('location')!.split('/').pop();
    const seen = await onB.post(`${b.url}/ACME/order/${orderId}`, '');
    expect(seen.body.status).toBe('pending');
    expect(seen.body.identifiers).toEqual([{ type: 'dns', value: 'nodes.example.test' }]);
  }, 60_000);
});
