import { afterAll, beforeAll, expect } from 'vitest';
import { basic, startTestApp, type ApiResponse, type CallOptions, type TestApp } from '../support/server.ts';

/*
 * Shared by the /Security test files: one test app per file, calls recorded so that afterAll can
 * check that nothing the API sent carries a password or its hash.
 */

export const BASE = '/KeyfactorAPI';
const V2 = { 'x-keyfactor-api-version': '2' };

export const v2 = (opts: CallOptions = {}): CallOptions => ({ ...opts, headers: { ...V2, ...opts.headers } });

export function expect400(res: ApiResponse, ...mentions: string[]): void {
  expect(res.status, res.text).toBe(400);
  for (const m of mentions) expect(res.body.Message).toContain(m);
}

/** The cached principal notices a security change within a second. */
export const settle = () => new Promise((r) => setTimeout(r, 1_100));

/** Starts the file's test app (beforeAll) and closes it after checking every answer for secrets (afterAll). */
export function securityApi() {
  let t: TestApp;
  const texts: string[] = [];

  async function call(method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse> {
    const res = await t.call(method, BASE + path, opts);
    texts.push(res.text);
    return res;
  }

  async function createIdentity(accountName: string, password?: string): Promise<{ id: number; auth: string }> {
    const res = await call('POST', '/Security/Identities', { body: { AccountName: accountName, ...(password ? { Password: password } : {}) } });
    expect(res.status, res.text).toBe(200);
    return { id: res.body.Id, auth: basic(accountName, password ?? '') };
  }

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    // Nothing the API sent may carry a password or its hash.
    for (const text of texts) {
      expect(text).not.toMatch(/scrypt\$/);
      expect(text).not.toMatch(/PasswordHash|"Password"/);
    }
    await t.close();
  });
  return { call, createIdentity };
}
