import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { json, startHttp } from '../support/stand-ins/http.ts';
import { until } from '../support/until.ts';

/* Extensions beyond Keyfactor (docs/approvals.md): Prefer: return=representation, Explain, bulk decisions, Idempotency-Key. */

const APPROVE = { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: true, Comment: 'fine' } };
const DENY = { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: false, Comment: 'no' } };

let t: TestApp;
let alice: { id: number; auth: string };
let bob: { id: number; auth: string };
let carol: { id: number; auth: string };
let dave: { id: number; auth: string };
let erin: { id: number; auth: string };
let frank: { id: number; auth: string };
let reviewers: number;
let twoApprovals: string;
let seed: string;
let approvers: number;

const signal = (id: string, body: unknown, auth: string, headers: Record<string, string> = {}) =>
  t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { body, auth, headers, unchecked: true });
const history = async (id: string) =>
  (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true })).body.History as { Kind: string; Actor: string | null }[];
const explain = (id: string, auth?: string) => t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}/Explain`, { auth, unchecked: true });

beforeAll(async () => {
  t = await startTestApp();
  const store = t.server.services.store;
  alice = await createUser(store, 'CORP\\alice');
  bob = await createUser(store, 'CORP\\bob');
  carol = await createUser(store, 'CORP\\carol');
  dave = await createUser(store, 'CORP\\dave');
  erin = await createUser(store, 'CORP\\erin');
  frank = await createUser(store, 'CORP\\frank');
  reviewers = await createRole(store, 'Reviewers', [P.instancesReadPending], [erin.id]);
  // Delegates read their inbox (AssignedToMe) with their own permission.
  await createRole(store, 'Inbox readers', [P.instancesReadPending], [dave.id, frank.id]);
  approvers = await createRole(store, 'Approvers', [P.instancesReadPending], [alice.id, bob.id, carol.id]);
  await createRole(store, 'Requesters', [P.instancesStart, P.instancesReadMine], [carol.id, dave.id]);
  seed = await publishedDefinition(t, [
    noop('StartNOOP', 'RequireApproval1'),
    approval('RequireApproval1', 'EndNOOP', [approvers], { TimeoutAfter: 'PT48H', TimeoutAction: 'Deny' }),
    noop('EndNOOP'),
  ]);
  twoApprovals = await publishedDefinition(t, [
    noop('StartNOOP', 'RequireApproval1'),
    approval('RequireApproval1', 'RequireApproval2', [approvers], { MinimumApprovals: 2, DenialsToReject: 2 }),
    approval('RequireApproval2', 'EndNOOP', [approvers]),
    noop('EndNOOP'),
  ]);
});
afterAll(() => t.close());

describe('Prefer: return=representation on Signals', () => {
  it('answers what the signal decided, in the same transaction; without the header, 204 as Keyfactor', async () => {
    const id = await startInstance(t, twoApprovals, {}, dave.auth);
    const prefer = { Prefer: 'return=representation' };
    const first = await signal(id, APPROVE, alice.auth, prefer);
    expect(first.status).toBe(200);
    expect(first.headers.get('preference-applied')).toBe('return=representation');
    expect(first.body).toMatchObject({
      Outcome: 'Recorded',
      SignalledStep: 'RequireApproval1',
      StatusName: 'Suspended',
      CurrentStepUniqueName: 'RequireApproval1',
      Counts: [
        { Name: 'Approvals', Required: 2, Received: 1 },
        { Name: 'Denials', Required: 2, Received: 0 },
      ],
    });
    const repeat = await signal(id, APPROVE, alice.auth, prefer);
    expect(repeat.body).toMatchObject({ Outcome: 'Repeated', CurrentStepUniqueName: 'RequireApproval1', Counts: [{ Received: 1 }, { Received: 0 }] });
    const second = await signal(id, APPROVE, bob.auth, { Prefer: 'respond-async, return=representation' });
    expect(second.body).toMatchObject({ Outcome: 'Advanced', StatusName: 'Suspended', CurrentStepUniqueName: 'RequireApproval2', Counts: null });
    const plain = await signal(id, { ...APPROVE, SignalKey: 'RequireApproval2.ApprovalStatus' }, alice.auth);
    expect(plain.status).toBe(204);
    expect(plain.text).toBe('');
  });

  it('a refusal is the usual error, with why, and changes nothing', async () => {
    const id = await startInstance(t, seed, {}, carol.auth);
    const refused = await signal(id, APPROVE, carol.auth, { Prefer: 'return=representation' });
    expect(refused.status).toBe(403);
    expect(refused.body.Message).toContain('initiator');
    expect((await history(id)).map((h) => h.Kind)).not.toContain('SignalReceived');
  });
});

describe('Explain', () => {
  it('says what a waiting step needs, who decided, who may still act and what the deadlines do', async () => {
    const id = await startInstance(t, twoApprovals, {}, carol.auth);
    await signal(id, APPROVE, alice.auth);
    const res = await explain(id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      InstanceId: id,
      StatusName: 'Suspended',
      Step: { UniqueName: 'RequireApproval1', ExtensionName: 'RequireApproval' },
      Wait: {
        Counts: [
          { Name: 'Approvals', Required: 2, Received: 1 },
          { Name: 'Denials', Required: 2, Received: 0 },
        ],
        Decisions: [{ AccountName: 'CORP\\alice', Decision: 'Approved', Comment: 'fine' }],
        Barred: { IdentityIds: [carol.id] },
      },
    });
    expect(res.body.Reason).toContain('1 more approval');
    // Alice acted and Carol started it (four eyes): only Bob may still act.
    expect(res.body.MayAct.Identities.map((i: { AccountName: string }) => i.AccountName)).toEqual(['CORP\\bob']);
    expect(res.body.MayAct.Roles.map((r: { Name: string }) => r.Name)).toEqual(['Approvers']);
    // The server's upper bound on a wait applies when the step sets none.
    expect(res.body.Wait.Deadlines).toEqual([expect.objectContaining({ Kind: 'timeout', Action: expect.stringContaining('fails') })]);
  });

  it('names the step timeout and its action', async () => {
    const id = await startInstance(t, seed, {}, dave.auth);
    const res = await explain(id);
    const [deadline] = res.body.Wait.Deadlines;
    expect(deadline.Kind).toBe('timeout');
    expect(deadline.Action).toContain('Denied automatically');
    const started = new Date((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body.StartDate).getTime();
    expect(Math.abs(new Date(deadline.At).getTime() - (started + 48 * 3600_000))).toBeLessThan(60_000);
  });

  it('says how a finished instance ended, and by whom', async () => {
    const id = await startInstance(t, seed, {}, dave.auth);
    await signal(id, DENY, bob.auth);
    const res = await explain(id);
    expect(res.body).toMatchObject({ StatusName: 'Rejected', Wait: null, MayAct: null });
    expect(res.body.Reason).toContain('rejected');
  });

  it('is refused like the instance itself: 404 to whoever may not read it', async () => {
    const id = await startInstance(t, seed, {}, carol.auth);
    expect((await explain(id, dave.auth)).status).toBe(404);
    expect((await explain(id, carol.auth)).status).toBe(200);
    expect((await explain('not-a-guid')).status).toBe(400);
  });
});

describe('Explain for automatic steps', () => {
  it('names the last error and the next attempt of a step being retried, and the error that failed an instance', async () => {
    let status = 503;
    const api = await startHttp((_req, res) => json(res, status, { error: `down (${status})` }));
    try {
      const rest = (next: string) => ({
        ExtensionName: 'RESTRequest',
        UniqueName: 'Call',
        DisplayName: 'Call the inventory',
        Enabled: true,
        ConfigurationParameters: { Verb: 'GET', Headers: {}, ContentType: 'application/json', RequestContent: '', DataBucketProperty: 'Answer', URL: `${api.url}/x` },
        Signals: [],
        Conditions: [],
        Outputs: { continue: next },
      });
      const def = await publishedDefinition(t, [noop('StartNOOP', 'Call'), rest('EndNOOP'), noop('EndNOOP')], { type: 'Expiration' });
      const id = await startInstance(t, def);
      const retrying = await until(async () => {
        const e = (await explain(id)).body;
        return e.StatusName === 'Running' && e.Failure ? e : null;
      }, 30_000);
      expect(retrying.Failure.LastError).toContain('answered 503');
      expect(retrying.Failure.Attempts).toBeGreaterThanOrEqual(1);
      expect(Date.parse(retrying.Failure.NextRetry)).toBeGreaterThan(Date.now() - 60_000);
      expect(retrying.Reason).toContain('is retried at');

      status = 400;
      const failed = await until(async () => {
        const e = (await explain(id)).body;
        return e.StatusName === 'Failed' ? e : null;
      }, 30_000);
      expect(failed.Failure.LastError).toContain('answered 400');
      expect(failed.Reason).toMatch(/^The instance failed at Call the inventory: .*Restart it to try again\.$/);
    } finally {
      await api.close();
    }
  });
});

describe('bulk decisions', () => {
  it('decides many instances, each checked as if signalled alone, with a result per item', async () => {
    const a = await startInstance(t, seed, {}, dave.auth);
    const b = await startInstance(t, seed, {}, carol.auth);
    const c = await startInstance(t, seed, {}, dave.auth);
    await signal(c, DENY, bob.auth);
    const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances/BulkSignals', {
      auth: carol.auth,
      unchecked: true,
      body: {
        Items: [
          { InstanceId: a, ...APPROVE },
          { InstanceId: b, ...APPROVE },
          { InstanceId: c, ...APPROVE },
        ],
      },
    });
    expect(res.status).toBe(200);
    const [ra, rb, rc] = res.body.Results;
    expect(ra).toMatchObject({ InstanceId: a, Succeeded: true, Outcome: { Outcome: 'Advanced', StatusName: 'Complete' } });
    // Carol started b: four eyes holds in bulk too.
    expect(rb).toMatchObject({ InstanceId: b, Succeeded: false, HttpStatus: 403 });
    // c is Rejected and Carol neither started it nor may act on it now: the 404 of an unknown id.
    expect(rc).toMatchObject({ InstanceId: c, Succeeded: false, HttpStatus: 404, Error: { ErrorCode: expect.any(String) } });
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${b}`)).body.Status).toBe(2);
  });

  it('a malformed item refuses the whole call and decides nothing', async () => {
    const a = await startInstance(t, seed, {}, dave.auth);
    const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances/BulkSignals', {
      auth: alice.auth,
      unchecked: true,
      body: {
        Items: [
          { InstanceId: a, ...APPROVE },
          { InstanceId: a, SignalKey: 7 },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.ErrorCode).toBeDefined();
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${a}`)).body.Status).toBe(2);
    for (const body of [{}, { Items: [] }, { Items: 'x' }, { Items: Array.from({ length: 201 }, () => ({ InstanceId: a, ...APPROVE })) }]) {
      const r = await t.call('POST', '/KeyfactorAPI/Workflow/Instances/BulkSignals', { auth: alice.auth, unchecked: true, body });
      expect(r.status).toBe(400);
    }
  });
});

describe('Idempotency-Key', () => {
  const start = (key: string, body: unknown, auth = dave.auth) =>
    t.call('POST', '/KeyfactorAPI/Workflow/Instances', { auth, body, headers: { 'Idempotency-Key': key }, unchecked: true });
  const mine = async (auth: string) => (await t.call('GET', '/KeyfactorAPI/Workflow/Instances/My?pq.returnLimit=1000', { auth, unchecked: true })).body as { Id: string }[];

  it('replays the first answer of a start (status, body, Location) without starting again', async () => {
    const before = (await mine(dave.auth)).length;
    const body = { DefinitionId: seed, Title: 'idempotent start' };
    const first = await start('start-1', body);
    expect(first.status).toBe(201);
    const again = await start('start-1', body);
    expect(again.status).toBe(201);
    expect(again.body.Id).toBe(first.body.Id);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await mine(dave.auth)).length).toBe(before + 1);
  });

  it('the same key with another request is 422 and changes nothing', async () => {
    await start('start-2', { DefinitionId: seed, Title: 'one' });
    const before = (await mine(dave.auth)).length;
    const other = await start('start-2', { DefinitionId: seed, Title: 'two' });
    expect(other.status).toBe(422);
    expect(other.body.ErrorCode).toBe('0xA5C000B1');
    expect((await mine(dave.auth)).length).toBe(before);
  });

  it('keys belong to their caller: another identity with the same key acts for itself', async () => {
    const body = { DefinitionId: seed, Title: 'shared key' };
    const d = await start('start-3', body, dave.auth);
    const c = await start('start-3', body, carol.auth);
    expect(c.status).toBe(201);
    expect(c.body.Id).not.toBe(d.body.Id);
  });

  it('a retried signal is replayed, not recorded twice; concurrent retries act once', async () => {
    const id = await startInstance(t, twoApprovals, {}, dave.auth);
    const headers = { 'Idempotency-Key': `sig-${id}` };
    const results = await Promise.all([1, 2, 3, 4].map(() => signal(id, APPROVE, alice.auth, headers)));
    expect(results.map((r) => r.status)).toEqual([204, 204, 204, 204]);
    expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true').length).toBe(3);
    const kinds = (await history(id)).map((h) => h.Kind);
    expect(kinds.filter((k) => k === 'SignalReceived').length).toBe(1);
    expect(kinds).not.toContain('SignalRepeated');
    // An error is an answer too: replayed as it was.
    const bad = await signal(id, { SignalKey: 'Nope.ApprovalStatus', Data: {} }, alice.auth, { 'Idempotency-Key': `bad-${id}` });
    const badAgain = await signal(id, { SignalKey: 'Nope.ApprovalStatus', Data: {} }, alice.auth, { 'Idempotency-Key': `bad-${id}` });
    expect(badAgain.status).toBe(bad.status);
    expect(badAgain.body).toEqual(bad.body);
  });

  it('refuses malformed keys, and ignores the header where it does not apply', async () => {
    for (const key of ['', 'has space', 'x'.repeat(256)]) {
      const r = await start(key, { DefinitionId: seed });
      expect(r.status).toBe(400);
    }
    const read = await t.call('GET', '/KeyfactorAPI/Workflow/Instances/My', { auth: dave.auth, headers: { 'Idempotency-Key': 'whatever' }, unchecked: true });
    expect(read.status).toBe(200);
  });

  it('an expired key acts again', async () => {
    const store = t.server.services.store;
    const scope = dave.id;
    await start('start-exp', { DefinitionId: seed, Title: 'expiring' });
    // Expire it as time would: the sweep deletes it and a new request acts.
    expect(await store.sweepIdempotencyKeys(new Date(Date.now() + 48 * 3600_000).toISOString(), 10_000)).toBeGreaterThan(0);
    const again = await start('start-exp', { DefinitionId: seed, Title: 'expiring' });
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    const claim = await store.claimIdempotencyKey({
      scope,
      key: 'start-exp',
      fingerprint: 'other',
      now: new Date().toISOString(),
      leaseUntil: new Date().toISOString(),
      expiresAt: new Date().toISOString(),
    });
    expect(claim.state).toBe('mismatch');
  });
});

describe('RequireApproval policy (extension parameters)', () => {
  const putSteps = async (config: Record<string, unknown>) => {
    const def = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', {
      body: { DisplayName: `policy ${Math.random()}`, WorkflowType: 'Enrollment', Key: `${Math.random()}` },
    });
    return t.call('PUT', `/KeyfactorAPI/Workflow/Definitions/${def.body.Id}/Steps`, {
      body: [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [1], config), noop('EndNOOP')],
    });
  };

  it('is validated at PUT Steps', async () => {
    for (const bad of [{ CommentRequired: 'Sometimes' }, { ReasonCodes: ['A', 'A'] }, { ReasonCodes: [''] }, { ExcludePriorDeciders: 'maybe' }, { FailWhenQuorumUnreachable: 3 }]) {
      const r = await putSteps(bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.Message).toContain(Object.keys(bad)[0]);
    }
    expect((await putSteps({ CommentRequired: 'OnDeny', ReasonCodes: ['Policy', 'Risk'], ExcludePriorDeciders: true, FailWhenQuorumUnreachable: 'true' })).status).toBe(200);
  });

  it('requires a comment and a reason code to deny, and records the code', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], { CommentRequired: 'OnDeny', ReasonCodes: ['Policy', 'Risk'], DenialsToReject: 2 }),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, {}, dave.auth);
    const deny = (data: Record<string, unknown>, auth = alice.auth) => signal(id, { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: false, ...data } }, auth);
    expect((await deny({ ReasonCode: 'Policy' })).body.Message).toContain('Comment is required to deny');
    expect((await deny({ Comment: 'no' })).body.Message).toContain('ReasonCode is required to deny');
    expect((await deny({ Comment: 'no', ReasonCode: 'Mood' })).body.Message).toContain('one of: Policy, Risk');
    expect((await deny({ Comment: 'key too short', ReasonCode: 'Risk' })).status).toBe(204);
    // Approving needs neither.
    expect((await signal(id, { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: true } }, bob.auth)).status).toBe(204);
    const full = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true });
    const received = full.body.History.filter((h: { Kind: string }) => h.Kind === 'SignalReceived');
    expect(received[0].Message).toBe('Denied (Risk): key too short');
    expect(received[0].Data).toMatchObject({ Approved: false, ReasonCode: 'Risk' });
  });

  it('excludes whoever decided an earlier step of the same request', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'RequireApproval2', [approvers]),
      approval('RequireApproval2', 'EndNOOP', [approvers], { ExcludePriorDeciders: true }),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, {}, dave.auth);
    expect((await signal(id, APPROVE, alice.auth)).status).toBe(204);
    const second = { SignalKey: 'RequireApproval2.ApprovalStatus', Data: { Approved: true } };
    const refused = await signal(id, second, alice.auth);
    expect(refused.status).toBe(403);
    expect(refused.body.Message).toContain('decided an earlier step');
    const assigned = await t.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth: alice.auth });
    expect(assigned.body.map((i: { Id: string }) => i.Id)).not.toContain(id);
    expect((await explain(id)).body.MayAct.Identities.map((i: { AccountName: string }) => i.AccountName)).toEqual(['CORP\\bob', 'CORP\\carol']);
    expect((await signal(id, second, bob.auth)).status).toBe(204);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body.Status).toBe(3);
  });

  it('rejects early, with why, once too few eligible approvers remain', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], { MinimumApprovals: 2, DenialsToReject: 3, FailWhenQuorumUnreachable: true }),
      noop('EndNOOP'),
    ]);
    // Carol starts it, so she may not approve: Alice and Bob are the only eligible approvers.
    const id = await startInstance(t, def, {}, carol.auth);
    const r = await signal(id, DENY, alice.auth, { Prefer: 'return=representation' });
    expect(r.body).toMatchObject({ Outcome: 'Advanced', StatusName: 'Rejected' });
    expect(r.body.StatusMessage).toContain('quorum can no longer be reached (2 approvals needed, 0 received, and only 1 eligible approver has not decided)');
    // Without the parameter the same denial leaves it waiting.
    const plain = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], { MinimumApprovals: 2, DenialsToReject: 3 }),
      noop('EndNOOP'),
    ]);
    const waiting = await startInstance(t, plain, {}, carol.auth);
    expect((await signal(waiting, DENY, alice.auth, { Prefer: 'return=representation' })).body.Outcome).toBe('Recorded');
  });
});

describe('delegation', () => {
  const delegate = (body: Record<string, unknown>, auth: string) => t.call('POST', '/KeyfactorAPI/Workflow/Delegations', { auth, body, unchecked: true });
  const inAWeek = () => new Date(Date.now() + 7 * 86_400_000).toISOString();
  const assigned = async (auth: string) => (await t.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth, unchecked: true })).body.map((i: { Id: string }) => i.Id);

  it("lets a delegate see and decide the delegator's items, counted as the delegator's decision, until revoked", async () => {
    const id = await startInstance(t, twoApprovals, {}, carol.auth);
    const created = await delegate({ Delegate: 'CORP\\dave', End: inAWeek(), Comment: 'holiday' }, alice.auth);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ Delegator: 'CORP\\alice', Delegate: 'CORP\\dave', Comment: 'holiday' });
    expect(await assigned(dave.auth)).toContain(id);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`, { auth: dave.auth, unchecked: true })).status).toBe(200);

    const r = await signal(id, APPROVE, dave.auth, { Prefer: 'return=representation' });
    expect(r.body).toMatchObject({ Outcome: 'Recorded', Counts: [{ Received: 1 }, { Received: 0 }] });
    const h = await history(id);
    const received = h.find((e) => e.Kind === 'SignalReceived') as unknown as { Actor: string; Message: string; Data: Record<string, unknown> };
    expect(received.Actor).toBe('CORP\\dave (acting for CORP\\alice)');
    expect(received.Message).toContain('by CORP\\dave, acting for CORP\\alice');
    expect(received.Data).toMatchObject({ ActingFor: 'CORP\\alice', By: 'CORP\\dave' });
    // One seat, one vote: Alice's own approval is the same decision, counted once.
    expect((await signal(id, APPROVE, alice.auth, { Prefer: 'return=representation' })).body.Outcome).toBe('Repeated');
    expect((await explain(id)).body.Wait.Decisions.map((d: { AccountName: string }) => d.AccountName)).toEqual(['CORP\\alice']);

    // Only the delegator (or an administrator) revokes; then the delegate has nothing to see.
    const other = await startInstance(t, seed, {}, carol.auth);
    expect((await t.call('DELETE', `/KeyfactorAPI/Workflow/Delegations/${created.body.Id}`, { auth: dave.auth, unchecked: true })).status).toBe(403);
    expect((await t.call('DELETE', `/KeyfactorAPI/Workflow/Delegations/${created.body.Id}`, { auth: alice.auth, unchecked: true })).status).toBe(204);
    expect(await assigned(dave.auth)).not.toContain(other);
    expect((await signal(other, APPROVE, dave.auth)).status).toBe(404);
  });

  it('follows chains within the bound, survives cycles, and keeps four eyes for the delegate too', async () => {
    const a = await delegate({ Delegate: 'CORP\\erin', End: inAWeek() }, bob.auth);
    const b = await delegate({ Delegate: 'CORP\\frank', End: inAWeek() }, erin.auth);
    const c = await delegate({ Delegate: 'CORP\\bob', End: inAWeek() }, frank.auth);
    expect([a.status, b.status, c.status]).toEqual([201, 201, 201]);
    // Frank acts for Bob through Erin (two hops); the cycle back to Bob ends the walk.
    const id = await startInstance(t, seed, {}, dave.auth);
    expect(await assigned(frank.auth)).toContain(id);
    const r = await signal(id, APPROVE, frank.auth, { Prefer: 'return=representation', ActingFor: 'x' });
    expect(r.body).toMatchObject({ StatusName: 'Complete' });
    expect((await history(id)).find((e) => e.Kind === 'SignalReceived')!.Actor).toBe('CORP\\frank (acting for CORP\\bob)');

    // Carol, the initiator, gets Bob's delegation: she still may not approve her own request.
    const own = await startInstance(t, seed, {}, carol.auth);
    await delegate({ Delegate: 'CORP\\carol', End: inAWeek() }, bob.auth);
    const refused = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${own}/Signals`, { auth: carol.auth, body: { ...APPROVE, ActingFor: 'CORP\\bob' }, unchecked: true });
    expect(refused.status).toBe(403);
    expect(refused.body.Message).toContain('even acting for CORP\\bob');
  });

  it('one person, one decision per step: a delegate of two approvers is not a quorum of two, and drops what they decided from their inbox', async () => {
    const gina = await createUser(t.server.services.store, 'CORP\\gina');
    await createRole(t.server.services.store, 'Gina inbox', [P.instancesReadPending], [gina.id]);
    const fromAlice = await delegate({ Delegate: 'CORP\\gina', End: inAWeek() }, alice.auth);
    const fromBob = await delegate({ Delegate: 'CORP\\gina', End: inAWeek() }, bob.auth);
    const id = await startInstance(t, twoApprovals, {}, dave.auth);
    expect(await assigned(gina.auth)).toContain(id);

    const first = await signal(id, { ...APPROVE, ActingFor: 'CORP\\alice' }, gina.auth, { Prefer: 'return=representation' });
    expect(first.body).toMatchObject({ Outcome: 'Recorded', Counts: [{ Required: 2, Received: 1 }, { Received: 0 }] });
    expect(await assigned(gina.auth)).not.toContain(id);
    // The second seat is refused, with why, and changes nothing; without ActingFor it is a repeat of the first.
    const second = await signal(id, { ...APPROVE, ActingFor: 'CORP\\bob' }, gina.auth);
    expect(second.status).toBe(403);
    expect(second.body.Message).toContain("CORP\\gina already decided step 'RequireApproval1' acting for CORP\\alice");
    expect((await signal(id, APPROVE, gina.auth, { Prefer: 'return=representation' })).body.Outcome).toBe('Repeated');
    expect((await explain(id)).body.Wait.Decisions.map((d: { AccountName: string }) => d.AccountName)).toEqual(['CORP\\alice']);
    // Bob, another person, decides his own seat: the quorum is met by two people, and the next step is gina's to decide again.
    expect((await signal(id, APPROVE, bob.auth, { Prefer: 'return=representation' })).body).toMatchObject({ Outcome: 'Advanced', CurrentStepUniqueName: 'RequireApproval2' });
    expect(await assigned(gina.auth)).toContain(id);

    // Bulk decisions take ActingFor per item, under the same rule.
    const other = await startInstance(t, twoApprovals, {}, dave.auth);
    const bulk = await t.call('POST', '/KeyfactorAPI/Workflow/Instances/BulkSignals', {
      auth: gina.auth,
      unchecked: true,
      body: {
        Items: [
          { InstanceId: other, ...APPROVE, ActingFor: 'CORP\\bob' },
          { InstanceId: other, ...APPROVE, ActingFor: 'CORP\\alice' },
        ],
      },
    });
    expect(bulk.body.Results[0]).toMatchObject({ Succeeded: true, Outcome: { Outcome: 'Recorded' } });
    expect(bulk.body.Results[1]).toMatchObject({ Succeeded: false, HttpStatus: 403 });
    expect((await history(other)).find((e) => e.Kind === 'SignalReceived')!.Actor).toBe('CORP\\gina (acting for CORP\\bob)');
    const bad = await t.call('POST', '/KeyfactorAPI/Workflow/Instances/BulkSignals', {
      auth: gina.auth,
      unchecked: true,
      body: { Items: [{ InstanceId: other, ...APPROVE, ActingFor: 7 }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.Message).toContain('Items[0].ActingFor');
    for (const d of [fromAlice, fromBob]) await t.call('DELETE', `/KeyfactorAPI/Workflow/Delegations/${d.body.Id}`, { auth: t.adminAuth, unchecked: true });
  });

  it('refuses what cannot be a delegation', async () => {
    expect((await delegate({ Delegate: 'CORP\\alice', End: inAWeek() }, alice.auth)).status).toBe(400);
    expect((await delegate({ Delegate: 'CORP\\nobody', End: inAWeek() }, alice.auth)).status).toBe(400);
    expect((await delegate({ Delegate: 'CORP\\bob', End: '2020-01-01T00:00:00Z' }, alice.auth)).status).toBe(400);
    expect((await delegate({ Delegate: 'CORP\\bob', Start: inAWeek(), End: new Date().toISOString() }, alice.auth)).status).toBe(400);
    expect((await delegate({ Delegate: 'CORP\\bob', End: new Date(Date.now() + 400 * 86_400_000).toISOString() }, alice.auth)).status).toBe(400);
    expect((await delegate({ Delegate: 'CORP\\bob', End: 'soon' }, alice.auth)).status).toBe(400);
    // Delegating someone else's approvals needs Security:Modify.
    expect((await delegate({ Delegator: 'CORP\\bob', Delegate: 'CORP\\dave', End: inAWeek() }, alice.auth)).status).toBe(403);
    expect((await delegate({ Delegator: 'CORP\\bob', Delegate: 'CORP\\dave', End: inAWeek() }, t.adminAuth)).status).toBe(201);
    const mine = await t.call('GET', '/KeyfactorAPI/Workflow/Delegations', { auth: dave.auth, unchecked: true });
    expect(mine.body.some((d: { Delegator: string }) => d.Delegator === 'CORP\\bob')).toBe(true);
    expect((await t.call('GET', '/KeyfactorAPI/Workflow/Delegations?all=true', { auth: dave.auth, unchecked: true })).status).toBe(403);
  });
});

describe('reassigning a waiting step', () => {
  it('an administrator hands the step to other roles, recorded in the history; decisions already made stay', async () => {
    const id = await startInstance(t, twoApprovals, {}, dave.auth);
    await signal(id, APPROVE, alice.auth);
    const reassign = (body: unknown, auth = t.adminAuth) => t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Reassign`, { auth, body, unchecked: true });
    // Alice may read it (she may act on it) but not manage it.
    expect((await reassign({ RoleIds: [reviewers] }, alice.auth)).status).toBe(403);
    expect((await reassign({ RoleIds: [99999] })).status).toBe(400);
    expect((await reassign({ RoleIds: [] })).status).toBe(400);
    expect((await reassign({ RoleIds: ['x'] })).status).toBe(400);
    expect((await reassign({ RoleIds: [reviewers] })).status).toBe(204);
    // Approvers of the old roles no longer may act (Alice: no delegation reaches the new role).
    expect((await signal(id, APPROVE, alice.auth)).status).toBe(404);
    const r = await signal(id, APPROVE, erin.auth, { Prefer: 'return=representation' });
    expect(r.body).toMatchObject({ Outcome: 'Advanced', CurrentStepUniqueName: 'RequireApproval2' });
    const note = (await history(id)).find((e) => e.Kind === 'Reassigned') as unknown as { Actor: string; Message: string };
    expect(note.Actor).toBe('admin');
    expect(note.Message).toContain(`to roles ${reviewers}`);
  });
});

describe('moving running instances to a new version', () => {
  const defPath = (id: string) => `/KeyfactorAPI/Workflow/Definitions/${id}`;
  const publishSteps = async (defId: string, steps: unknown[]) => {
    expect((await t.call('PUT', `${defPath(defId)}/Steps`, { body: steps })).status).toBe(200);
    expect((await t.call('POST', `${defPath(defId)}/Publish`)).status).toBe(200);
  };
  const migrate = (id: string, body: unknown, auth = t.adminAuth) => t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Migrate`, { auth, body, unchecked: true });
  const get = async (id: string) => (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body;

  it('keeps recorded decisions and re-decides them under the new thresholds; a dry run shows it and changes nothing', async () => {
    const defId = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], { MinimumApprovals: 2 }),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, defId, {}, dave.auth);
    await signal(id, APPROVE, alice.auth);
    await publishSteps(defId, [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [approvers], { MinimumApprovals: 1 }), noop('EndNOOP')]);

    const dry = await migrate(id, { DryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ DryRun: true, FromVersion: 1, ToVersion: 2, FromStep: 'RequireApproval1', StatusName: 'Complete', DecisionsCarried: 1 });
    expect(await get(id)).toMatchObject({ Status: 2, Definition: { Version: 1 } });

    expect((await migrate(id, {}, alice.auth)).status).toBe(403);
    const done = await migrate(id, {});
    expect(done.body).toMatchObject({ DryRun: false, StatusName: 'Complete' });
    const h = await history(id);
    expect(h.map((e) => e.Kind)).toContain('Migrated');
    expect((await migrate(id, {})).status).toBe(400);
  });

  it('follows a step mapping when the waiting step was renamed, and says so when it is missing', async () => {
    const defId = await publishedDefinition(t, [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [approvers]), noop('EndNOOP')]);
    const id = await startInstance(t, defId, {}, dave.auth);
    await publishSteps(defId, [noop('StartNOOP', 'Approve'), approval('Approve', 'EndNOOP', [approvers]), noop('EndNOOP')]);
    const missing = await migrate(id, {});
    expect(missing.status).toBe(400);
    expect(missing.body.Message).toContain('StepMapping');
    expect((await migrate(id, { Version: 1 })).status).toBe(400);
    const moved = await migrate(id, { StepMapping: { RequireApproval1: 'Approve' } });
    expect(moved.body).toMatchObject({ StatusName: 'Suspended', ToStep: 'Approve', DecisionsCarried: 0 });
    expect((await signal(id, { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: true } }, alice.auth)).status).toBe(204);
    expect((await get(id)).Status).toBe(3);
  });

  it('moves every waiting instance of a definition in one call, a result per instance', async () => {
    const defId = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], { MinimumApprovals: 3 }),
      noop('EndNOOP'),
    ]);
    const ids = [await startInstance(t, defId, {}, dave.auth), await startInstance(t, defId, {}, dave.auth)];
    await signal(ids[0]!, APPROVE, alice.auth);
    await publishSteps(defId, [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [approvers], { MinimumApprovals: 1 }), noop('EndNOOP')]);
    const all = (body: unknown) => t.call('POST', `${defPath(defId)}/MigrateInstances`, { body, unchecked: true });
    const dry = await all({ DryRun: true });
    expect(dry.body.Results.map((r: { StatusName: string }) => r.StatusName).sort()).toEqual(['Complete', 'Suspended']);
    expect((await get(ids[0]!)).Definition.Version).toBe(1);
    const real = await all({});
    expect(real.body.Results).toHaveLength(2);
    expect((await get(ids[0]!)).Status).toBe(3);
    expect(await get(ids[1]!)).toMatchObject({ Status: 2, Definition: { Version: 2 } });
    expect((await all({})).body.Results).toEqual([]);
  });
});
