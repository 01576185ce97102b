import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authSettingsFrom } from '../../src/security/auth-config.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import { approval, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { API_AUDIENCE, OPAQUE_AUDIENCE, startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { until } from '../support/until.ts';
import { opensslCsr } from '../certificates/openssl.ts';

/*
 * OAuth 2.0 bearer tokens from a real OpenID provider on loopback (node-oidc-provider): service
 * accounts get client-credentials tokens from its token endpoint; people's tokens are signed with
 * the provider's own key (published in its JWKS). Roles are granted by Keyfactor v2 claims: OAuth
 * Client Id, OAuth Role, OAuth Subject. Every forged, expired or misdirected token is refused.
 */

const requester = { clientId: 'svc-requester', secret: randomBytes(16).toString('hex') };
const approver1 = { clientId: 'svc-approver-1', secret: randomBytes(16).toString('hex'), roles: ['pki-approvers'] };
const approver2 = { clientId: 'svc-approver-2', secret: randomBytes(16).toString('hex'), roles: ['pki-approvers'] };
const nobody = { clientId: 'svc-nobody', secret: randomBytes(16).toString('hex') };
const introspector = { clientId: 'countersign', secret: randomBytes(16).toString('hex') };
const SIGNAL = { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: 'True', Comment: 'fine' } };

let idp: TestProvider;
let t: TestApp;
let approverRoleId: number;
const bearer = (token: string) => `Bearer ${token}`;

async function createRoleV2(name: string, permissions: string[], claims: [number, string, string?][]): Promise<number> {
  const res = await t.call('POST', '/KeyfactorAPI/Security/Roles', {
    headers: { 'x-keyfactor-api-version': '2' },
    body: {
      Name: name,
      Description: name,
      PermissionSetId: GLOBAL_PERMISSION_SET_ID,
      Permissions: permissions,
      Claims: claims.map(([ClaimType, ClaimValue, scheme]) => ({ ClaimType, ClaimValue, ProviderAuthenticationScheme: scheme ?? 'OAuth', Description: '' })),
    },
  });
  expect(res.status, res.text).toBe(200);
  return res.body.Id;
}

beforeAll(async () => {
  idp = await startTestProvider({ services: [requester, approver1, approver2, nobody], introspector });
  const auth = authSettingsFrom({
    COUNTERSIGN_OIDC_ISSUER: idp.issuer,
    COUNTERSIGN_OIDC_AUDIENCE: `${API_AUDIENCE},${OPAQUE_AUDIENCE}`,
    COUNTERSIGN_OIDC_INTROSPECTION_CLIENT_ID: introspector.clientId,
    COUNTERSIGN_OIDC_INTROSPECTION_CLIENT_SECRET: introspector.secret,
  });
  t = await startTestApp({ auth });
  await createRoleV2(
    'Token requesters',
    ['/workflows/instances/start/', '/workflows/instances/read/mine/', '/certificates/enrollment/csr/', '/certificates/collections/read/'],
    [[6, requester.clientId]],
  );
  approverRoleId = await createRoleV2('Token approvers', ['/workflows/instances/read/pending/'], [[4, 'pki-approvers']]);
  await createRoleV2('Alice reads all', ['/workflows/instances/read/'], [[5, 'alice']]);
  // Written for another provider: grants nothing to this issuer's tokens.
  await createRoleV2(
    'Other issuer',
    ['/security/modify/'],
    [
      [5, 'alice', 'OtherIdP'],
      [6, nobody.clientId, 'OtherIdP'],
    ],
  );
}, 60_000);
afterAll(async () => {
  await t?.close();
  await idp?.close();
});

const get = (path: string, auth: string) => t.call('GET', path, { auth });

describe('client-credentials tokens from the provider', () => {
  it('run the seed approval flow end to end: start, two approvals, Complete; the history names the token subjects', async () => {
    const definition = await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'End', [approverRoleId], { MinimumApprovals: 2 }), noop('End')]);
    const [req, a1, a2] = await Promise.all([requester, approver1, approver2].map((c) => idp.clientCredentials(c)));
    expect(req!.split('.')).toHaveLength(3); // a JWT access token
    const id = await startInstance(t, definition, {}, bearer(req!));
    const assigned = await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', bearer(a1!));
    expect(assigned.status).toBe(200);
    expect(assigned.body.map((i: { Id: string }) => i.Id)).toContain(id);
    const signal = (auth: string) => t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { auth, body: SIGNAL });
    expect((await signal(bearer(a1!))).status).toBe(204);
    expect((await signal(bearer(a2!))).status).toBe(204);
    const done = await get(`/KeyfactorAPI/Workflow/Instances/${id}`, bearer(req!));
    expect(done.status).toBe(200);
    expect(done.body.Status).toBe(3);
    expect(done.body.CurrentStateData['approval signal cmnts']).toContain('OAuth\\svc-approver-1: fine');
    expect(done.body.CurrentStateData['approval signal cmnts']).toContain('OAuth\\svc-approver-2: fine');
    // The approvers' role reaches the token subjects that carried its OAuth role (for notifications).
    const people = (await t.server.security.peopleIn([approverRoleId])).map((i) => i.accountName);
    expect(people).toEqual(expect.arrayContaining(['OAuth\\svc-approver-1', 'OAuth\\svc-approver-2']));
    expect(people).not.toContain('OAuth\\svc-requester');
    const mine = await get('/KeyfactorAPI/Workflow/Instances/My', bearer(req!));
    expect(mine.body.map((i: { Id: string }) => i.Id)).toEqual([id]);
  });

  it('enroll a certificate with bearer tokens only: the requester enrolls, two approvers approve, the requester finds it', async () => {
    const template = await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'TokenServer', DisplayName: 'Token server', ValidityDays: 30 }, unchecked: true });
    expect(template.status).toBe(200);
    await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'End', [approverRoleId], { MinimumApprovals: 2 }), noop('End')], { key: String(template.body.Id) });
    const [req, a1, a2] = await Promise.all([requester, approver1, approver2].map((c) => idp.clientCredentials(c)));
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      auth: bearer(req!),
      headers: { 'x-certificateformat': 'PEM' },
      body: { CSR: opensslCsr('p256', '/CN=token.example.com', 'DNS:token.example.com').csr, Template: 'TokenServer', CertificateAuthority: 'CountersignIssuingCA' },
    });
    expect(res.status, res.text).toBe(200);
    const info = res.body.CertificateInformation;
    expect(info.RequestDisposition).toBe('PENDING');
    for (const a of [a1!, a2!]) {
      const r = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}/Signals`, { auth: bearer(a), body: SIGNAL });
      expect(r.status).toBe(204);
    }
    const poll = () => get(`/KeyfactorAPI/Certificates?pq.queryString=CertRequestId%20-eq%20${info.KeyfactorRequestId}`, bearer(req!));
    const found = await until(async () => ((await poll()).body as { Id: number; IssuedCN: string; RequesterName?: string }[])[0]);
    expect(found.IssuedCN).toBe('token.example.com');
    const one = await get(`/KeyfactorAPI/Certificates/${found.Id}`, bearer(req!));
    expect(one.status).toBe(200);
  });

  it('an opaque token is checked by introspection (RFC 7662)', async () => {
    const opaque = await idp.clientCredentials(requester, OPAQUE_AUDIENCE);
    expect(opaque.split('.')).toHaveLength(1);
    const res = await get('/KeyfactorAPI/Workflow/Instances/My', bearer(opaque));
    expect(res.status).toBe(200);
    expect((await get('/KeyfactorAPI/Workflow/Instances/My', bearer(randomBytes(32).toString('base64url')))).status).toBe(401);
  });

  it('a token whose client holds no role is signed in but may do nothing; claims of another provider scheme grant nothing', async () => {
    const tok = await idp.clientCredentials(nobody);
    const res = await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', bearer(tok));
    expect(res.status).toBe(403);
    expect(res.body.Message).toContain('OAuth\\svc-nobody');
    const roles = await t.call('GET', '/KeyfactorAPI/Security/Roles', { auth: bearer(tok) });
    expect(roles.status).toBe(403);
  });

  it('a new signing key (rotation) is fetched when a token names it; the old key keeps working while published', async () => {
    const before = await idp.clientCredentials(approver1);
    expect((await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', bearer(before))).status).toBe(200);
    await idp.rotate();
    const fetches = idp.jwksFetches;
    const after = await idp.clientCredentials(approver1);
    expect(after).not.toBe(before);
    expect((await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', bearer(after))).status).toBe(200);
    expect(idp.jwksFetches).toBe(fetches + 1);
    const person = await idp.sign({ sub: 'alice', aud: API_AUDIENCE });
    expect((await get('/KeyfactorAPI/Workflow/Instances', bearer(person))).status).toBe(200);
    // Made-up key ids right after: no fetch within the cooldown, however many arrive.
    for (const kid of ['made-up-1', 'made-up-2', 'made-up-3']) {
      const forged = await idp.sign({ sub: 'alice', aud: API_AUDIENCE }, { kid });
      expect((await get('/KeyfactorAPI/Workflow/Instances', bearer(forged))).status).toBe(401);
    }
    expect(idp.jwksFetches).toBe(fetches + 1);
  });
});

describe('people: tokens with groups', () => {
  it("a person's token holds roles by its roles claim and its subject", async () => {
    const alice = await idp.sign({ sub: 'alice', aud: API_AUDIENCE, roles: ['pki-approvers'], email: 'alice@example.test' });
    expect((await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', bearer(alice))).status).toBe(200);
    expect((await get('/KeyfactorAPI/Workflow/Instances', bearer(alice))).status).toBe(200);
    const my = await t.call('GET', '/KeyfactorAPI/PermissionSets/My', { auth: bearer(alice), unchecked: true });
    expect(my.status).toBe(200);
    const bob = await idp.sign({ sub: 'bob', aud: API_AUDIENCE, roles: 'pki-approvers' });
    expect((await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', bearer(bob))).status).toBe(200);
    expect((await get('/KeyfactorAPI/Workflow/Instances', bearer(bob))).status).toBe(403);
    expect(await t.server.services.store.findIdentityByName('OAuth\\alice')).toMatchObject({ accountName: 'OAuth\\alice', passwordHash: null });
    // The identity is created on first use, with the token's e-mail address.
    const dave = await idp.sign({ sub: 'dave', aud: API_AUDIENCE, email: 'dave@example.test' });
    expect((await get('/KeyfactorAPI/Workflow/Instances/AssignedToMe', bearer(dave))).status).toBe(403);
    expect(await t.server.services.store.findIdentityByName('OAuth\\dave')).toMatchObject({ accountName: 'OAuth\\dave', passwordHash: null, email: 'dave@example.test' });
  });
});

describe('refused tokens: 401 with a Bearer challenge', () => {
  const refused = async (token: string) => {
    const res = await get('/KeyfactorAPI/Workflow/Instances', bearer(token));
    expect(res.status).toBe(401);
    expect(res.body.ErrorCode).toBeDefined();
    expect(res.headers.get('www-authenticate')).toMatch(/Bearer realm="Countersign"/);
    expect(res.headers.get('www-authenticate')).toMatch(/Basic realm/);
  };
  const base = () => ({ sub: 'alice', aud: API_AUDIENCE, roles: ['pki-approvers'] });

  it('expired (beyond the clock skew)', async () => {
    await refused(await idp.sign({ ...base(), exp: Math.floor(Date.now() / 1000) - 120 }));
  });
  it('without exp', async () => {
    const key = await idp.sign({ ...base(), exp: undefined });
    await refused(key);
  });
  it('not valid yet (nbf beyond the skew)', async () => {
    await refused(await idp.sign({ ...base(), nbf: Math.floor(Date.now() / 1000) + 600 }));
  });
  it('for another audience', async () => {
    await refused(await idp.sign({ ...base(), aud: 'https://someone-else.test' }));
  });
  it('from an issuer that is not trusted (same key, other iss)', async () => {
    await refused(await idp.sign({ ...base(), iss: 'https://evil.test' }));
  });
  it('tampered: the payload changed after signing', async () => {
    const [h, p, s] = (await idp.sign({ sub: 'bob', aud: API_AUDIENCE })).split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    payload.sub = 'alice';
    payload.roles = ['pki-approvers'];
    await refused(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`);
  });
  it('alg none (unsigned)', async () => {
    const unsigned = new UnsecuredJWT({ ...base() }).setIssuer(idp.issuer).setExpirationTime('5m').encode();
    await refused(unsigned);
    await refused(`${unsigned}AAAA`);
  });
  it('signed by a key the issuer does not publish (kid of its own, or the issuer key id)', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const claims = { ...base(), iss: idp.issuer };
    await refused(await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'attacker' }).setExpirationTime('5m').sign(privateKey));
    const published = JSON.parse(Buffer.from((await idp.sign(base())).split('.')[0]!, 'base64url').toString()).kid;
    await refused(await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: published }).setExpirationTime('5m').sign(privateKey));
  });
  it('HS256 signed with the public key as the secret (algorithm confusion)', async () => {
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    await refused(
      await new SignJWT({ ...base(), iss: idp.issuer })
        .setProtectedHeader({ alg: 'HS256', kid: String(jwks.keys[0]!.kid) })
        .setExpirationTime('5m')
        .sign(secret),
    );
  });
  it('garbage, empty and oversized tokens', async () => {
    await refused('not-a-token');
    await refused('a.b.c');
    await refused('x'.repeat(12_000));
    const res = await get('/KeyfactorAPI/Workflow/Instances', 'Bearer');
    expect(res.status).toBe(401);
  });
  it('an embedded jwk header is not trusted', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    await refused(await new SignJWT({ ...base(), iss: idp.issuer }).setProtectedHeader({ alg: 'RS256', jwk }).setExpirationTime('5m').sign(privateKey));
  });
});

describe('an issuer that does not answer', () => {
  it('is 503 IdentityProviderUnavailable (not 401: nothing was decided), Basic unaffected', async () => {
    const gone = 'http://127.0.0.1:1';
    const app = await startTestApp({ auth: authSettingsFrom({ COUNTERSIGN_OIDC_ISSUER: gone, COUNTERSIGN_OIDC_AUDIENCE: API_AUDIENCE }) });
    try {
      const tok = await idp.sign({ sub: 'alice', aud: API_AUDIENCE, iss: gone });
      const res = await app.call('GET', '/KeyfactorAPI/Workflow/Instances', { auth: bearer(tok) });
      expect(res.status).toBe(503);
      expect(res.body.ErrorCode).toBe('0xA5C00091');
      expect(res.text).not.toContain(tok);
      expect((await app.call('GET', '/KeyfactorAPI/Workflow/Instances')).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('the egress policy applies to discovery and JWKS', () => {
  it('an issuer on a denied address is never reached: its tokens are refused', async () => {
    const auth = authSettingsFrom({ COUNTERSIGN_OIDC_ISSUER: idp.issuer, COUNTERSIGN_OIDC_AUDIENCE: API_AUDIENCE });
    const denied = await startTestApp({ auth, steps: { egress: { allow: { names: [], cidrs: [] }, deny: { names: [], cidrs: [] } } } });
    try {
      const fetches = idp.jwksFetches;
      const tok = await idp.clientCredentials(approver1);
      const res = await denied.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth: bearer(tok) });
      expect(res.status).toBe(401);
      expect(idp.jwksFetches).toBe(fetches);
      // Basic still works beside the bearer tokens.
      expect((await denied.call('GET', '/KeyfactorAPI/Workflow/Instances')).status).toBe(200);
    } finally {
      await denied.close();
    }
  });
});
