import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProfile } from '../../src/domain/acme/policy.ts';
import { tmp } from '../certificates/openssl.ts';
import { createUser } from '../support/fixtures.ts';
import { newKey, RawAcme } from './raw-client.ts';
import { challengeServer, startAcmeApp, type AcmeTestApp } from './support.ts';

/* Every error path of the protocol: problem documents with the RFC 8555 type, and a fresh nonce on each answer. */

let app: AcmeTestApp;
let web: Awaited<ReturnType<typeof challengeServer>>;
const ERR = 'urn:ietf:params:acme:error:';

beforeAll(async () => {
  web = await challengeServer();
  app = await startAcmeApp({ httpPort: web.port, resolve: { 'ok.example.test': '127.0.0.1', 'redirect.example.test': '127.0.0.1', 'other.example.test': '127.0.0.1' } });
  const s = app.server.services.store;
  await s.acme.putProfile({ ...defaultProfile('strict'), allowedDomains: ['example.test'], allowedIpRanges: ['10.0.0.0/8'], maxPendingOrders: 2, requireEab: true });
  await createUser(s, 'carol');
}, 60_000);
afterAll(async () => {
  await app?.close();
  await web?.close();
});

const client = async (profile = '') => new RawAcme(`${app.url}/ACME${profile}/directory`, app.rootPem, await newKey()).init();

function csrFor(names: string[], cn?: string): string {
  return csrAndKey(names, cn).csr;
}

function csrAndKey(names: string[], cn?: string): { csr: string; keyPem: string } {
  const dir = tmp();
  const args = [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(dir, 'k.pem'),
    '-outform',
    'DER',
    '-out',
    join(dir, 'r.der'),
    '-subj',
    cn ? `/CN=${cn}` : '/',
  ];
  args.push('-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`);
  execFileSync('openssl', args, { stdio: 'pipe' });
  return { csr: readFileSync(join(dir, 'r.der')).toString('base64url'), keyPem: readFileSync(join(dir, 'k.pem'), 'utf8') };
}

const leafOf = (chainPem: string): string => chainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/)![0];

/** An order for `names` with every authorization validated over http-01. */
async function readyOrder(c: RawAcme, names: string[]): Promise<{ url: string; body: any }> {
  const order = await c.post(c.dir.newOrder!, { identifiers: names.map((value) => ({ type: 'dns', value })) });
  expect(order.status, order.text).toBe(201);
  for (const authzUrl of order.body.authorizations) {
    const authz = await c.post(authzUrl, '');
    const ch = authz.body.challenges.find((x: any) => x.type === 'http-01');
    web.tokens.set(ch.token, `${ch.token}.${c.key.thumbprint}`);
    const done = await c.post(ch.url, {});
    expect(done.body.status, done.text).toBe('valid');
  }
  const url = order.headers.get('location')!;
  return { url, body: (await c.post(url, '')).body };
}

describe('the directory and nonces', () => {
  it('answers the directory and fresh nonces on HEAD (200) and GET (204), never cached', async () => {
    const c = await client();
    expect(Object.keys(c.dir)).toEqual(expect.arrayContaining(['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange', 'meta']));
    const head = await c.fetch(c.dir.newNonce!, { method: 'HEAD' });
    const get = await c.fetch(c.dir.newNonce!);
    expect([head.status, get.status]).toEqual([200, 204]);
    expect(head.headers.get('replay-nonce')).not.toBe(get.headers.get('replay-nonce'));
    expect(head.headers.get('cache-control')).toBe('no-store');
    expect(head.headers.get('link')).toContain('rel="index"');
  });

  it('an unknown profile is a 404 problem document', async () => {
    const r = await (await client()).fetch(`${app.url}/ACME/nope/directory`);
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
  });
});

describe('JWS checks', () => {
  it('a body that is not a JWS is malformed, with a nonce for the retry', async () => {
    const c = await client();
    const r = await c.post(c.dir.newAccount!, null, { raw: '{"hello": 1}' });
    expect(r.status).toBe(400);
    expect(r.body.type).toBe(`${ERR}malformed`);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.headers.get('replay-nonce')).toBeTruthy();
  });

  it('a wrong content type is refused (415)', async () => {
    const c = await client();
    const r = await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { kid: null, contentType: 'application/json' });
    expect(r.status).toBe(415);
    expect(r.body.type).toBe(`${ERR}malformed`);
  });

  it('a signature by another key does not verify', async () => {
    const c = await client();
    const other = await newKey();
    const r = await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { kid: null, signWith: other.privateKey });
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/signature does not verify/);
  });

  it('HMAC and "none" algorithms are refused (badSignatureAlgorithm)', async () => {
    const c = await client();
    const nonce = await c.nonce();
    const jws = await new jose.FlattenedSign(new TextEncoder().encode('{}'))
      .setProtectedHeader({ alg: 'HS256', nonce, url: c.dir.newAccount, jwk: c.key.jwk })
      .sign(new Uint8Array(32));
    const r = await c.post(c.dir.newAccount!, null, { raw: JSON.stringify(jws) });
    expect(r.body.type).toBe(`${ERR}badSignatureAlgorithm`);
  });

  it('an unknown nonce and a replayed nonce are badNonce', async () => {
    const c = await client();
    const wrong = await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { kid: null, nonce: 'bm90LWEtbm9uY2U' });
    expect(wrong.body.type).toBe(`${ERR}badNonce`);
    const nonce = await c.nonce();
    expect((await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { kid: null, nonce })).status).toBe(201);
    const replay = await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { kid: null, nonce });
    expect(replay.body.type).toBe(`${ERR}badNonce`);
  });

  it('a url header naming another resource is unauthorized', async () => {
    const c = await client();
    const r = await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { kid: null, url: c.dir.newOrder });
    expect(r.status).toBe(403);
    expect(r.body.type).toBe(`${ERR}unauthorized`);
  });

  it('an unknown account (kid) is accountDoesNotExist; onlyReturnExisting too', async () => {
    const c = await client();
    c.kid = `${app.url}/ACME/acct/AAAAAAAAAAAAAAAAAAAAAA`;
    expect((await c.post(c.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'ok.example.test' }] })).body.type).toBe(`${ERR}accountDoesNotExist`);
    const r = await c.post(c.dir.newAccount!, { onlyReturnExisting: true }, { kid: null });
    expect(r.body.type).toBe(`${ERR}accountDoesNotExist`);
  });

  it('an account of one profile is unknown in another', async () => {
    const c = await client();
    expect((await c.register()).status).toBe(201);
    const strict = await client('/strict');
    strict.kid = c.kid;
    strict.key = c.key;
    const r = await strict.post(strict.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'ok.example.test' }] });
    expect(r.body.type).toBe(`${ERR}accountDoesNotExist`);
  });

  it('an existing key gets its account back (200, same Location)', async () => {
    const c = await client();
    const first = await c.register();
    const again = await c.register();
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
  });
});

describe('External Account Binding', () => {
  async function eab(c: RawAcme, kid: string, hmac: Uint8Array, url = c.dir.newAccount!) {
    return new jose.FlattenedSign(new TextEncoder().encode(JSON.stringify(c.key.jwk))).setProtectedHeader({ alg: 'HS256', kid, url }).sign(hmac);
  }

  it('a profile requiring EAB refuses accounts without it, with a wrong MAC, and a used key', async () => {
    const created = await app.call('POST', '/KeyfactorAPI/ACME/EabKeys', { body: { Identity: 'carol', Profile: 'strict' }, unchecked: true });
    expect(created.status, created.text).toBe(200);
    const { KeyId, HmacKey } = created.body;
    const c = await client('/strict');
    expect(c.dir.meta).toMatchObject({ externalAccountRequired: true });
    expect((await c.register()).body.type).toBe(`${ERR}externalAccountRequired`);
    const wrong = await c.register({ termsOfServiceAgreed: true, externalAccountBinding: await eab(c, KeyId, new Uint8Array(32)) });
    expect(wrong.body.type).toBe(`${ERR}unauthorized`);
    const good = await c.register({ termsOfServiceAgreed: true, externalAccountBinding: await eab(c, KeyId, Buffer.from(HmacKey, 'base64url')) });
    expect(good.status, good.text).toBe(201);
    expect(good.body.externalAccountBinding).toEqual({ kid: KeyId });
    const d = await client('/strict');
    const reuse = await d.register({ termsOfServiceAgreed: true, externalAccountBinding: await eab(d, KeyId, Buffer.from(HmacKey, 'base64url')) });
    expect(reuse.body.type).toBe(`${ERR}unauthorized`);
    const keys = await app.call('GET', '/KeyfactorAPI/ACME/EabKeys', { unchecked: true });
    expect(keys.body.find((k: any) => k.KeyId === KeyId).AccountId).toBe(good.headers.get('location')!.split('/').pop());
    expect(JSON.stringify(keys.body)).not.toContain(HmacKey);
  });

  it('a revoked key binds nothing', async () => {
    const { KeyId, HmacKey } = (await app.call('POST', '/KeyfactorAPI/ACME/EabKeys', { body: { Identity: 'carol' }, unchecked: true })).body;
    expect((await app.call('DELETE', `/KeyfactorAPI/ACME/EabKeys/${KeyId}`, { unchecked: true })).status).toBe(204);
    const c = await client('/strict');
    const r = await c.register({ termsOfServiceAgreed: true, externalAccountBinding: await eab(c, KeyId, Buffer.from(HmacKey, 'base64url')) });
    expect(r.body.type).toBe(`${ERR}unauthorized`);
  });
});

describe('orders', () => {
  async function strictAccount(identity = 'carol'): Promise<RawAcme> {
    const { KeyId, HmacKey } = (await app.call('POST', '/KeyfactorAPI/ACME/EabKeys', { body: { Identity: identity, Profile: 'strict' }, unchecked: true })).body;
    const c = await client('/strict');
    const jws = await new jose.FlattenedSign(new TextEncoder().encode(JSON.stringify(c.key.jwk)))
      .setProtectedHeader({ alg: 'HS256', kid: KeyId, url: c.dir.newAccount })
      .sign(Buffer.from(HmacKey, 'base64url'));
    expect((await c.register({ termsOfServiceAgreed: true, externalAccountBinding: jws })).status).toBe(201);
    return c;
  }

  it('identifiers outside the profile policy are rejectedIdentifier, each named', async () => {
    const c = await strictAccount();
    const one = await c.post(c.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'www.example.com' }] });
    expect(one.body.type).toBe(`${ERR}rejectedIdentifier`);
    const two = await c.post(c.dir.newOrder!, {
      identifiers: [
        { type: 'dns', value: 'evil.example.org' },
        { type: 'ip', value: '192.168.1.1' },
        { type: 'dns', value: '*.example.test' },
      ],
    });
    expect(two.body.type).toBe(`${ERR}rejectedIdentifier`);
    expect(two.body.subproblems).toHaveLength(3);
    const bogus = await c.post(c.dir.newOrder!, { identifiers: [{ type: 'email', value: 'a@b.c' }] });
    expect(bogus.body.type).toBe(`${ERR}unsupportedIdentifier`);
  });

  it('an EAB-bound account enrolls as its Countersign identity', async () => {
    const c = await strictAccount();
    const { body } = await readyOrder(c, ['ok.example.test']);
    const done = await c.post(body.finalize, { csr: csrFor(['ok.example.test']) });
    expect(done.body.status, done.text).toBe('valid');
    const leaf = leafOf((await c.post(done.body.certificate, '')).text);
    const thumbprint = new X509Certificate(leaf).fingerprint.replace(/:/g, '');
    const cert = await app.server.services.store.certificates.findCertificate({ thumbprint });
    expect(cert?.requesterName).toBe('carol');
  });

  it('an account whose identity was deleted cannot finalize, and its order stays ready', async () => {
    const dave = await createUser(app.server.services.store, 'dave');
    const c = await strictAccount('dave');
    const { url, body } = await readyOrder(c, ['ok.example.test']);
    expect(await app.server.services.store.deleteIdentity(dave.id)).toBe(true);
    const r = await c.post(body.finalize, { csr: csrFor(['ok.example.test']) });
    expect(r.body.type).toBe(`${ERR}unauthorized`);
    expect((await c.post(url, '')).body.status).toBe('ready');
  });

  it('without EAB the requester is the profile service identity ACME\\<profile>', async () => {
    const c = await client();
    await c.register();
    const { body } = await readyOrder(c, ['ok.example.test']);
    const done = await c.post(body.finalize, { csr: csrFor(['ok.example.test']) });
    const leaf = leafOf((await c.post(done.body.certificate, '')).text);
    const cert = await app.server.services.store.certificates.findCertificate({ thumbprint: new X509Certificate(leaf).fingerprint.replace(/:/g, '') });
    expect(cert?.requesterName).toBe('ACME\\default');
  });

  it('revokeCert: not by a stranger; by the certificate key; a second time is alreadyRevoked', async () => {
    const c = await client();
    await c.register();
    const { body } = await readyOrder(c, ['ok.example.test']);
    const { csr, keyPem } = csrAndKey(['ok.example.test']);
    const done = await c.post(body.finalize, { csr });
    const der = new X509Certificate(leafOf((await c.post(done.body.certificate, '')).text)).raw.toString('base64url');
    const m = await client();
    await m.register();
    expect((await m.post(m.dir.revokeCert!, { certificate: der })).body.type).toBe(`${ERR}unauthorized`);
    expect((await c.post(c.dir.revokeCert!, { certificate: der, reason: 7 })).body.type).toBe(`${ERR}badRevocationReason`);
    const certKey = {
      privateKey: createPrivateKey(keyPem) as unknown as CryptoKey,
      jwk: createPublicKey(keyPem).export({ format: 'jwk' }) as jose.JWK,
      alg: 'ES256',
      thumbprint: '',
    };
    const byKey = await c.post(c.dir.revokeCert!, { certificate: der, reason: 1 }, { kid: null, key: certKey });
    expect(byKey.status, byKey.text).toBe(200);
    expect((await c.post(c.dir.revokeCert!, { certificate: der })).body.type).toBe(`${ERR}alreadyRevoked`);
  });

  it('too many pending orders is rateLimited', async () => {
    const c = await strictAccount();
    const ask = () => c.post(c.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'ok.example.test' }] });
    expect((await ask()).status).toBe(201);
    expect((await ask()).status).toBe(201);
    const third = await ask();
    expect(third.status).toBe(429);
    expect(third.body.type).toBe(`${ERR}rateLimited`);
  });

  it('finalize before validation is orderNotReady; a CSR not matching the order is badCSR', async () => {
    const c = await client();
    await c.register();
    const pending = await c.post(c.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'ok.example.test' }] });
    const early = await c.post(pending.body.finalize, { csr: csrFor(['ok.example.test']) });
    expect(early.body.type).toBe(`${ERR}orderNotReady`);
    const { body } = await readyOrder(c, ['ok.example.test']);
    expect(body.status).toBe('ready');
    const extra = await c.post(body.finalize, { csr: csrFor(['ok.example.test', 'other.example.test']) });
    expect(extra.body.type).toBe(`${ERR}badCSR`);
    expect(extra.body.detail).toMatch(/other\.example\.test/);
    const cn = await c.post(body.finalize, { csr: csrFor(['ok.example.test'], 'other.example.test') });
    expect(cn.body.type).toBe(`${ERR}badCSR`);
    const garbage = await c.post(body.finalize, { csr: 'AAAA' });
    expect(garbage.body.type).toBe(`${ERR}badCSR`);
    // Still ready: the matching CSR is issued.
    const good = await c.post(body.finalize, { csr: csrFor(['ok.example.test']) });
    expect(good.body.status, good.text).toBe('valid');
    const cert = await c.post(good.body.certificate, '');
    expect(cert.headers.get('content-type')).toContain('application/pem-certificate-chain');
    expect(cert.text.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
  });

  it('another account cannot read an order, its authorizations or its certificate', async () => {
    const c = await client();
    await c.register();
    const { url, body } = await readyOrder(c, ['ok.example.test']);
    const done = await c.post(body.finalize, { csr: csrFor(['ok.example.test']) });
    const m = await client();
    await m.register();
    for (const target of [url, body.authorizations[0], done.body.certificate]) {
      const r = await m.post(target, '');
      expect(r.status, target).toBe(403);
      expect(r.body.type).toBe(`${ERR}unauthorized`);
    }
  });

  it('http-01: a wrong answer invalidates the authorization; a redirect to another host is not followed', async () => {
    const c = await client();
    await c.register();
    const order = await c.post(c.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'ok.example.test' }] });
    const authz = await c.post(order.body.authorizations[0], '');
    const ch = authz.body.challenges.find((x: any) => x.type === 'http-01');
    web.tokens.set(ch.token, 'not-the-key-authorization');
    const r = await c.post(ch.url, {});
    expect(r.body.status).toBe('invalid');
    expect(r.body.error.type).toBe(`${ERR}incorrectResponse`);
    expect((await c.post(order.headers.get('location')!, '')).body.status).toBe('invalid');

    const order2 = await c.post(c.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'redirect.example.test' }] });
    const ch2 = (await c.post(order2.body.authorizations[0], '')).body.challenges.find((x: any) => x.type === 'http-01');
    web.redirects.set(ch2.token, `http://169.254.169.254/.well-known/acme-challenge/${ch2.token}`);
    const r2 = await c.post(ch2.url, {});
    expect(r2.body.status).toBe('invalid');
    expect(r2.body.error.detail).toMatch(/only redirects on the same host/);
  });

  it('validation respects the egress policy: a name resolving to a denied address is not fetched', async () => {
    const strictEgress = await startAcmeApp({ httpPort: web.port, resolve: { 'meta.example.test': '169.254.169.254' } });
    try {
      const c = await new RawAcme(strictEgress.directory, strictEgress.rootPem, await newKey()).init();
      await c.register();
      const order = await c.post(c.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'meta.example.test' }] });
      const ch = (await c.post(order.body.authorizations[0], '')).body.challenges.find((x: any) => x.type === 'http-01');
      const r = await c.post(ch.url, {});
      expect(r.body.status).toBe('invalid');
      expect(r.body.error.detail).toMatch(/egress policy/);
    } finally {
      await strictEgress.close();
    }
  });
});

describe('accounts', () => {
  it('deactivation stops the account', async () => {
    const c = await client();
    await c.register({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.test'] });
    const upd = await c.post(c.kid!, { status: 'deactivated' });
    expect(upd.body.status).toBe('deactivated');
    const r = await c.post(c.dir.newOrder!, { identifiers: [{ type: 'dns', value: 'ok.example.test' }] });
    expect(r.body.type).toBe(`${ERR}unauthorized`);
  });

  it('a contact that is not mailto: is refused', async () => {
    const c = await client();
    const r = await c.register({ contact: ['tel:+1555'] });
    expect(r.body.type).toBe(`${ERR}unsupportedContact`);
  });

  it('keyChange moves the account to a new key', async () => {
    const c = await client();
    await c.register();
    const next = await newKey('ES384');
    const inner = await new jose.FlattenedSign(new TextEncoder().encode(JSON.stringify({ account: c.kid, oldKey: c.key.jwk })))
      .setProtectedHeader({ alg: next.alg, jwk: next.jwk, url: c.dir.keyChange })
      .sign(next.privateKey);
    const r = await c.post(c.dir.keyChange!, inner);
    expect(r.status, r.text).toBe(200);
    const old = await c.post(c.kid!, '');
    expect(old.status).toBe(400);
    c.key = next;
    expect((await c.post(c.kid!, '')).body.status).toBe('valid');
  });
});
