import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKey, RawAcme } from './raw-client.ts';
import { startAcmeApp, type AcmeTestApp } from './support.ts';

/* No input produces a 500 on the ACME endpoints: random bodies, headers, ids and payloads, on both stores. */

let app: AcmeTestApp;
let c: RawAcme;

beforeAll(async () => {
  app = await startAcmeApp();
  c = await new RawAcme(app.directory, app.rootPem, await newKey()).init();
  await c.register();
}, 60_000);
afterAll(async () => {
  await app?.close();
});

/** Percent-encodes every UTF-8 byte (a lone surrogate becomes U+FFFD's bytes, as a client would send). */
const pct = (text: string): string => [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

const junk = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('\u0000', '\ud800', '../../etc', '%00', 'a'.repeat(300)));

describe('ACME robustness', () => {
  it('random raw bodies and path ids answer problem documents, never 500', async () => {
    const paths = ['new-account', 'new-order', 'revoke-cert', 'key-change', 'acct/x', 'order/x', 'order/x/finalize', 'authz/x', 'chall/x/y', 'cert/x'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), junk, fc.oneof(fc.json(), junk), async (path, id, body) => {
        const url = `${app.url}/ACME/${path.replace(/x|y/g, pct(id) || 'x')}`;
        const r = await c.fetch(url, { method: 'POST', headers: { 'content-type': 'application/jose+json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
        expect(r.status).toBeLessThan(500);
        expect(r.headers.get('content-type') ?? '').toContain('problem+json');
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('validly signed requests with random payloads and headers never produce a 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('newOrder', 'newAccount', 'revokeCert', 'keyChange'),
        fc.oneof(
          fc.jsonValue(),
          fc.record({ identifiers: fc.array(fc.record({ type: junk, value: junk })) }),
          fc.record({ csr: junk, certificate: junk, contact: fc.array(junk) }),
        ),
        fc.option(junk, { nil: undefined }),
        async (endpoint, payload, kid) => {
          const r = await c.post(c.dir[endpoint]!, payload === null ? {} : payload, kid === undefined ? {} : { kid });
          expect(r.status, r.text).toBeLessThan(500);
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});
