import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { createRole, createUser } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/* The ACME administration API (extension): profiles and EAB keys, their checks and permissions. */

let t: TestApp;
let reader: { id: number; auth: string };

beforeAll(async () => {
  t = await startTestApp();
  reader = await createUser(t.server.services.store, 'reader');
  await createRole(t.server.services.store, 'CA readers', [P.casRead], [reader.id]);
}, 60_000);
afterAll(async () => {
  await t?.close();
});

const put = (name: string, body: unknown, auth?: string) => t.call('PUT', `/KeyfactorAPI/ACME/Profiles/${name}`, { body, unchecked: true, ...(auth ? { auth } : {}) });

describe('ACME profiles API', () => {
  it('lists the built-in default profile on a fresh store', async () => {
    const r = await t.call('GET', '/KeyfactorAPI/ACME/Profiles', { unchecked: true });
    expect(r.status).toBe(200);
    expect(r.body).toEqual([expect.objectContaining({ Name: 'default', RequireEab: false, ChallengeTypes: ['http-01', 'dns-01'], DirectoryUrl: `${t.url}/ACME/directory` })]);
  });

  it('creates a profile, normalising names and checking template, CA, lists and limits', async () => {
    const ok = await put('Internal', { Template: 'countersign', RequireEab: true, AllowedDomains: ['Corp.Example.'], AllowedIpRanges: ['10.0.0.0/8'], ChallengeTypes: ['dns-01'] });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ Name: 'internal', Template: 'Countersign', AllowedDomains: ['corp.example'], DirectoryUrl: `${t.url}/ACME/internal/directory` });
    const dir = await fetch(`${t.url}/ACME/internal/directory`);
    expect((await dir.json()).meta.externalAccountRequired).toBe(true);
    for (const [name, body, message] of [
      ['x', { Template: 'Nope' }, /No template 'Nope'/],
      ['x', { CertificateAuthority: 'Nope', Template: 'Countersign' }, /No certificate authority 'Nope'/],
      ['x', { AllowedIpRanges: ['10.0.0.0/33'] }, /not a CIDR/],
      ['x', { AllowedDomains: ['*.corp.example'] }, /not a DNS name/],
      ['x', { ChallengeTypes: ['tls-alpn-01'] }, /ChallengeTypes/],
      ['x', { ChallengeTypes: [] }, /ChallengeTypes/],
      ['x', { OrderLifetimeSeconds: 10 }, /OrderLifetimeSeconds/],
      ['acct', {}, /cannot name a profile/],
      ['has.dot', {}, /cannot name a profile/],
    ] as const) {
      const r = await put(name, body);
      expect(r.status, `${name} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.Message).toMatch(message);
    }
    expect((await t.call('DELETE', '/KeyfactorAPI/ACME/Profiles/internal', { unchecked: true })).status).toBe(204);
    expect((await t.call('DELETE', '/KeyfactorAPI/ACME/Profiles/internal', { unchecked: true })).status).toBe(404);
    expect((await fetch(`${t.url}/ACME/internal/directory`)).status).toBe(404);
  });

  it('reading needs CA read; changing profiles and any EAB key operation needs CA modify', async () => {
    expect((await t.call('GET', '/KeyfactorAPI/ACME/Profiles', { auth: reader.auth, unchecked: true })).status).toBe(200);
    expect((await put('web', {}, reader.auth)).status).toBe(403);
    expect((await t.call('GET', '/KeyfactorAPI/ACME/EabKeys', { auth: reader.auth, unchecked: true })).status).toBe(403);
    expect((await t.call('POST', '/KeyfactorAPI/ACME/EabKeys', { auth: reader.auth, body: { Identity: 'reader' }, unchecked: true })).status).toBe(403);
    expect((await t.call('GET', '/KeyfactorAPI/ACME/Profiles', { auth: null, unchecked: true })).status).toBe(401);
  });

  it('EAB keys: for existing identities and profiles only; unknown keys are 404', async () => {
    expect((await t.call('POST', '/KeyfactorAPI/ACME/EabKeys', { body: { Identity: 'nobody' }, unchecked: true })).body.Message).toMatch(/No identity 'nobody'/);
    expect((await t.call('POST', '/KeyfactorAPI/ACME/EabKeys', { body: { Identity: 'reader', Profile: 'nope' }, unchecked: true })).body.Message).toMatch(/No ACME profile/);
    const created = await t.call('POST', '/KeyfactorAPI/ACME/EabKeys', { body: { Identity: 'reader' }, unchecked: true });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ IdentityId: reader.id, Profile: null, AccountId: null, RevokedAt: null });
    expect(Buffer.from(created.body.HmacKey, 'base64url')).toHaveLength(32);
    expect((await t.call('DELETE', '/KeyfactorAPI/ACME/EabKeys/unknown', { unchecked: true })).status).toBe(404);
  });
});
