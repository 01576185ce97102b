import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, basic, type TestApp } from '../support/server.ts';
import { screenshot } from './browser.ts';
import { ALICE, BOB, password, portalHarness } from './portal-harness.ts';

/* The portal's approval extensions in Chromium: Explain, delegation, moving instances to a new version. */

const { state, newPage, signIn, instanceByTitle, expectAccessible, pageErrors } = portalHarness();
let t: TestApp;
let definitionId: string;
beforeAll(() => {
  ({ t, definitionId } = state());
});

describe('approval extensions in the portal', { timeout: 90_000 }, () => {
  it('the instance page says why it waits and who may still act', async () => {
    const alice = await newPage();
    await signIn(alice, ALICE);
    await alice.getByRole('link', { name: /appsrvr12/ }).click();
    const panel = alice.getByRole('region', { name: 'Why it is here' });
    await panel.waitFor();
    await panel.getByText(/Waiting for 2 more approvals/).waitFor();
    await expect(panel.getByText(/CORP\\alice, CORP\\bob/).count()).resolves.toBe(1);
    await expectAccessible(alice);
    await screenshot(alice, 'explain');
  });

  it('bob delegates his approvals to alice for a while, she sees it, he revokes it', async () => {
    const bob = await newPage();
    await signIn(bob, BOB);
    await bob.getByRole('link', { name: 'Delegation' }).click();
    await bob.getByRole('heading', { name: 'Delegation' }).waitFor();
    await bob.getByLabel('To (account name)').fill(ALICE);
    // datetime-local takes the browser's local time, without a zone.
    const soon = new Date(Date.now() + 3 * 86_400_000);
    const local = new Date(soon.getTime() - soon.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await bob.getByLabel('Until').fill(local);
    await bob.getByLabel('Comment (optional)').fill('Conference week');
    await bob.getByRole('button', { name: 'Delegate' }).click();
    await bob.getByText(/CORP\\alice may now decide for you/).waitFor();
    const given = bob.getByRole('region', { name: 'I delegated' });
    await given.getByRole('cell', { name: 'Conference week' }).waitFor();
    await expectAccessible(bob);
    await screenshot(bob, 'delegation');

    const alice = await newPage();
    await signIn(alice, ALICE);
    await alice.getByRole('link', { name: 'Delegation' }).click();
    await alice.getByRole('region', { name: 'Delegated to me' }).getByRole('cell', { name: BOB }).waitFor();
    const listed = await t.call('GET', '/KeyfactorAPI/Workflow/Delegations', { auth: basic(ALICE, password(ALICE)), unchecked: true });
    expect(listed.body).toEqual([expect.objectContaining({ Delegator: BOB, Delegate: ALICE, Comment: 'Conference week' })]);

    await given.getByRole('button', { name: 'Revoke' }).click();
    await given.getByRole('button', { name: 'Revoke now' }).click();
    await bob.getByText('Delegation revoked.').waitFor();
    await given.getByText('None in force.').waitFor();
    expect((await t.call('GET', '/KeyfactorAPI/Workflow/Delegations', { auth: basic(ALICE, password(ALICE)), unchecked: true })).body).toEqual([]);
  });

  it('an administrator previews, then moves waiting instances to a new version', async () => {
    // Version 2 of the demo definition asks for one approval instead of two.
    const def = (await t.call('GET', `/KeyfactorAPI/Workflow/Definitions/${definitionId}`)).body;
    const steps = def.Steps.map((s: { ExtensionName: string; ConfigurationParameters: Record<string, unknown> }) =>
      s.ExtensionName === 'RequireApproval' ? { ...s, ConfigurationParameters: { ...s.ConfigurationParameters, MinimumApprovals: 1 } } : s,
    );
    expect((await t.call('PUT', `/KeyfactorAPI/Workflow/Definitions/${definitionId}/Steps`, { body: steps })).status).toBe(200);
    expect((await t.call('POST', `/KeyfactorAPI/Workflow/Definitions/${definitionId}/Publish`)).status).toBe(200);

    const admin = await newPage();
    await signIn(admin, ADMIN.user);
    await admin.goto(`${t.url}/KeyfactorPortal/definitions/${definitionId}`);
    const panel = admin.getByRole('region', { name: 'Waiting instances on older versions' });
    await panel.getByRole('button', { name: 'Preview the move' }).click();
    const preview = panel.getByRole('list', { name: 'What the move would do' });
    await preview
      .getByText(/version 1 → 2, Suspended/)
      .first()
      .waitFor();
    const waiting = await preview.getByRole('listitem').count();
    expect(waiting).toBeGreaterThan(0);
    expect((await instanceByTitle('appsrvr12')).Status).toBe(2);
    await expectAccessible(admin);
    await panel.getByRole('button', { name: `Move ${waiting} instance(s)` }).click();
    await panel.getByText(`Moved ${waiting} instance(s) to version 2.`).waitFor();
    const moved = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${(await instanceByTitle('appsrvr12')).Id}`);
    expect(moved.body.Definition.Version).toBe(2);
    expect(pageErrors).toEqual([]);
  });
});
