import * as acme from 'acme-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProfile } from '../../src/domain/acme/policy.ts';
import { P } from '../../src/security/permissions.ts';
import { challengeServer } from '../acme/support.ts';
import { approval, createRole, createUser, noop, publishedDefinition } from '../support/fixtures.ts';
import { ADMIN, startTestApp, type TestApp } from '../support/server.ts';
import { waitFor } from '../support/until.ts';
import { ensurePortalBuilt, launch } from './browser.ts';

/*
 * The portal's ACME page (profiles, EAB keys) and an ACME order waiting in an approver's inbox
 * with the account, identifiers and validation results, in Debian's chromium.
 */

let t: TestApp;
let browser: Browser;
let web: Awaited<ReturnType<typeof challengeServer>>;
const contexts: BrowserContext[] = [];

async function signedIn(user: string, password: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${t.url}/KeyfactorPortal/`);
  await page.getByLabel('Account name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

beforeAll(async () => {
  await ensurePortalBuilt();
  browser = await launch();
  web = await challengeServer();
  t = await startTestApp({ acme: { httpPort: web.port, resolve: { 'inbox.example.test': '127.0.0.1' }, dnsServer: null, validationTimeoutMs: 5000 } });
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await t?.close();
  await web?.close();
});

describe('portal: ACME', () => {
  it('lists the default directory and creates, shows once and revokes an EAB key', async () => {
    const page = await signedIn(ADMIN.user, ADMIN.password);
    await page.getByRole('link', { name: 'ACME' }).click();
    await page.getByRole('heading', { name: 'Profiles' }).waitFor();
    await expect.poll(() => page.locator('table').first().textContent()).toContain('/ACME/directory');
    await page.getByLabel('Identity').fill(ADMIN.user);
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = await page.getByText('Copy it now').textContent();
    const kid = /Key id (\S+),/.exec(shown ?? '')?.[1];
    expect(kid).toBeTruthy();
    await page.getByRole('button', { name: `Revoke ${kid}` }).click();
    await expect.poll(async () => (await t.call('GET', '/KeyfactorAPI/ACME/EabKeys', { unchecked: true })).body[0].RevokedAt).not.toBeNull();
  }, 120_000);

  it("an ACME order waiting for approval is in the approver's inbox with account, identifiers and validation", async () => {
    const s = t.server.services.store;
    const bob = await createUser(s, 'bob', 'bob-portal-password');
    const approvers = await createRole(s, 'Approvers', [P.instancesReadPending], [bob.id]);
    const template = (await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'AcmeInbox', ValidityDays: 30 }, unchecked: true })).body;
    await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'End', [approvers]), noop('End')], { key: String(template.Id) });
    await s.acme.putProfile({ ...defaultProfile('inbox'), template: 'AcmeInbox' });
    const client = new acme.Client({ directoryUrl: `${t.url}/ACME/inbox/directory`, accountKey: await acme.crypto.createPrivateEcdsaKey() });
    const [, csr] = await acme.crypto.createCsr({ altNames: ['inbox.example.test'] });
    const ordering = client
      .auto({
        csr,
        termsOfServiceAgreed: true,
        challengePriority: ['http-01'],
        skipChallengeVerification: true,
        challengeCreateFn: async (_a, c, keyAuthorization) => {
          web.tokens.set(c.token, keyAuthorization);
        },
        challengeRemoveFn: async () => {},
      })
      .catch((e: unknown) => e);
    const page = await signedIn('bob', 'bob-portal-password');
    await waitFor(
      'the ACME request in the inbox',
      async () => {
        await page.goto(`${t.url}/KeyfactorPortal/inbox`);
        // The list loads after the page: counting links before it has would see none, every time
        // the load takes longer than the poll (it did on PostgreSQL on a loaded machine).
        await page.getByText('Loading your requests').waitFor({ state: 'detached', timeout: 15_000 });
        return (await page.getByRole('link', { name: /inbox\.example\.test/ }).count()) > 0;
      },
      60_000,
      500,
    );
    await page
      .getByRole('link', { name: /inbox\.example\.test/ })
      .first()
      .click();
    const main = page.locator('main');
    await expect.poll(() => main.textContent()).toContain('http-01 valid');
    expect(await main.textContent()).toContain('dns:inbox.example.test');
    await page.getByRole('button', { name: 'Approve' }).first().click();
    const cert = await ordering;
    expect(String(cert)).toContain('BEGIN CERTIFICATE');
  }, 120_000);
});
