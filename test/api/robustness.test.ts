import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/** No input may crash the process or produce a 500: random bodies, ids and queries at every operation. */

let t: TestApp;
let defId: string;
let instId: string;

beforeAll(async () => {
  t = await startTestApp();
  const u = await createUser(t.server.services.store, 'CORP\\fuzz');
  const role = await createRole(t.server.services.store, 'Fuzzers', [P.instancesReadPending], [u.id]);
  defId = await publishedDefinition(t, [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [role]), noop('EndNOOP')]);
  instId = await startInstance(t, defId);
});
afterAll(() => t.close());

const OPERATIONS: [string, string][] = [
  ['GET', '/KeyfactorAPI/Workflow/Definitions'],
  ['POST', '/KeyfactorAPI/Workflow/Definitions'],
  ['GET', '/KeyfactorAPI/Workflow/Definitions/{d}'],
  ['PUT', '/KeyfactorAPI/Workflow/Definitions/{d}'],
  ['PUT', '/KeyfactorAPI/Workflow/Definitions/{d}/Steps'],
  ['POST', '/KeyfactorAPI/Workflow/Definitions/{d}/Publish/{n}'],
  ['PUT', '/KeyfactorAPI/Workflow/Definitions/{d}/Status'],
  ['GET', '/KeyfactorAPI/Workflow/Definitions/Steps/{x}'],
  ['GET', '/KeyfactorAPI/Workflow/Instances'],
  ['POST', '/KeyfactorAPI/Workflow/Instances'],
  ['GET', '/KeyfactorAPI/Workflow/Instances/{i}'],
  ['POST', '/KeyfactorAPI/Workflow/Instances/{i}/Signals'],
  ['POST', '/KeyfactorAPI/Workflow/Instances/{i}/Restart'],
  ['POST', '/KeyfactorAPI/Security/Identities'],
  ['POST', '/KeyfactorAPI/Security/Roles'],
  ['PUT', '/KeyfactorAPI/Security/Roles/{n}/Identities'],
  ['PUT', '/KeyfactorAPI/Security/Roles'],
  ['GET', '/KeyfactorAPI/Security/Roles'],
  ['GET', '/KeyfactorAPI/Security/Identities/{n}'],
  ['DELETE', '/KeyfactorAPI/Security/Roles/{n}'],
  ['POST', '/KeyfactorAPI/PermissionSets'],
  ['GET', '/KeyfactorAPI/PermissionSets/{x}'],
  ['DELETE', '/KeyfactorAPI/Workflow/Instances/{i}'],
  ['POST', '/KeyfactorAPI/Workflow/Instances/{i}/Stop'],
  ['DELETE', '/KeyfactorAPI/Workflow/Definitions/{d}'],
];

const segment = fc.oneof(fc.string({ maxLength: 40 }), fc.uuid(), fc.integer().map(String), fc.constantFrom('%', '..', '%00', '0', '-1', '99999999999999999999'));
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }).map((s) => ({ raw: s })),
);
const query = fc.dictionary(
  fc.constantFrom('QueryString', 'pq.queryString', 'ReturnLimit', 'PageReturned', 'SortField', 'SortAscending', 'definitionVersion', 'version', 'exportable'),
  fc.string({ maxLength: 60 }),
);

describe('robustness', () => {
  it('random ids, bodies and query parameters never produce a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...OPERATIONS), segment, body, query, fc.boolean(), async ([method, template], seg, b, qs, realIds) => {
        const path = template
          .replace('{d}', realIds ? defId : encodeURIComponent(seg))
          .replace('{i}', realIds ? instId : encodeURIComponent(seg))
          .replace('{n}', encodeURIComponent(seg))
          .replace('{x}', encodeURIComponent(seg));
        const search = new URLSearchParams(qs).toString();
        const raw = typeof b === 'object' && b !== null && 'raw' in (b as object) ? (b as { raw: string }).raw : undefined;
        const withBody = method !== 'GET';
        const res = await t.call(method, `${path}${search ? `?${search}` : ''}`, {
          body: withBody && raw === undefined ? b : undefined,
          raw: withBody ? raw : undefined,
          unchecked: true,
        });
        expect(res.status, `${method} ${path}?${search} ${JSON.stringify(b)} -> ${res.text}`).toBeLessThan(500);
        if (res.status >= 400) expect(res.body).toEqual({ ErrorCode: expect.stringMatching(/^0x/), Message: expect.any(String) });
      }),
      { numRuns: 600 },
    );
    expect((await t.call('GET', '/KeyfactorAPI/Status/Endpoints')).status).toBe(200);
  });
});

describe('text both stores can keep', () => {
  it('refuses U+0000 anywhere in a body with 400 and changes nothing', async () => {
    // The random test above may have stopped or deleted the shared definition.
    const defId = await publishedDefinition(t, [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP')]);
    const before = await t.call('GET', '/KeyfactorAPI/Workflow/Definitions');
    const res = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { raw: '{"DisplayName":"a\\u0000b","WorkflowType":"Enrollment"}' });
    expect(res.status).toBe(400);
    expect(res.body.Message).toMatch(/NUL character/);
    const nested = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: defId, InitialData: { 'k\u0000': 'v' } } });
    expect(nested.status).toBe(400);
    expect((await t.call('GET', '/KeyfactorAPI/Workflow/Definitions')).body).toEqual(before.body);
    const escapedBackslash = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { raw: JSON.stringify({ DefinitionId: defId, Title: 'literal \\u0000 text' }) });
    expect(escapedBackslash.status).toBe(201);
  });
});
