import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authSettingsFrom } from '../../src/security/auth-config.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import { API_AUDIENCE, startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { ensurePortalBuilt, launch } from './browser.ts';

/*
 * The portal signs a person in through a real OpenID provider (node-oidc-provider's own login
 * form): authorization code with PKCE, the code traded for an access token in the browser, the
 * token then used as the API credential. Chromium drives the whole round trip.
 */

let idp: TestProvider;
let t: TestApp;
let browser: Browser;

beforeAll(async () => {
  await ensurePortalBuilt();
  idp = await startTestProvider({ services: [] });
  idp.personRoles.set('alice', ['pki-approvers']);
  t = await startTestApp({
    auth: authSettingsFrom({ COUNTERSIGN_OIDC_ISSUER: idp.issuer, COUNTERSIGN_OIDC_AUDIENCE: API_AUDIENCE, COUNTERSIGN_OIDC_PORTAL_CLIENT_ID: 'countersign-portal' }),
  });
  idp.allowPortal(`${t.url}/KeyfactorPortal/signin/callback`);
  const role = await t.call('POST', '/KeyfactorAPI/Security/Roles', {
    headers: { 'x-keyfactor-api-version': '2' },
    body: {
      Name: 'Token approvers',
      Description: 'approvers by OAuth role',
      PermissionSetId: GLOBAL_PERMISSION_SET_ID,
      Permissions: ['/workflows/instances/read/pending/'],
      Claims: [{ ClaimType: 4, ClaimValue: 'pki-approvers', ProviderAuthenticationScheme: 'OAuth', Description: '' }],
    },
  });
  expect(role.status).toBe(200);
  browser = await launch();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
  await idp?.close();
});

describe('portal sign-in through the identity provider', () => {
  it('lists the provider without signing in, with the portal client and the endpoints from discovery', async () => {
    const res = await fetch(`${t.url}/KeyfactorPortal/sign-in/providers`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { Providers: Record<string, string>[] };
    expect(body.Providers).toEqual([
      {
        Name: 'OAuth',
        Issuer: idp.issuer,
        ClientId: 'countersign-portal',
        Scopes: 'openid profile email',
        AccountDomain: 'OAuth',
        AuthorizationEndpoint: `${idp.issuer}/auth`,
        TokenEndpoint: `${idp.issuer}/token`,
      },
    ]);
    // The portal may fetch from the issuer (the token exchange), and from nowhere else.
    const page = await fetch(`${t.url}/KeyfactorPortal/`);
    expect(page.headers.get('content-security-policy')).toContain(`connect-src 'self' ${idp.issuer}`);
  });

  it("signs alice in with the provider's login form (authorization code + PKCE) and uses her token's roles", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${t.url}/KeyfactorPortal/`);
      await page.getByRole('button', { name: 'Sign in with OAuth' }).click();
      await page.waitForURL(new RegExp(`^${idp.issuer}/`));
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('anything');
      await page.locator('button[type="submit"]').click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      expect(page.url()).toMatch(new RegExp(`^${t.url}/KeyfactorPortal/`));
      expect(page.url()).not.toContain('code=');
      await expect(page.getByRole('link', { name: 'Assigned to Me' }).count()).resolves.toBeGreaterThan(0);
      const stored = await page.evaluate(() => sessionStorage.getItem('countersign.portal.session'));
      expect(JSON.parse(stored!)).toMatchObject({ user: 'OAuth\\alice' });
      expect(JSON.parse(stored!).auth).toMatch(/^Bearer ey/);
      expect(await t.server.services.store.findIdentityByName('OAuth\\alice')).not.toBeNull();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('an answer that does not belong to a sign-in started in this tab is refused', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${t.url}/KeyfactorPortal/signin/callback?code=stolen&state=forged`);
      await page.getByText('does not belong to a sign-in started here').waitFor();
      await expect(page.getByRole('button', { name: 'Sign out' }).count()).resolves.toBe(0);
    } finally {
      await context.close();
    }
  });
});
