import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp } from '../support/server.ts';
import { screenshot } from './browser.ts';
import { ALICE, BOB, CAROL, portalHarness } from './portal-harness.ts';

/*
 * The portal end to end (see portal.test.ts), on a server of its own with the demo freshly
 * loaded: the security pages and a session that ends.
 */

const { state, newPage, signIn, expectAccessible, pageErrors } = portalHarness();
let t: TestApp;
beforeAll(() => {
  ({ t } = state());
});

describe('the portal in Chromium: security pages, an ended session', { timeout: 90_000 }, () => {
  it('shows identities, roles, membership and permissions to a security reader', async () => {
    const admin = await newPage();
    await signIn(admin, ADMIN.user);
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security' }).click();
    await admin.getByRole('heading', { name: 'Identities' }).waitFor();
    await admin
      .getByRole('row', { name: /PKI Approvers/ })
      .getByText('CORP\\alice, CORP\\bob')
      .waitFor();
    await expectAccessible(admin);
    await screenshot(admin, 'security');

    await admin.getByRole('link', { name: 'PKI Approvers' }).click();
    await admin.getByRole('heading', { name: 'Role: PKI Approvers' }).waitFor();
    expect(await admin.getByLabel('CORP\\alice').isChecked()).toBe(true);
    expect(await admin.getByLabel('CORP\\carol').isChecked()).toBe(false);
    await admin.getByLabel('CORP\\carol').check();
    await admin.getByRole('button', { name: 'Save membership' }).click();
    await admin.getByText('Membership saved.').waitFor();
    const roles = (await t.call('GET', '/KeyfactorAPI/Security/Roles')).body as { Id: number; Name: string }[];
    const approvers = roles.find((r) => r.Name === 'PKI Approvers')!;
    const approverMembers = (await t.call('GET', `/KeyfactorAPI/Security/Roles/${approvers.Id}/Identities`, { unchecked: true })).body as { Name: string }[];
    expect(approverMembers.map((m) => m.Name).sort()).toEqual([ALICE, BOB, CAROL]);

    await admin.goto(`${t.url}/KeyfactorPortal/security`);
    await admin.getByRole('link', { name: CAROL }).click();
    await admin.getByRole('heading', { name: `Identity: ${CAROL}` }).waitFor();
    await admin
      .getByRole('row', { name: /Read every instance/ })
      .getByText('PKI Approvers')
      .waitFor();
  });

  it('returns to sign-in when the API answers 401', async () => {
    const page = await newPage();
    await signIn(page, ALICE);
    await page.getByRole('heading', { name: 'Assigned to Me' }).waitFor();
    await page.evaluate(() => {
      const key = Object.keys(sessionStorage)[0]!;
      const s = JSON.parse(sessionStorage.getItem(key)!);
      sessionStorage.setItem(key, JSON.stringify({ ...s, auth: `Basic ${btoa('CORP\\alice:wrong-password')}` }));
    });
    // The inbox polls; its next request is refused and the portal asks for credentials again.
    await page.getByRole('heading', { name: 'Sign in to Countersign' }).waitFor({ timeout: 15_000 });
    await page.getByText('Your session has ended', { exact: false }).waitFor();
  });

  it('raised no script errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
