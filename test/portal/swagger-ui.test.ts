import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/server.ts';
import { launch } from './browser.ts';

/* Swagger UI at /KeyfactorAPI/swagger in a real Chromium: it loads the document and lists the API, without signing in. */

let t: TestApp;
let browser: Browser;

beforeAll(async () => {
  t = await startTestApp();
  browser = await launch();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('Swagger UI', () => {
  it('loads the OpenAPI document and lists Keyfactor’s operations and the marked extensions', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const res = await page.goto(`${t.url}/KeyfactorAPI/swagger`);
    expect(res?.status()).toBe(200);
    // Swagger UI breaks paths with zero-width spaces: the path is matched on its data attribute
    // (Keyfactor marks its v1 definitions operations deprecated, which changes the class).
    const definitions = page.locator('.opblock [data-path="/KeyfactorAPI/Workflow/Definitions"]').first();
    await definitions.waitFor({ timeout: 30_000 });
    expect(await page.locator('.opblock [data-path="/KeyfactorAPI/Workflow/Instances/{id}/Signals"]').count()).toBe(1);
    expect(await page.locator('.opblock-tag', { hasText: 'Countersign extensions' }).count()).toBe(1);
    expect(await page.locator('.info .title').textContent()).toContain('Countersign API');
    // The document declares HTTP Basic: the Authorize button is there for the calls made from the page.
    expect(await page.locator('button.authorize').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
