import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

let t: TestApp;
let ids: string[];
let requester: { id: number; auth: string };
const I = '/KeyfactorAPI/Workflow/Instances';
const q = (s: string) => encodeURIComponent(s);

beforeAll(async () => {
  t = await startTestApp();
  const store = t.server.services.store;
  const approver = await createUser(store, 'CORP\\approver');
  requester = await createUser(store, 'CORP\\requester');
  const role = await createRole(store, 'Approvers', [P.instancesReadPending], [approver.id]);
  await createRole(store, 'Requesters', [P.instancesStart, P.instancesReadMine], [requester.id]);
  const def = await publishedDefinition(t, [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [role]), noop('EndNOOP')]);
  ids = [];
  for (const title of ['alpha web', 'beta web', 'gamma mail', 'delta "quoted"', 'epsilon 100%_off']) ids.push(await startInstance(t, def, { Title: title }, requester.auth));
  await t.call('POST', `${I}/${ids[0]}/Stop`);
  await t.call('POST', `${I}/${ids[1]}/Signals`, { auth: approver.auth, body: { SignalKey: 'A.ApprovalStatus', Data: { Approved: true } } });
});
afterAll(() => t.close());

const titles = async (query: string, extra = '') => (await t.call('GET', `${I}?QueryString=${q(query)}${extra}`)).body.map((i: any) => i.Title).sort();

describe('instance queries', () => {
  it('Status by number or by name, any case', async () => {
    expect(await titles('Status -eq 2')).toEqual(['delta "quoted"', 'epsilon 100%_off', 'gamma mail']);
    expect(await titles('status -EQ "suspended"')).toEqual(await titles('Status -eq 2'));
    expect(await titles('Status -eq Rejected')).toEqual(['alpha web']);
    expect(await titles('Status -ne 2')).toEqual(['alpha web', 'beta web']);
  });
  it('string operators, AND/OR/parentheses, quoting and LIKE metacharacters', async () => {
    expect(await titles('Title -contains "WEB"')).toEqual(['alpha web', 'beta web']);
    expect(await titles('Title -startswith "g" OR Title -endswith "web" AND Status -eq 3')).toEqual(['beta web', 'gamma mail']);
    expect(await titles('(Title -startswith "g" OR Title -endswith "web") AND Status -eq 3')).toEqual(['beta web']);
    expect(await titles('Title -contains "\\"quoted\\""')).toEqual(['delta "quoted"']);
    expect(await titles('Title -contains "%_"')).toEqual(['epsilon 100%_off']);
    expect(await titles('Title -notcontains "web"')).toHaveLength(3);
    expect(await titles(`Id -eq "${ids[2].toUpperCase()}"`)).toEqual(['gamma mail']);
    expect(await titles('InitiatingUserName -eq "corp\\requester"')).toHaveLength(5);
    expect(await titles('ReferenceId -ge 3 AND ReferenceId -lt 5')).toHaveLength(2);
    expect(await titles(`StartDate -ge "${new Date(Date.now() - 3600_000).toISOString()}"`)).toHaveLength(5);
  });
  it('sorting (SortAscending 0 = ascending) and paging', async () => {
    const page = async (n: number, asc: number) => (await t.call('GET', `${I}?SortField=Title&SortAscending=${asc}&ReturnLimit=2&PageReturned=${n}`)).body.map((i: any) => i.Title);
    expect(await page(1, 0)).toEqual(['alpha web', 'beta web']);
    expect(await page(2, 0)).toEqual(['delta "quoted"', 'epsilon 100%_off']);
    expect(await page(3, 0)).toEqual(['gamma mail']);
    expect(await page(1, 1)).toEqual(['gamma mail', 'epsilon 100%_off']);
  });
  it('malformed queries and parameters: 400 pointing at the position', async () => {
    const cases: [string, RegExp][] = [
      [`${I}?QueryString=${q('Title -eq')}`, /position/],
      [`${I}?QueryString=${q('Nope -eq 1')}`, /Unknown field "Nope" at position 1/],
      [`${I}?QueryString=${q('Title -eq "open')}`, /position 11/],
      [`${I}?QueryString=${q('(Status -eq 2')}`, /position/],
      [`${I}?QueryString=${q('Status -eq Sleeping')}`, /position 12/],
      [`${I}?QueryString=${q('ReferenceId -eq abc')}`, /position 17/],
      [`${I}?SortField=Password`, /Invalid sort field: Password/],
      [`${I}?ReturnLimit=0`, /ReturnLimit must be between 1 and 1000/],
      [`${I}?PageReturned=x`, /PageReturned must be a whole number/],
      [`${I}?SortAscending=2`, /SortAscending must be 0/],
    ];
    for (const [url, message] of cases) {
      const res = await t.call('GET', url);
      expect(res.status, url).toBe(400);
      expect(res.body.Message, url).toMatch(message);
    }
  });
  it('My and AssignedToMe are scoped to the caller; prefixed query names are accepted', async () => {
    const mine = await t.call('GET', `${I}/My?instanceQuery.queryString=${q('Status -eq 2')}&instanceQuery.returnLimit=2`, { auth: requester.auth });
    expect(mine.body).toHaveLength(2);
    expect((await t.call('GET', `${I}/My`)).body).toEqual([]);
    expect((await t.call('GET', `${I}/AssignedToMe`, { auth: requester.auth })).status).toBe(403);
    const other = await t.call('GET', `${I}/${ids[2]}`, { auth: requester.auth });
    expect(other.status).toBe(200);
  });
});
