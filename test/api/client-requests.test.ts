import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { CLIENT_REQUESTS_FILE } from '../fixtures/paths.ts';
import { basic, startTestApp, type TestApp } from '../support/server.ts';

/** Requests as Keyfactor's SDKs and kfutil send them (test/fixtures/client-requests.json). */
interface ClientRequest {
  client: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
  expect: string;
}
const requests: ClientRequest[] = JSON.parse(readFileSync(CLIENT_REQUESTS_FILE, 'utf8')).requests;

let t: TestApp;
let definitionId: string;
const carol = { user: 'LAB\\carol', password: 'carol-password-1' };

beforeAll(async () => {
  t = await startTestApp();
  const store = t.server.services.store;
  const a = await createUser(store, carol.user, carol.password);
  const role = await createRole(store, 'Approvers', [P.instancesReadPending, P.instancesReadMine], [a.id]);
  definitionId = await publishedDefinition(t, [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [role]), noop('EndNOOP')], {
    name: 'SDK definition',
  });
  for (let i = 0; i < 3; i++) await startInstance(t, definitionId, { Title: `lab server request ${i}` });
});
afterAll(() => t.close());

async function replay(r: ClientRequest, auth: string) {
  const instanceId = await startInstance(t, definitionId, { Title: 'lab server for SDK' });
  const path = r.path.replace('{definitionId}', definitionId).replace('{instanceId}', instanceId);
  const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v === '{basic}' ? auth : v]));
  if (headers.Authorization?.startsWith("Basic base64('")) {
    const [user, password] = headers.Authorization.slice("Basic base64('".length, -2).replace('\\\\', '\\').split(':');
    headers.Authorization = basic(user, password === 'password' ? carol.password : password);
  }
  const auth2 = headers.Authorization;
  delete headers.Authorization;
  const res = await t.call(r.method, path, { headers, auth: auth2, body: r.body, raw: r.body === undefined && r.method === 'POST' ? '' : undefined });
  return { res, instanceId };
}

describe("Keyfactor's own clients", () => {
  for (const r of requests) {
    it(`${r.client}: ${r.method} ${r.path} -> ${r.expect}`, async () => {
      // Signals need a role on the step: the approver sends them; everything else runs as the administrator.
      const auth = r.path.endsWith('/Signals') ? basic(carol.user, carol.password) : t.adminAuth;
      const { res, instanceId } = await replay(r, auth);
      const expected = Number(r.expect.slice(0, 3));
      expect(res.status, res.text).toBe(expected);
      if (expected === 204) expect(res.text).toBe('');
      if (expected === 400) {
        expect(res.body.Message).toBeTruthy();
        const after = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${instanceId}?includeHistory=true`, { unchecked: true });
        expect(after.body.History.some((h: any) => h.Kind === 'SignalReceived')).toBe(false);
      }
      if (r.path === '/KeyfactorAPI/Status/Endpoints') {
        expect(Array.isArray(res.body) && res.body.every((e: unknown) => typeof e === 'string')).toBe(true);
        expect(res.headers.get('x-keyfactor-product-version')).toBeTruthy();
      }
      if (r.path.includes('pq.queryString=Status')) {
        expect(res.body.length).toBeGreaterThan(0);
        expect(res.body.every((i: any) => i.Status === 2)).toBe(true);
        const dates = res.body.map((i: any) => i.StartDate);
        expect([...dates].sort().reverse()).toEqual(dates);
      }
      if (r.path.includes('instanceQuery.returnLimit=10')) expect(res.body.length).toBeLessThanOrEqual(10);
      if (r.path.includes('query.queryString=ExtensionName')) expect(res.body).toHaveLength(1);
      if (r.path.includes('AssignedToMe?QueryString')) {
        const dates = res.body.map((i: any) => i.StartDate);
        expect(res.body.every((i: any) => /lab/i.test(i.Title))).toBe(true);
        expect([...dates].sort()).toEqual(dates);
      }
      if (r.headers['x-keyfactor-api-version'] === '2') expect(res.body.Keys).toBeDefined();
    });
  }
});
