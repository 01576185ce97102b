import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

const SEED_BODY = { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: 'True', Comment: 'Here is my comment.' } };

let t: TestApp;
let alice: { id: number; auth: string };
let bob: { id: number; auth: string };
let carol: { id: number; auth: string };
let approvers: number;
let seedDefinition: string;
let twoStepDefinition: string;

const get = (id: string) => t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
const history = async (id: string) => (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true })).body.History as { Kind: string }[];
const signal = (id: string, body: unknown, auth: string) => t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { body, auth });

beforeAll(async () => {
  t = await startTestApp();
  const store = t.server.services.store;
  alice = await createUser(store, 'CORP\\alice');
  bob = await createUser(store, 'CORP\\bob');
  carol = await createUser(store, 'CORP\\carol');
  approvers = await createRole(store, 'Approvers', [P.instancesReadPending], [alice.id, bob.id]);
  await createRole(store, 'Requesters', [P.instancesStart, P.instancesReadMine], [carol.id]);
  seedDefinition = await publishedDefinition(t, [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [approvers]), noop('EndNOOP')]);
  twoStepDefinition = await publishedDefinition(t, [
    noop('StartNOOP', 'RequireApproval1'),
    approval('RequireApproval1', 'RequireApproval2', [approvers], { MinimumApprovals: 2 }),
    approval('RequireApproval2', 'EndNOOP', [approvers]),
    noop('EndNOOP'),
  ]);
});
afterAll(() => t.close());

describe('the seed scenario', () => {
  it('an approver sees the instance in AssignedToMe, approves with the seed body, and it completes', async () => {
    const id = await startInstance(t, seedDefinition, {}, carol.auth);
    const started = await get(id);
    expect(started.body).toMatchObject({ Status: 2, CurrentStepUniqueName: 'RequireApproval1', Signals: [{ SignalName: 'ApprovalStatus', SignalReceived: false }] });

    const assigned = await t.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth: alice.auth });
    expect(assigned.status).toBe(200);
    expect(assigned.body.map((i: { Id: string }) => i.Id)).toContain(id);
    const mine = await t.call('GET', '/KeyfactorAPI/Workflow/Instances/My', { auth: carol.auth });
    expect(mine.body.map((i: { Id: string }) => i.Id)).toContain(id);

    const res = await signal(id, SEED_BODY, alice.auth);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const done = await get(id);
    expect(done.body.Status).toBe(3);
    expect(done.body.CurrentStateData['approval signal cmnts']).toBe('CORP\\alice: Here is my comment.');
    const kinds = (await history(id)).map((h) => h.Kind);
    expect(kinds).toEqual(['Started', 'StepEntered', 'StepCompleted', 'StepEntered', 'Suspended', 'SignalReceived', 'Approved', 'StepEntered', 'StepCompleted', 'Completed']);
    const after = await t.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth: alice.auth });
    expect(after.body.map((i: { Id: string }) => i.Id)).not.toContain(id);
  });

  it('counts approvals over distinct identities and leaves AssignedToMe once an approver has acted', async () => {
    const id = await startInstance(t, twoStepDefinition);
    expect((await signal(id, SEED_BODY, alice.auth)).status).toBe(204);
    let inst = await get(id);
    expect(inst.body.Status).toBe(2);
    expect(inst.body.StatusMessage).toContain('1 of 2');
    expect(inst.body.Signals[0].SignalReceived).toBe(true);
    const aliceList = await t.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth: alice.auth });
    expect(aliceList.body.map((i: { Id: string }) => i.Id)).not.toContain(id);
    const bobList = await t.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth: bob.auth });
    expect(bobList.body.map((i: { Id: string }) => i.Id)).toContain(id);

    // The same identity repeating the same decision: 204, counted once.
    expect((await signal(id, { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: true } }, alice.auth)).status).toBe(204);
    inst = await get(id);
    expect(inst.body).toMatchObject({ Status: 2, CurrentStepUniqueName: 'RequireApproval1' });
    // Changing the decision: 409, nothing changes.
    const changed = await signal(id, { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: 'false' } }, alice.auth);
    expect(changed.status).toBe(409);
    expect((await get(id)).body.Status).toBe(2);

    expect((await signal(id, { signalkey: 'RequireApproval1.ApprovalStatus', data: { approved: 'TRUE' } }, bob.auth)).status).toBe(204);
    inst = await get(id);
    expect(inst.body).toMatchObject({ Status: 2, CurrentStepUniqueName: 'RequireApproval2' });
  });

  it('a denial rejects the instance', async () => {
    const id = await startInstance(t, seedDefinition);
    expect((await signal(id, { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: false, Comment: 'Not for prod.' } }, bob.auth)).status).toBe(204);
    const inst = await get(id);
    expect(inst.body.Status).toBe(4);
    // Alice reads only what waits on her: the decided instance is no longer hers to see.
    expect((await signal(id, SEED_BODY, alice.auth)).status).toBe(404);
    expect((await signal(id, SEED_BODY, t.adminAuth)).status).toBe(400);
  });
});

describe('refused signals change nothing', () => {
  const cases: [string, (id: string) => Promise<{ status: number; body: any }>, number, RegExp][] = [
    [
      'jump ahead to a later step',
      (id) => signal(id, { SignalKey: 'RequireApproval2.ApprovalStatus', Data: { Approved: true } }, alice.auth),
      400,
      /current step is 'RequireApproval1'/,
    ],
    ['an unknown step', (id) => signal(id, { SignalKey: 'Nope.ApprovalStatus', Data: { Approved: true } }, alice.auth), 400, /no step 'Nope'.*current step is 'RequireApproval1'/],
    // The administrator may read every instance but holds no approver role.
    ['a caller without the step role', (id) => signal(id, SEED_BODY, t.adminAuth), 403, /roles allowed/],
    // Carol may read only her own instances: this one looks absent to her (docs/security/trust.md).
    ['a caller who cannot read the instance', (id) => signal(id, SEED_BODY, carol.auth), 404, /^No workflow instance has Id/],
    [
      'a comment over 500 characters',
      (id) => signal(id, { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: true, Comment: 'x'.repeat(501) } }, alice.auth),
      400,
      /501 characters.*at most 500/,
    ],
    ['a SignalKey without a signal name', (id) => signal(id, { SignalKey: 'RequireApproval1', Data: { Approved: true } }, alice.auth), 400, /<StepUniqueName>\.<SignalName>/],
    ['an unknown signal name', (id) => signal(id, { SignalKey: 'RequireApproval1.Nope', Data: { Approved: true } }, alice.auth), 400, /no signal 'Nope'/],
    ['a null SignalKey', (id) => signal(id, { SignalKey: null, Data: { Approved: true } }, alice.auth), 400, /SignalKey is required/],
    [
      'no body at all',
      (id) => t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { auth: alice.auth, headers: { 'content-type': 'application/json' } }),
      400,
      /body is required/,
    ],
    [
      'Approved that is not a boolean',
      (id) => signal(id, { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: 'yes' } }, alice.auth),
      400,
      /Approved must be true or false/,
    ],
    ['Approved missing', (id) => signal(id, { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Comment: 'hm' } }, alice.auth), 400, /Approved must be/],
    [
      'malformed JSON',
      (id) => t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { raw: '{"SignalKey": "RequireApproval1.ApprovalStatus", "Data": {', auth: alice.auth }),
      400,
      /not valid JSON/,
    ],
    [
      'a missing x-keyfactor-requested-with header',
      (id) => t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { body: SEED_BODY, auth: alice.auth, headers: { 'x-keyfactor-requested-with': '' } }),
      400,
      /x-keyfactor-requested-with/,
    ],
    ['no credentials', (id) => signal(id, SEED_BODY, null as unknown as string), 401, /Authentication is required/],
    ['wrong credentials', (id) => signal(id, SEED_BODY, `Basic ${Buffer.from('CORP\\alice:wrong').toString('base64')}`), 401, /Authentication/],
  ];
  for (const [name, act, status, message] of cases) {
    it(`${name}: ${status}`, async () => {
      const id = await startInstance(t, twoStepDefinition);
      const before = await get(id);
      const beforeHistory = await history(id);
      const res = await act(id);
      expect(res.status).toBe(status);
      expect(res.body.Message).toMatch(message);
      expect(res.body.ErrorCode).toMatch(/^0x[0-9A-F]{8}$/);
      expect((await get(id)).body).toEqual(before.body);
      expect(await history(id)).toEqual(beforeHistory);
    });
  }

  it('an unknown instance: 404; a non-GUID id: 400', async () => {
    const unknown = await signal('6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', SEED_BODY, alice.auth);
    expect(unknown.status).toBe(404);
    expect(unknown.body.Message).toMatch(/No workflow instance/);
    const bad = await signal('12345', SEED_BODY, alice.auth);
    expect(bad.status).toBe(400);
    expect(bad.body.Message).toMatch(/not a GUID/);
  });
});

describe('stop, restart, delete', () => {
  it('stop: only Suspended, ends Rejected', async () => {
    const id = await startInstance(t, seedDefinition);
    const noRight = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Stop`, { auth: alice.auth });
    expect(noRight.status).toBe(403);
    expect((await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Stop`)).status).toBe(204);
    expect((await get(id)).body).toMatchObject({ Status: 4, StatusMessage: 'Stopped by admin.' });
    const again = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Stop`);
    expect(again.status).toBe(400);
    expect(again.body.Message).toMatch(/only a Suspended or Running instance can be stopped/);
  });

  it('restart: the old instance becomes CanceledForRestart and a new one starts with the same data', async () => {
    const id = await startInstance(t, twoStepDefinition, { Title: 'restart me', InitialData: { cn: 'r.example.com' } });
    await signal(id, SEED_BODY, alice.auth);
    const res = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Restart`);
    expect(res.status).toBe(204);
    const old = await get(id);
    expect(old.body.Status).toBe(6);
    const newId = res.headers.get('location')!.split('/').pop()!;
    const fresh = await get(newId);
    expect(fresh.body).toMatchObject({
      Status: 2,
      Title: 'restart me',
      InitialData: { cn: 'r.example.com' },
      CurrentStepUniqueName: 'RequireApproval1',
      Signals: [{ SignalReceived: false }],
    });
    expect(fresh.body.ReferenceId).not.toBe(old.body.ReferenceId);
    const again = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Restart`);
    expect(again.status).toBe(400);
    const badVersion = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${newId}/Restart?version=99`);
    expect(badVersion.status).toBe(404);
    expect((await get(newId)).body.Status).toBe(2);
  });

  it('delete: only terminal instances', async () => {
    const id = await startInstance(t, seedDefinition);
    const early = await t.call('DELETE', `/KeyfactorAPI/Workflow/Instances/${id}`);
    expect(early.status).toBe(409);
    await signal(id, SEED_BODY, alice.auth);
    expect((await t.call('DELETE', `/KeyfactorAPI/Workflow/Instances/${id}`)).status).toBe(204);
    expect((await get(id)).status).toBe(404);
  });
});
