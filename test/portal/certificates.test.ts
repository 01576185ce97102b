import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS, loadDemo } from '../../src/cli/demo.ts';
import { basic, startTestApp, type TestApp } from '../support/server.ts';
import { contrastProblems, ensurePortalBuilt, horizontalOverflow, launch, screenshot, tabTo } from './browser.ts';

/*
 * The portal's certificate pages end to end: a real server with the demo loaded (real CSR
 * enrollments waiting), Debian's chromium, openssl making the CSR and reading what the portal
 * downloads. The tests run in order and share the server.
 */

const run = promisify(execFile);
const password = (user: string) => DEMO_USERS.find((u) => u.accountName === user)!.password;
const ALICE = 'CORP\\alice';
const BOB = 'CORP\\bob';
const CAROL = 'CORP\\carol';

let t: TestApp;
let browser: Browser;
let dir: string;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

async function newPage(width = 1280, height = 900): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height }, reducedMotion: 'reduce', acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.setDefaultTimeout(20_000);
  return page;
}

async function signIn(page: Page, user: string): Promise<void> {
  await page.goto(`${t.url}/KeyfactorPortal/`);
  await page.getByLabel('Account name').fill(user);
  await page.getByLabel('Password').fill(password(user));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Clicks and saves the file the page offers; answers its path. */
async function downloaded(page: Page, click: () => Promise<void>, name: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = join(dir, name);
  await download.saveAs(path);
  return path;
}

async function instanceByTitle(part: string) {
  const res = await t.call('GET', `/KeyfactorAPI/Workflow/Instances?QueryString=${encodeURIComponent(`Title -contains "${part}"`)}`);
  expect(res.body).toHaveLength(1);
  return res.body[0] as { Id: string; Status: number };
}

beforeAll(async () => {
  await ensurePortalBuilt();
  browser = await launch();
  t = await startTestApp();
  await loadDemo(t.server.services.store, t.server.workflow, t.server.certificates, () => {});
  dir = await mkdtemp(join(tmpdir(), 'countersign-certportal-'));
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('certificates in the portal (Chromium)', { timeout: 120_000 }, () => {
  it('carol pastes a CSR made by openssl req; it waits for approval', async () => {
    await run('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:3072',
      '-nodes',
      '-keyout',
      join(dir, 'web01.key'),
      '-out',
      join(dir, 'web01.csr'),
      '-subj',
      '/CN=web01.corp.example/O=Corp',
    ]);
    const csr = await readFile(join(dir, 'web01.csr'), 'utf8');
    const carol = await newPage();
    await signIn(carol, CAROL);
    await carol.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Enroll' }).click();
    await carol.getByRole('heading', { name: 'Request a certificate' }).waitFor();
    await carol.getByLabel('Template').selectOption('WebServer');
    await carol.getByText('Keys allowed: RSA 3072/4096, ECC P-256/P-384.', { exact: false }).waitFor();
    await carol.getByLabel('Certificate request (PEM)').fill(csr);
    await carol.getByLabel('DNS names').fill('web01.corp.example, www.corp.example');
    await carol.getByLabel('Metadata (optional)').fill('Owner=web team');
    expect(await contrastProblems(carol)).toEqual([]);
    await screenshot(carol, 'enroll');
    await carol.getByRole('button', { name: 'Submit the request' }).click();
    await carol.getByRole('heading', { name: 'Waiting for approval' }).waitFor();
    const pending = await instanceByTitle('web01.corp.example');
    expect(pending.Status).toBe(2);

    // A CSR that is not one is refused, and says why.
    await carol.getByLabel('Certificate request (PEM)').fill('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----');
    await carol.getByRole('button', { name: 'Submit the request' }).click();
    await carol.getByRole('alert').getByText('The request was not accepted:', { exact: false }).waitFor();
  });

  it('carol has a key generated (EC P-384) and downloads the PKCS#12 that openssl opens', async () => {
    const carol = await newPage();
    await signIn(carol, CAROL);
    await carol.goto(`${t.url}/KeyfactorPortal/enroll`);
    await carol.getByRole('button', { name: 'Generate a key for me' }).click();
    await carol.getByLabel('Template').selectOption('Countersign');
    await carol.getByLabel('Subject').fill('CN=laptop-carol.corp.example,O=Corp');
    await carol.getByLabel('Key type').selectOption('ECC');
    await carol.getByLabel('Curve').selectOption('P-384');
    await carol.getByLabel('PKCS#12 password').fill('short');
    await carol.getByRole('button', { name: 'Submit the request' }).click();
    await carol.getByText('at least 8 characters', { exact: false }).first().waitFor();
    await carol.getByLabel('PKCS#12 password').fill('correct horse 42');
    await carol.getByRole('button', { name: 'Submit the request' }).click();
    await carol.getByRole('heading', { name: 'Issued' }).waitFor();
    const pfx = await downloaded(carol, () => carol.getByRole('button', { name: 'Download the PKCS#12 (.pfx)' }).click(), 'laptop.pfx');
    const { stdout } = await run('openssl', ['pkcs12', '-in', pfx, '-passin', 'pass:correct horse 42', '-nodes']);
    expect(stdout).toContain('BEGIN PRIVATE KEY');
    expect(stdout).toMatch(/subject=.*CN\s*=\s*laptop-carol\.corp\.example/);

    // With a template that needs approval, the generated key waits sealed for POST /Certificates/Recover.
    await carol.getByLabel('Template').selectOption('WebServer');
    await carol.getByLabel('Subject').fill('CN=api01.corp.example,O=Corp');
    await carol.getByLabel('Key type').selectOption('RSA');
    await carol.getByLabel('Key size').selectOption('3072');
    await carol.getByLabel('PKCS#12 password').fill('another password 7');
    await carol.getByRole('button', { name: 'Submit the request' }).click();
    await carol.getByRole('heading', { name: 'Waiting for approval' }).waitFor();
    await carol.getByText('the key waits sealed until then', { exact: false }).waitFor();
  });

  it('alice sees the demo request decoded, with its key outside policy flagged, and approves web01', async () => {
    const alice = await newPage();
    await signIn(alice, ALICE);
    expect(await alice.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual([
      'Assigned to Me',
      'My Workflows',
      'Delegation',
      'Instances',
      'Certificates',
      'Definitions',
    ]);
    await alice.getByRole('link', { name: /vpn-gw01/ }).click();
    const decoded = alice.getByRole('region', { name: /Certificate request \d+/ });
    await decoded.getByText('RSA 2048 bits').waitFor();
    await alice.locator('#policy-flags').getByText('KeySize: RSA keys must be at least 3072 bits; this one has 2048.').waitFor();
    await decoded.getByRole('row', { name: /Key/ }).getByText('Outside policy').waitFor();
    await decoded.getByText('RSA ≥ 3072 bits; EC P-256, P-384').waitFor();
    await decoded.getByText('DNS: vpn-gw01.corp.example').waitFor();
    expect(await contrastProblems(alice)).toEqual([]);
    await screenshot(alice, 'decoded-request');
    await alice.setViewportSize({ width: 375, height: 812 });
    expect(await horizontalOverflow(alice)).toBeLessThanOrEqual(0);
    await screenshot(alice, 'decoded-request-narrow');
    await alice.setViewportSize({ width: 1280, height: 900 });

    // The pasted CSR: in policy; alice approves it with the keyboard.
    const web01 = await instanceByTitle('web01.corp.example');
    await alice.goto(`${t.url}/KeyfactorPortal/inbox/${web01.Id}`);
    await alice.getByText("Within the template's policy.").waitFor();
    await alice.getByText('DNS: www.corp.example').waitFor();
    await tabTo(alice, 'button.primary');
    expect(await alice.evaluate(() => document.activeElement?.textContent)).toBe('Approve');
    await alice.keyboard.press('Enter');
    await alice.getByText(/You approved “Enrollment of web01/).waitFor();
    const bob = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${web01.Id}/Signals`, {
      auth: basic(BOB, password(BOB)),
      body: { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: true } },
    });
    expect(bob.status).toBe(204);
    // Issued right after the last approval (by the runner, a moment later).
    const query = `/KeyfactorAPI/Certificates?QueryString=${encodeURIComponent('IssuedCN -eq "web01.corp.example"')}`;
    await expect.poll(async () => (await t.call('GET', query)).body.length, { timeout: 15_000 }).toBe(1);
    const api01 = await instanceByTitle('api01.corp.example');
    for (const who of [ALICE, BOB]) {
      const res = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${api01.Id}/Signals`, {
        auth: basic(who, password(who)),
        body: { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: true } },
      });
      expect(res.status).toBe(204);
    }
  });

  it('the inventory finds web01 with the query builder, shows it and downloads a PEM that openssl reads', async () => {
    const alice = await newPage();
    await signIn(alice, ALICE);
    await alice.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Certificates' }).click();
    await alice.locator('#cc0-value').fill('web01');
    await expect(alice.locator('#cert-query-preview').textContent()).resolves.toBe('IssuedCN -contains "web01"');
    await alice.getByRole('button', { name: 'Search' }).click();
    await alice.getByRole('link', { name: 'web01.corp.example', exact: true }).waitFor({ timeout: 30_000 });
    expect(await alice.getByRole('link', { name: /laptop-carol/ }).count()).toBe(0);
    expect(new URL(alice.url()).searchParams.get('q')).toBe('IssuedCN -contains "web01"');
    expect(await contrastProblems(alice)).toEqual([]);
    await screenshot(alice, 'inventory');

    await alice.getByRole('link', { name: 'web01.corp.example', exact: true }).click();
    await alice.getByRole('heading', { name: 'web01.corp.example' }).waitFor();
    await alice.getByText('DNS: www.corp.example').waitFor();
    await alice.getByText('WebServer', { exact: true }).waitFor();
    await alice.getByText('web team').waitFor();
    await alice.getByText('Issued', { exact: true }).waitFor();
    await screenshot(alice, 'certificate');
    const pem = await downloaded(alice, () => alice.getByRole('button', { name: 'Download the certificate' }).click(), 'web01.pem');
    const { stdout } = await run('openssl', ['x509', '-in', pem, '-noout', '-subject', '-ext', 'subjectAltName']);
    expect(stdout).toMatch(/CN\s*=\s*web01\.corp\.example/);
    expect(stdout).toContain('DNS:www.corp.example');
    const key = await run('openssl', ['pkey', '-in', join(dir, 'web01.key'), '-pubout']);
    const certKey = await run('openssl', ['x509', '-in', pem, '-noout', '-pubkey']);
    expect(certKey.stdout).toBe(key.stdout);
    await alice.getByText('Downloaded', { exact: true }).waitFor();

    // The same certificate as PKCS#7, which openssl reads as well.
    await alice.getByLabel('Format').selectOption('P7B');
    await alice.getByLabel('Include the issuing chain').check();
    const p7b = await downloaded(alice, () => alice.getByRole('button', { name: 'Download the certificate' }).click(), 'web01.p7b');
    const certs = await run('openssl', ['pkcs7', '-inform', 'DER', '-in', p7b, '-print_certs', '-noout']);
    expect(certs.stdout).toMatch(/subject=.*web01\.corp\.example/);
    expect(certs.stdout).toMatch(/subject=.*Countersign Issuing CA/);
  });

  it('carol sees only her own certificates and requests, on a 375-pixel screen', async () => {
    const carol = await newPage(375, 812);
    await signIn(carol, CAROL);
    await carol.goto(`${t.url}/KeyfactorPortal/certificates`);
    await carol.getByRole('link', { name: 'web01.corp.example', exact: true }).waitFor();
    await carol.getByRole('link', { name: 'laptop-carol.corp.example', exact: true }).waitFor();
    const mine = carol.getByRole('region', { name: 'My requests' });
    await mine.getByRole('listitem').filter({ hasText: 'vpn-gw01' }).getByText('Pending approval').waitFor();
    await mine.getByRole('listitem').filter({ hasText: 'web01' }).getByText('Issued').waitFor();
    expect(await horizontalOverflow(carol)).toBeLessThanOrEqual(0);
    await carol.getByRole('link', { name: 'web01.corp.example', exact: true }).click();
    await carol.getByRole('heading', { name: 'Download' }).waitFor();
    expect(await horizontalOverflow(carol)).toBeLessThanOrEqual(0);
    await carol.goto(`${t.url}/KeyfactorPortal/enroll`);
    await carol.getByRole('heading', { name: 'Request a certificate' }).waitFor();
    expect(await horizontalOverflow(carol)).toBeLessThanOrEqual(0);

    // Her generated key, approved since, handed over once as PKCS#12 under a new password.
    const api01Query = `/KeyfactorAPI/Certificates?QueryString=${encodeURIComponent('IssuedCN -eq "api01.corp.example"')}`;
    await expect.poll(async () => (await t.call('GET', api01Query)).body.length, { timeout: 15_000 }).toBe(1);
    const api01 = (await t.call('GET', api01Query)).body[0];
    await carol.goto(`${t.url}/KeyfactorPortal/certificates/${api01.Id}`);
    await carol.getByLabel('PKCS#12 password').fill('recovered key 99');
    const pfx = await downloaded(carol, () => carol.getByRole('button', { name: 'Download the key and certificate (.pfx)' }).click(), 'api01.pfx');
    const opened = await run('openssl', ['pkcs12', '-in', pfx, '-passin', 'pass:recovered key 99', '-nodes']);
    expect(opened.stdout).toContain('BEGIN PRIVATE KEY');
    expect(opened.stdout).toMatch(/subject=.*api01\.corp\.example/);
    await carol.getByText('KeyRecovered', { exact: true }).waitFor();

    // Someone else's certificate is not there for her, in the portal or the API.
    const other = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
      headers: { 'x-certificateformat': 'PFX' },
      body: { Subject: 'CN=admin-only.corp.example', Template: 'Countersign', KeyType: 'ECC', Curve: 'P-256', Password: 'x'.repeat(12), Timestamp: new Date().toISOString() },
    });
    expect(other.status).toBe(200);
    const id = other.body.CertificateInformation.KeyfactorId as number;
    await carol.goto(`${t.url}/KeyfactorPortal/certificates/${id}`);
    await carol.getByRole('heading', { name: 'Certificate not found' }).waitFor();
    expect((await t.call('GET', `/KeyfactorAPI/Certificates/${id}`, { auth: basic(CAROL, password(CAROL)), unchecked: true })).status).toBe(404);
    expect(pageErrors).toEqual([]);
  });
});
