import { X509Certificate } from 'node:crypto';
import { Agent } from 'node:https';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProfile } from '../../src/domain/acme/policy.ts';
import { opensslVerify } from '../certificates/openssl.ts';
import { challengeServer, startAcmeApp, txtServer, type AcmeTestApp } from './support.ts';

/* The ACME flow end to end with acme-client (a Node ACME library) over HTTPS: http-01 and dns-01. */

let app: AcmeTestApp;
let web: Awaited<ReturnType<typeof challengeServer>>;
let dns: Awaited<ReturnType<typeof txtServer>>;

beforeAll(async () => {
  web = await challengeServer();
  dns = await txtServer();
  app = await startAcmeApp({ httpPort: web.port, resolve: { 'app.example.test': '127.0.0.1', 'www.example.test': '127.0.0.1' }, dnsServer: dns.address });
  acme.axios.defaults.httpsAgent = new Agent({ ca: app.rootPem });
}, 60_000);
afterAll(async () => {
  await app?.close();
  await web?.close();
  await dns?.close();
});

async function client(): Promise<acme.Client> {
  return new acme.Client({ directoryUrl: app.directory, accountKey: await acme.crypto.createPrivateEcdsaKey() });
}

describe('acme-client against Countersign', () => {
  it('issues over http-01 a certificate openssl verifies', async () => {
    const c = await client();
    const [key, csr] = await acme.crypto.createCsr({ altNames: ['app.example.test', 'www.example.test'] });
    const cert = await c.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        web.tokens.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async () => {},
      skipChallengeVerification: true,
    });
    expect(key.length).toBeGreaterThan(0);
    const pems = cert.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g)!;
    expect(pems.length).toBe(3);
    expect(opensslVerify(pems[0]!, pems.slice(1))).toContain('OK');
  }, 60_000);

  it('issues over dns-01', async () => {
    const c = await client();
    const [, csr] = await acme.crypto.createCsr({ altNames: ['dns.example.test'] });
    const cert = await c.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['dns-01'],
      challengeCreateFn: async (authz, _challenge, keyAuthorization) => {
        dns.records.set(`_acme-challenge.${authz.identifier.value}`, [keyAuthorization]);
      },
      challengeRemoveFn: async () => {},
      skipChallengeVerification: true,
    });
    expect(cert).toContain('BEGIN CERTIFICATE');
  }, 60_000);

  it('issues a wildcard over dns-01 where profile and template allow wildcards', async () => {
    const created = await app.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'Wild', TemplatePolicy: { AllowWildcards: true } }, unchecked: true });
    expect(created.status, created.text).toBe(200);
    await app.server.services.store.acme.putProfile({ ...defaultProfile('wild'), template: 'Wild', allowWildcards: true });
    const c = new acme.Client({ directoryUrl: `${app.url}/ACME/wild/directory`, accountKey: await acme.crypto.createPrivateEcdsaKey() });
    const [, csr] = await acme.crypto.createCsr({ altNames: ['*.wild.example.test'] });
    const seen: string[] = [];
    const cert = await c.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01', 'dns-01'],
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        seen.push(`${challenge.type} ${authz.identifier.value} ${authz.wildcard}`);
        dns.records.set(`_acme-challenge.${authz.identifier.value}`, [keyAuthorization]);
      },
      challengeRemoveFn: async () => {},
      skipChallengeVerification: true,
    });
    // RFC 8555 §7.1.4: the authorization names the base domain with wildcard: true; only dns-01 is offered.
    expect(seen).toEqual(['dns-01 wild.example.test true']);
    expect(new X509Certificate(cert.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/)![0]).subjectAltName).toBe('DNS:*.wild.example.test');
    // The default profile refuses wildcards.
    const d = await client();
    await d.createAccount({ termsOfServiceAgreed: true });
    await expect(d.createOrder({ identifiers: [{ type: 'dns', value: '*.wild.example.test' }] })).rejects.toThrow(/Wildcard names are not allowed/);
  }, 60_000);
});
