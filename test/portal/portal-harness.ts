import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { DEMO_USERS, loadDemo } from '../../src/cli/demo.ts';
import { ADMIN, basic, startTestApp, type TestApp } from '../support/server.ts';
import { contrastProblems, ensurePortalBuilt, launch } from './browser.ts';

/*
 * The portal test files' shared setup: a real server with the demo loaded, Chromium, and helpers
 * to open pages and sign in. Each file that calls portalHarness() gets its own server and browser.
 */

export const password = (user: string) => DEMO_USERS.find((u) => u.accountName === user)!.password;
export const ALICE = 'CORP\\alice';
export const BOB = 'CORP\\bob';
export const CAROL = 'CORP\\carol';

export function portalHarness() {
  let t: TestApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let definitionId: string;
  const pageErrors: string[] = [];

  async function newPage(width = 1280, height = 900): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height }, reducedMotion: 'reduce' });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(15_000);
    return page;
  }

  async function signIn(page: Page, user: string, pass = user === ADMIN.user ? ADMIN.password : password(user)): Promise<void> {
    await page.goto(`${t.url}/KeyfactorPortal/`);
    await page.getByLabel('Account name').fill(user);
    await page.getByLabel('Password').fill(pass);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  async function instanceByTitle(part: string) {
    const res = await t.call('GET', `/KeyfactorAPI/Workflow/Instances?QueryString=${encodeURIComponent(`Title -contains "${part}"`)}`);
    expect(res.body).toHaveLength(1);
    const detail = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${res.body[0].Id}?includeHistory=true`, { unchecked: true });
    return detail.body as { Id: string; Status: number; StatusMessage: string; History: { Kind: string; Actor: string | null; Data: Record<string, unknown> | null }[] };
  }

  async function startRequest(cn: string, title = `CORP\\carol is enrolling for a certificate with CN=${cn}.`, initialData: Record<string, unknown> = {}) {
    const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', {
      auth: basic(CAROL, password(CAROL)),
      body: { DefinitionId: definitionId, Title: title, InitialData: { Subject: `CN=${cn},O=Corp,C=US`, cn, ...initialData } },
    });
    expect(res.status).toBe(201);
    return res.body.Id as string;
  }

  async function expectAccessible(page: Page): Promise<void> {
    expect(await contrastProblems(page), 'WCAG AA contrast').toEqual([]);
  }

  beforeAll(async () => {
    await ensurePortalBuilt();
    browser = await launch();
    t = await startTestApp();
    await loadDemo(t.server.services.store, t.server.workflow, t.server.certificates, () => {});
    definitionId = (await t.call('GET', '/KeyfactorAPI/Workflow/Definitions')).body[0].Id;
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await t?.close();
  });

  /** The server and the demo definition's id, once beforeAll has run. */
  const state = () => ({ t, definitionId });
  return { state, newPage, signIn, instanceByTitle, startRequest, expectAccessible, pageErrors };
}
