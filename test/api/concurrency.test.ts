import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/*
 * Keyfactor documents that approvers signalling at the same moment can leave an instance stuck.
 * Here every approver of every instance fires at once, over real HTTP on separate connections.
 */

const INSTANCES = 60;
let t: TestApp;
let approvers: { id: number; auth: string }[];
let role: number;

beforeAll(async () => {
  t = await startTestApp();
  const store = t.server.services.store;
  approvers = [];
  for (const name of ['CORP\\a1', 'CORP\\a2', 'CORP\\a3', 'CORP\\a4']) approvers.push(await createUser(store, name));
  role = await createRole(
    store,
    'Quorum',
    [P.instancesReadPending],
    approvers.map((a) => a.id),
  );
});
afterAll(() => t.close());

/** Opens every connection first, then releases all requests in the same tick. */
async function fireTogether(requests: { id: string; auth: string; approved: boolean }[]) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: requests.length });
  const { hostname, port } = new URL(t.url);
  const send = (path: string, auth: string, method: string, body?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { hostname, port, path, method, agent, headers: { 'content-type': 'application/json', 'x-keyfactor-requested-with': 'APIClient', authorization: auth } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  // Warm the pool so the burst is not serialised behind connection set-up.
  await Promise.all(requests.map(() => send('/KeyfactorAPI/Status/Endpoints', t.adminAuth, 'GET')));
  const results = await Promise.all(
    requests.map(async (r) => ({
      ...r,
      ...(await send(
        `/KeyfactorAPI/Workflow/Instances/${r.id}/Signals`,
        r.auth,
        'POST',
        JSON.stringify({ SignalKey: 'Quorum.ApprovalStatus', Data: { Approved: r.approved, Comment: 'at once' } }),
      )),
    })),
  );
  agent.destroy();
  return results;
}

async function historyOf(id: string) {
  const res = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true });
  return res.body as { Status: number; CurrentStepUniqueName: string; History: { Kind: string; Step: string | null; Actor: string | null }[] };
}

describe('concurrent approvers', () => {
  it(`${INSTANCES} instances, quorum 3 of 3, all approvers at once: every input recorded, each advanced exactly once`, async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'Quorum'),
      approval('Quorum', 'Next', [role], { MinimumApprovals: 3 }),
      approval('Next', 'EndNOOP', [role]),
      noop('EndNOOP'),
    ]);
    const ids: string[] = [];
    for (let i = 0; i < INSTANCES; i++) ids.push(await startInstance(t, def));
    const requests = ids.flatMap((id) => approvers.slice(0, 3).map((a) => ({ id, auth: a.auth, approved: true })));
    const results = await fireTogether(requests);
    expect(results.filter((r) => r.status !== 204)).toEqual([]);
    for (const id of ids) {
      const inst = await historyOf(id);
      expect(inst.Status).toBe(2);
      expect(inst.CurrentStepUniqueName).toBe('Next');
      const onQuorum = inst.History.filter((h) => h.Step === 'Quorum');
      expect(
        onQuorum
          .filter((h) => h.Kind === 'SignalReceived')
          .map((h) => h.Actor)
          .sort(),
      ).toEqual(['CORP\\a1', 'CORP\\a2', 'CORP\\a3']);
      expect(onQuorum.filter((h) => h.Kind === 'Approved')).toHaveLength(1);
      expect(inst.History.filter((h) => h.Kind === 'StepEntered' && h.Step === 'Next')).toHaveLength(1);
    }
    const stuck = await t.call('GET', `/KeyfactorAPI/Workflow/Instances?QueryString=${encodeURIComponent('CurrentStepUniqueName -eq "Quorum"')}&ReturnLimit=1000`);
    expect(stuck.body).toEqual([]);
    expect(await t.server.reconciler.sweep()).toBe(0);
  });

  it(`${INSTANCES} instances, quorum 2 with 4 approvers at once: exactly two recorded, the rest refused clearly, none stranded`, async () => {
    const def = await publishedDefinition(t, [noop('StartNOOP', 'Quorum'), approval('Quorum', 'EndNOOP', [role], { MinimumApprovals: 2, DenialsToReject: 3 }), noop('EndNOOP')]);
    const ids: string[] = [];
    for (let i = 0; i < INSTANCES; i++) ids.push(await startInstance(t, def));
    const results = await fireTogether(ids.flatMap((id) => approvers.map((a) => ({ id, auth: a.auth, approved: true }))));
    // The late ones hold only ReadAssignedToMe: once complete, the instance no longer waits on
    // them, so it looks absent to them (404, docs/security/trust.md).
    expect(results.filter((r) => r.status !== 204 && r.status !== 404)).toEqual([]);
    for (const id of ids) {
      const mine = results.filter((r) => r.id === id);
      expect(mine.filter((r) => r.status === 204)).toHaveLength(2);
      for (const refused of mine.filter((r) => r.status === 404)) expect(refused.body).toMatch(/No workflow instance has Id/);
      const inst = await historyOf(id);
      expect(inst.Status).toBe(3);
      expect(inst.History.filter((h) => h.Kind === 'SignalReceived')).toHaveLength(2);
      expect(inst.History.filter((h) => h.Kind === 'Completed')).toHaveLength(1);
    }
  });

  it('one approver retrying the same signal 10 times at once: all 204, counted once', async () => {
    const def = await publishedDefinition(t, [noop('StartNOOP', 'Quorum'), approval('Quorum', 'EndNOOP', [role], { MinimumApprovals: 2 }), noop('EndNOOP')]);
    const id = await startInstance(t, def);
    const results = await fireTogether(Array.from({ length: 10 }, () => ({ id, auth: approvers[0].auth, approved: true })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(204));
    const inst = await historyOf(id);
    expect(inst.Status).toBe(2);
    expect(inst.History.filter((h) => h.Kind === 'SignalReceived')).toHaveLength(1);
    expect(inst.History.filter((h) => h.Kind === 'SignalRepeated')).toHaveLength(9);
  });
});
