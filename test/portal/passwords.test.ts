import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, basic, type TestApp } from '../support/server.ts';
import { CAROL, password, portalHarness } from './portal-harness.ts';

/*
 * Passwords in the portal, in Chromium against a real server: a person changes their own password
 * from their account page (the tab stays signed in with the new one), and an administrator sets
 * someone's password from the identity page.
 */

const { state, newPage, signIn, expectAccessible, pageErrors } = portalHarness();
let t: TestApp;
beforeAll(() => {
  ({ t } = state());
});

const signsIn = async (user: string, pass: string) => (await t.call('GET', '/KeyfactorAPI/Status/Endpoints', { auth: basic(user, pass) })).status;

describe('passwords in the portal', { timeout: 90_000 }, () => {
  it('carol changes her own password: a wrong current one is refused, then the new one works and the old one does not', async () => {
    const page = await newPage();
    await signIn(page, CAROL);
    await page.getByRole('link', { name: CAROL }).click();
    await page.getByRole('heading', { name: `Your account: ${CAROL}` }).waitFor();
    await expectAccessible(page);

    await page.getByLabel('Current password').fill('not-her-password');
    await page.getByLabel('New password', { exact: true }).fill('carol-new-password-7');
    await page.getByLabel('New password again').fill('carol-new-password-7');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('CurrentPassword is not the current password');
    expect(await signsIn(CAROL, password(CAROL))).toBe(200);

    // A typo in the repetition is caught before anything is sent.
    await page.getByLabel('Current password').fill(password(CAROL));
    await page.getByLabel('New password again').fill('carol-new-password-8');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('differ');

    // The policy's answer is shown as the server words it.
    await page.getByLabel('New password', { exact: true }).fill('short');
    await page.getByLabel('New password again').fill('short');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('at least 8 characters');

    await page.getByLabel('New password', { exact: true }).fill('carol-new-password-7');
    await page.getByLabel('New password again').fill('carol-new-password-7');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').filter({ hasText: 'Your password has been changed' }).waitFor();
    expect(await page.getByLabel('Current password').inputValue()).toBe('');

    // The tab goes on with the new credentials: another page loads without a sign-in.
    await page.getByRole('link', { name: 'My Workflows' }).click();
    await page.getByRole('heading', { name: 'My Workflows' }).waitFor();
    expect(await signsIn(CAROL, password(CAROL))).toBe(401);
    expect(await signsIn(CAROL, 'carol-new-password-7')).toBe(200);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, CAROL, 'carol-new-password-7');
    expect(pageErrors).toEqual([]);
  });

  it('an administrator sets a password from the identity page', async () => {
    const dave = await t.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: 'CORP\\dave', Password: 'dave-first-password' } });
    expect(dave.status).toBe(200);
    const page = await newPage();
    await signIn(page, ADMIN.user);
    await page.goto(`${t.url}/KeyfactorPortal/security/identities/${dave.body.Id}`);
    await page.getByRole('heading', { name: 'Set password' }).waitFor();
    await page.getByLabel('New password').fill('dave-set-by-admin-1');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('status').filter({ hasText: 'has been set' }).waitFor();
    expect(await signsIn('CORP\\dave', 'dave-set-by-admin-1')).toBe(200);
    expect(await signsIn('CORP\\dave', 'dave-first-password')).toBe(401);
    await expectAccessible(page);
    expect(pageErrors).toEqual([]);
  });
});
