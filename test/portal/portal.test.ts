import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, basic, type TestApp } from '../support/server.ts';
import { focusVisible, horizontalOverflow, screenshot, tabTo } from './browser.ts';
import { ALICE, BOB, CAROL, password, portalHarness } from './portal-harness.ts';

/*
 * The portal end to end: a real server with the demo loaded, Debian's chromium driving the built
 * portal. The tests run in order and share the server: each one leaves the data as the next
 * expects (alice and bob approve #1, bob denies #2, ...).
 */

const { state, newPage, signIn, instanceByTitle, startRequest, expectAccessible, pageErrors } = portalHarness();
let t: TestApp;
let definitionId: string;
beforeAll(() => {
  ({ t, definitionId } = state());
});

describe('the management portal in Chromium', { timeout: 90_000 }, () => {
  it('signs in with a Countersign identity, refusing a wrong password; keeps the session for the tab only', async () => {
    const page = await newPage();
    await page.goto(`${t.url}/`);
    expect(new URL(page.url()).pathname).toBe('/KeyfactorPortal/');
    await page.getByRole('heading', { name: 'Sign in to Countersign' }).waitFor();
    // React's production build, served with the strict policy.
    const main = await fetch(`${t.url}${await page.locator('script[type=module]').getAttribute('src')}`);
    expect(main.headers.get('cache-control')).toContain('immutable');
    expect(await main.text()).not.toMatch(/jsxDEV|react-devtools/);
    expect((await fetch(`${t.url}/KeyfactorPortal/`)).headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
    await expectAccessible(page);
    await screenshot(page, 'sign-in');

    await page.getByLabel('Account name').fill(ALICE);
    await page.getByLabel('Password').fill('not-her-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('not right');

    await page.getByLabel('Password').fill(password(ALICE));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Assigned to Me' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/KeyfactorPortal/inbox');
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie])).toEqual([1, 0, '']);

    await page.reload();
    await page.getByRole('heading', { name: 'Assigned to Me' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Countersign' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('alice approves from the inbox, then bob, and the instance completes', async () => {
    const alice = await newPage();
    await signIn(alice, ALICE);
    await alice.getByText('3 requests waiting for your decision.').waitFor();
    const row = alice.getByRole('row', { name: /appsrvr12/ });
    // The requester column fills in after the list (an ellipsis until then).
    await expect.poll(() => row.getByRole('cell').nth(2).textContent(), { timeout: 15_000 }).toBe(CAROL);
    await alice.getByText('2 more (0 of 2)').first().waitFor();
    await expectAccessible(alice);
    await screenshot(alice, 'inbox');

    await alice.getByRole('link', { name: /appsrvr12/ }).click();
    await alice.getByRole('heading', { name: 'Your decision' }).waitFor();
    await alice
      .getByText(/^CN=appsrvr12\.corp\.example, ?O=Corp, ?C=US$/)
      .first()
      .waitFor();
    // The decoded request: a real CSR, within the template's policy.
    await alice.getByRole('heading', { name: /Certificate request \d+/ }).waitFor();
    await alice.getByText("Within the template's policy.").waitFor();
    await alice.getByText('RSA 3072 bits').waitFor();
    await alice.getByText('PKI Approvers', { exact: true }).waitFor();
    await alice.getByText('Started on Web Server Enrollment version 1.').waitFor();

    const comment = alice.getByLabel('Comment (optional)');
    await comment.fill('x'.repeat(510));
    await alice.getByText('510 of 500 characters: 10 too many').waitFor();
    expect(await alice.getByRole('button', { name: 'Approve' }).isDisabled()).toBe(true);
    await comment.fill('Known server, owner confirmed.');
    await alice.getByText('30 of 500 characters').waitFor();
    await expectAccessible(alice);
    await screenshot(alice, 'request');
    await alice.getByRole('button', { name: 'Approve' }).click();

    await alice.getByText(/You approved “Enrollment of appsrvr12/).waitFor();
    expect(new URL(alice.url()).pathname).toBe('/KeyfactorPortal/inbox');
    await alice.getByText('2 requests waiting for your decision.').waitFor();
    expect((await instanceByTitle('appsrvr12')).StatusMessage).toContain('1 of 2 approvals');

    const bob = await newPage();
    await signIn(bob, BOB);
    await bob.getByText('3 requests waiting for your decision.').waitFor();
    await bob
      .getByRole('row', { name: /appsrvr12/ })
      .getByText('1 more (1 of 2)')
      .waitFor();
    await bob.getByRole('link', { name: /appsrvr12/ }).click();
    await bob.getByText('Known server, owner confirmed.').first().waitFor();
    await bob.getByRole('button', { name: 'Approve' }).click();
    await bob.getByText('2 requests waiting for your decision.').waitFor();

    // The certificate is issued right after the last approval; then the instance completes.
    await expect.poll(async () => (await instanceByTitle('appsrvr12')).Status, { timeout: 15_000 }).toBe(3);
    const done = await instanceByTitle('appsrvr12');
    expect(done.History.filter((h) => h.Kind === 'SignalReceived').map((h) => h.Actor)).toEqual([ALICE, BOB]);
  });

  it('bob sees the key outside policy and denies with a comment', async () => {
    const bob = await newPage();
    await signIn(bob, BOB);
    await bob.getByRole('link', { name: /vpn-gw01/ }).click();
    await bob.locator('#policy-flags').getByText('KeySize: RSA keys must be at least 3072 bits; this one has 2048.').waitFor();
    await bob.getByLabel('Comment (optional)').fill('Wrong key size.');
    await bob.getByRole('button', { name: 'Deny' }).click();
    await bob.getByText(/You denied “.*vpn-gw01/).waitFor();
    const denied = await instanceByTitle('vpn-gw01');
    expect(denied.Status).toBe(4);
    expect(denied.History.find((h) => h.Kind === 'SignalReceived')?.Data).toMatchObject({ Approved: false, Comment: 'Wrong key size.' });
  });

  it('follows the server without a reload, and approves several requests at once', async () => {
    const alice = await newPage();
    await signIn(alice, ALICE);
    await alice.getByText('1 request waiting for your decision.').waitFor();
    await alice.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await startRequest('mail01.corp.example');
    await startRequest('mail02.corp.example');
    await alice.getByText('3 requests waiting for your decision.').waitFor({ timeout: 15_000 });
    expect(await alice.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);

    await alice.getByRole('checkbox', { name: /Select .*mail01/ }).check();
    await alice.getByRole('checkbox', { name: /Select .*mail02/ }).check();
    await alice.getByLabel('Comment for all (optional)').fill('Mail relays, routine.');
    await alice.getByRole('button', { name: 'Approve 2 requests' }).click();
    await alice.getByText('Approved 2 requests.').waitFor();
    await alice.getByText('1 request waiting for your decision.').waitFor();
    for (const cn of ['mail01', 'mail02']) expect((await instanceByTitle(cn)).StatusMessage).toContain('1 of 2 approvals');
  });

  it('works with the keyboard alone: sign in, open a request, approve', async () => {
    const page = await newPage();
    await page.goto(`${t.url}/KeyfactorPortal/`);
    await page.getByRole('heading', { name: 'Sign in to Countersign' }).waitFor();
    await tabTo(page, '#signin-user');
    expect(await focusVisible(page)).toBe(true);
    await page.keyboard.type(BOB);
    await tabTo(page, '#signin-password');
    await page.keyboard.type(password(BOB));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Assigned to Me' }).waitFor();
    // After signing in, focus is on the page heading.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Assigned to Me');

    // On a freshly loaded page the skip link comes first, and leads into the content.
    await page.goto(`${t.url}/KeyfactorPortal/inbox`);
    await page.locator('#inbox-count').waitFor();
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('BODY');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to main content');
    expect(await focusVisible(page)).toBe(true);
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');

    const payments = await instanceByTitle('payments');
    await tabTo(page, `a[href$="/inbox/${payments.Id}"]`);
    expect(await focusVisible(page)).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Your decision' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
    await tabTo(page, '#decision-comment');
    await page.keyboard.type('Checked with the network team.');
    await tabTo(page, 'button.primary');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Approve');
    expect(await focusVisible(page)).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByText(/You approved “.*payments/).waitFor();
    expect((await instanceByTitle('payments')).History.find((h) => h.Kind === 'SignalReceived')).toMatchObject({
      Actor: BOB,
      Data: { Approved: true, Comment: 'Checked with the network team.' },
    });
  });

  it('shows carol only what she may do; the API refuses the rest anyway', async () => {
    const carol = await newPage();
    await signIn(carol, CAROL);
    await carol.getByRole('heading', { name: 'My Workflows' }).waitFor();
    const nav = carol.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['My Workflows', 'Enroll', 'Certificates']);
    await carol
      .getByRole('row', { name: /vpn-gw01/ })
      .getByText('Rejected', { exact: true })
      .waitFor();
    await carol
      .getByRole('row', { name: /appsrvr12/ })
      .getByText('Complete', { exact: true })
      .waitFor();
    await expectAccessible(carol);
    await screenshot(carol, 'my-workflows');

    await carol.getByRole('link', { name: /vpn-gw01/ }).click();
    await carol.getByText('Wrong key size.').first().waitFor();
    expect(await carol.getByRole('heading', { name: 'Your decision' }).count()).toBe(0);
    expect(await carol.getByRole('heading', { name: 'Manage' }).count()).toBe(0);

    for (const path of ['/security', '/instances', '/definitions', '/inbox']) {
      await carol.goto(`${t.url}/KeyfactorPortal${path}`);
      await carol.getByRole('heading', { name: 'Page not found' }).waitFor();
    }
    const auth = basic(CAROL, password(CAROL));
    expect((await t.call('GET', '/KeyfactorAPI/Security/Identities', { auth })).status).toBe(403);
    expect((await t.call('GET', '/KeyfactorAPI/Workflow/Instances', { auth })).status).toBe(403);
  });

  it('shows text from users as text, never as markup', async () => {
    await startRequest('xss.corp.example', '<img src=x onerror="window.pwned=1">Evil title', { Subject: '<script>window.pwned=2</script>', Note: '<b>bold?</b>' });
    const alice = await newPage();
    await signIn(alice, ALICE);
    await alice.getByRole('link', { name: '<img src=x onerror="window.pwned=1">Evil title' }).click();
    await alice.getByText('<script>window.pwned=2</script>').waitFor();
    await alice.getByText('<b>bold?</b>').waitFor();
    expect(await alice.locator('main img, main script, main b').count()).toBe(0);
    expect(await alice.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  });

  it('searches instances with the query form, and shows an instance timeline', async () => {
    const admin = await newPage();
    await signIn(admin, ADMIN.user);
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Instances' }).click();
    await admin.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await admin.getByLabel('Field').selectOption('Status');
    await admin.getByLabel('Value').selectOption('Complete');
    await expect(admin.locator('#query-preview').textContent()).resolves.toBe('Status -eq Complete');
    await admin.getByRole('button', { name: 'Add condition' }).click();
    await admin.locator('#c1-field').selectOption('Title');
    await admin.locator('#c1-value').fill('appsrvr12');
    await expect(admin.locator('#query-preview').textContent()).resolves.toBe('Status -eq Complete AND Title -contains "appsrvr12"');
    // "Sort by" speaks the same names as "Field", and sends the API's field name.
    const sortLabels = await admin.locator('#sort-field option').allTextContents();
    const fieldLabels = await admin.locator('#c0-field option').allTextContents();
    expect(sortLabels).toContain('Requester');
    expect(sortLabels.filter((l) => !fieldLabels.includes(l))).toEqual([]);
    await admin.getByLabel('Sort by').selectOption({ label: 'Requester' });
    await admin.getByRole('button', { name: 'Search', exact: true }).click();
    await admin.getByRole('table', { name: 'Instances found' }).waitFor();
    expect(await admin.getByRole('table', { name: 'Instances found' }).getByRole('row').count()).toBe(2); // header + 1
    expect(new URL(admin.url()).searchParams.get('q')).toBe('Status -eq Complete AND Title -contains "appsrvr12"');
    expect(new URL(admin.url()).searchParams.get('sort')).toBe('InitiatingUserName');
    await expectAccessible(admin);
    await screenshot(admin, 'instances-search');

    await admin.getByRole('link', { name: /appsrvr12/ }).click();
    const timeline = admin.locator('ol.timeline');
    await timeline.waitFor();
    for (const text of ['Started', 'Signal', 'Approved', 'Completed']) await timeline.getByText(text, { exact: true }).first().waitFor();
    await timeline.getByText('Known server, owner confirmed.').first().waitFor();
    await admin.getByRole('button', { name: 'Delete…' }).waitFor(); // a finished instance may be deleted
    expect(await admin.getByRole('button', { name: 'Stop…' }).count()).toBe(0);
    await expectAccessible(admin);
    await screenshot(admin, 'instance-timeline');

    // A query the API cannot parse: its 400 message is shown.
    await admin.goto(`${t.url}/KeyfactorPortal/instances`);
    await admin.getByRole('button', { name: 'Write the query yourself' }).click();
    await admin.getByLabel('QueryString').fill('Status -zz Complete');
    await admin.getByRole('button', { name: 'Search', exact: true }).click();
    await expect(admin.getByRole('alert').textContent()).resolves.toMatch(/Unknown operator/);
  });

  it('stops and restarts an instance where permitted', async () => {
    const id = await startRequest('restart-me.corp.example');
    const admin = await newPage();
    await signIn(admin, ADMIN.user);
    await admin.goto(`${t.url}/KeyfactorPortal/instances/${id}`);
    await admin.getByRole('button', { name: 'Restart…' }).click();
    await admin.getByRole('button', { name: 'Restart', exact: true }).click();
    await admin.getByText('Restarted.').waitFor();
    expect(new URL(admin.url()).pathname).not.toContain(id);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body.Status).toBe(6);
    await admin.getByRole('button', { name: 'Stop…' }).click();
    await admin.getByRole('button', { name: 'Stop the instance' }).click();
    await admin.getByText('Stopped.').waitFor();
    await admin.getByRole('button', { name: 'Delete…' }).waitFor();
  });

  it('edits a definition draft, shows the API validation message, and publishes it', async () => {
    const admin = await newPage();
    await signIn(admin, ADMIN.user);
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Definitions' }).click();
    // The Key a start must give, with the display name beside it; one version, not two.
    const listRow = admin.getByRole('row', { name: /Web Server Enrollment/ });
    await expect(listRow.getByRole('cell').nth(2).textContent()).resolves.toBe('2 (display name “WebServer”)');
    await expect(listRow.getByRole('cell').nth(3).textContent()).resolves.toBe('Version 1 (published)');
    await expectAccessible(admin);
    await screenshot(admin, 'definitions');
    await admin.getByRole('link', { name: 'Web Server Enrollment' }).click();
    const diagram = admin.getByTestId('definition-diagram');
    await diagram.waitFor();
    expect(await diagram.locator('g.dg-node').count()).toBe(3);
    expect(await diagram.locator('g.dg-edge').count()).toBe(2);
    await admin.getByText('Who may send ApprovalStatus').waitFor();
    await expect(admin.locator('dl.facts').first().textContent()).resolves.toMatch(/Key2 \(display name “WebServer”\)VersionVersion 1 \(published\)/);
    await expectAccessible(admin);
    await screenshot(admin, 'definition');

    await admin.getByRole('link', { name: 'Edit draft' }).click();
    await admin.getByRole('heading', { name: /Edit the draft of Web Server Enrollment/ }).waitFor();
    const approvalStep = admin.locator('fieldset.step-edit', { has: admin.locator('legend', { hasText: 'Step 2: PKI approval' }) });
    const minimum = approvalStep.getByLabel('Minimum approvals');
    expect(await minimum.inputValue()).toBe('2');
    await minimum.fill('0');
    await admin.getByRole('button', { name: 'Save draft' }).click();
    await expect(admin.getByRole('alert').textContent()).resolves.toMatch(/Not saved:.*MinimumApprovals/);

    await minimum.fill('1');
    await approvalStep.getByLabel('Display name').fill('PKI approval (one approver)');
    await approvalStep.getByRole('button', { name: 'Add condition' }).click();
    await approvalStep.getByLabel('Condition 1', { exact: true }).fill('true');
    await admin.getByRole('button', { name: 'Save draft' }).click();
    await admin.getByText('Saved the draft as version 2.', { exact: false }).waitFor();
    await expectAccessible(admin);
    await screenshot(admin, 'definition-editor');

    await admin.getByRole('button', { name: 'Publish version 2' }).click();
    await admin.getByText('Published version 2.').waitFor();
    await expect(admin.locator('dl.facts').first().textContent()).resolves.toContain('Version 2 (published)');
    const def = (await t.call('GET', `/KeyfactorAPI/Workflow/Definitions/${definitionId}`)).body;
    expect(def.PublishedVersion).toBe(2);
    const step = def.Steps.find((s: { UniqueName: string }) => s.UniqueName === 'RequireApproval1');
    expect(step.ConfigurationParameters.MinimumApprovals).toBe(1);
    expect(step.DisplayName).toBe('PKI approval (one approver)');
    expect(step.Conditions.map((c: { Value: string }) => c.Value)).toEqual(['true']);
    expect(step.Signals[0].RoleIds).toHaveLength(1);

    // Version 1 is still there to look at.
    await admin.getByLabel('Show').selectOption('1');
    await admin.getByRole('heading', { name: 'Version 1: diagram' }).waitFor();
    await admin.getByText('PKI approval', { exact: true }).first().waitFor();
  });

  it('imports a definition exported in Keyfactor format, and disables it', async () => {
    const exported = (await t.call('GET', `/KeyfactorAPI/Workflow/Definitions/${definitionId}?definitionVersion=2`)).body;
    const admin = await newPage();
    await signIn(admin, ADMIN.user);
    await admin.goto(`${t.url}/KeyfactorPortal/definitions`);
    await admin.getByRole('button', { name: 'Import JSON' }).click();
    await admin.getByLabel('Or paste the JSON').fill(JSON.stringify({ ...exported, Key: '77' }));
    await admin.getByLabel(/^Name/).fill('Imported enrollment');
    await admin.getByRole('button', { name: 'Import', exact: true }).click();
    await admin.getByText(/Imported “Imported enrollment” as a draft with 3 steps/).waitFor();
    await expect(admin.locator('dl.facts').first().textContent()).resolves.toMatch(/Key77VersionVersion 1, a draft \(not yet published\)/);
    await admin.getByRole('button', { name: 'Disable' }).click();
    await admin.getByText('Disabled.').waitFor();
    // Export downloads Keyfactor's format, without role ids.
    const [download] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('button', { name: 'Export JSON' }).click()]);
    expect(download.suggestedFilename()).toBe('imported-enrollment-v1.json');
    const file = JSON.parse(await readFile(await download.path(), 'utf8'));
    expect(file).toMatchObject({ DisplayName: 'Imported enrollment', WorkflowType: 'Enrollment', Key: '77' });
    expect(file.Steps.flatMap((st: { Signals: { RoleIds: number[] }[] }) => st.Signals.flatMap((g) => g.RoleIds))).toEqual([]);
    const list = (await t.call('GET', `/KeyfactorAPI/Workflow/Definitions?QueryString=${encodeURIComponent('DisplayName -eq "Imported enrollment"')}`)).body;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ Key: '77', Enabled: false, DraftVersion: 1, PublishedVersion: null });
    const steps = (await t.call('GET', `/KeyfactorAPI/Workflow/Definitions/${list[0].Id}`)).body.Steps;
    expect(steps.map((s: { UniqueName: string }) => s.UniqueName)).toEqual(exported.Steps.map((s: { UniqueName: string }) => s.UniqueName));
  });

  it('fits a 375-pixel-wide screen', async () => {
    const page = await newPage(375, 812);
    await signIn(page, BOB);
    await page.getByRole('heading', { name: 'Assigned to Me' }).waitFor();
    await page.locator('#inbox-count').waitFor();
    await page.getByRole('link', { name: /mail01/ }).waitFor();
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await expectAccessible(page);
    await screenshot(page, 'inbox-narrow');
    await page.getByRole('link', { name: /mail01/ }).click();
    await page.getByRole('heading', { name: 'Your decision' }).waitFor();
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    const approve = await page.getByRole('button', { name: 'Approve' }).boundingBox();
    expect(approve!.x + approve!.width).toBeLessThanOrEqual(375);
    expect(approve!.height).toBeGreaterThanOrEqual(24);
    await screenshot(page, 'request-narrow');
    await page.goto(`${t.url}/KeyfactorPortal/definitions/${definitionId}`);
    await page.getByTestId('definition-diagram').waitFor();
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await screenshot(page, 'definition-narrow');
  });

  it('raised no script errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
