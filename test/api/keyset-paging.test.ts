import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approval, createRole, noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { P } from '../../src/security/permissions.ts';

/*
 * Keyset paging (our extension, issue 16): a full page names its last row in
 * X-Countersign-Continue-After; sending it back as ContinueAfter gives the next page straight
 * from the sort index. Walking a list that way gives exactly the list offset paging gives, for
 * every sort order, NULLs and ties included.
 */

let t: TestApp;
const COUNT = 23;

beforeAll(async () => {
  t = await startTestApp();
  const admins = await createRole(t.server.services.store, 'Keyset approvers', [P.instancesReadPending], [1]);
  const waits = await publishedDefinition(t, [noop('StartNOOP', 'Approve'), approval('Approve', 'EndNOOP', [admins], { AllowSelfApproval: true }), noop('EndNOOP')]);
  const ends = await publishedDefinition(t, [noop('StartNOOP')]);
  for (let i = 0; i < COUNT; i++) {
    // Titles repeat and some are missing: ties and NULLs on both sides of the order.
    const body: Record<string, unknown> = { DefinitionId: i % 3 ? waits : ends, InitialData: {} };
    if (i % 4) body.Title = `Request ${i % 5}`;
    const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body });
    expect(res.status).toBe(201);
  }
});
afterAll(() => t.close());

const ids = (res: { body: { Id: string }[] }) => res.body.map((i) => i.Id);

async function walk(path: string, params: string, limit: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const q = `${params}&ReturnLimit=${limit}${cursor ? `&ContinueAfter=${cursor}` : ''}`;
    const res = await t.call('GET', `${path}?${q}`);
    expect(res.status, res.text).toBe(200);
    out.push(...ids(res));
    cursor = res.headers.get('x-countersign-continue-after');
    if (!cursor) return out;
    expect(res.body).toHaveLength(limit);
  }
  throw new Error('did not end');
}

describe('keyset paging', () => {
  const ORDERS = [
    '',
    'SortAscending=1',
    'SortField=Title',
    'SortField=Title&SortAscending=1',
    'SortField=StartDate&SortAscending=1',
    'SortField=Status',
    'SortField=ReferenceId&SortAscending=1',
    'QueryString=Status%20-eq%20%22Suspended%22&SortField=Title&SortAscending=1',
  ];
  for (const order of ORDERS)
    it(`walks /Workflow/Instances (${order || 'default order'}) exactly as offset paging lists it`, async () => {
      const all = ids(await t.call('GET', `/KeyfactorAPI/Workflow/Instances?${order}&ReturnLimit=1000`));
      expect(all.length).toBeGreaterThan(5);
      expect(await walk('/KeyfactorAPI/Workflow/Instances', order, 4)).toEqual(all);
    });

  it('works on /My and AssignedToMe too', async () => {
    for (const path of ['/KeyfactorAPI/Workflow/Instances/My', '/KeyfactorAPI/Workflow/Instances/AssignedToMe']) {
      const all = ids(await t.call('GET', `${path}?SortField=Title&ReturnLimit=1000`));
      expect(all.length).toBeGreaterThan(3);
      expect(await walk(path, 'SortField=Title', 3)).toEqual(all);
    }
  });

  it('a page that is not full has no cursor', async () => {
    const res = await t.call('GET', '/KeyfactorAPI/Workflow/Instances?ReturnLimit=1000');
    expect(res.headers.get('x-countersign-continue-after')).toBeNull();
  });

  it('refuses a cursor made for another order, and anything that is not a cursor, with InvalidQuery', async () => {
    const first = await t.call('GET', '/KeyfactorAPI/Workflow/Instances?SortField=Title&ReturnLimit=2');
    const cursor = first.headers.get('x-countersign-continue-after')!;
    for (const q of [
      `SortField=StartDate&ContinueAfter=${cursor}`,
      `SortField=Title&SortAscending=1&ContinueAfter=${cursor}`,
      'ContinueAfter=not%20a%20cursor',
      `ContinueAfter=${Buffer.from('{"a":1}').toString('base64url')}`,
      `ContinueAfter=${Buffer.from(JSON.stringify(['current_step_display_name', 1, { x: 1 }, 1])).toString('base64url')}`,
      `ContinueAfter=${Buffer.from(JSON.stringify(['current_step_display_name', 1, 'x', 1.5])).toString('base64url')}`,
      `ContinueAfter=${'A'.repeat(5000)}`,
    ]) {
      const res = await t.call('GET', `/KeyfactorAPI/Workflow/Instances?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.ErrorCode).toBe('0xA5C00005'); // InvalidQuery
    }
  });
});
