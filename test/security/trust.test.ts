import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/*
 * Attacks on who decides a request (docs/security/trust.md), over real HTTP, on both stores:
 *  - the requester names fields in InitialData that role tokens and conditions refer to;
 *  - a requester who also holds the approver role approves their own request;
 *  - someone who may not read an instance probes it by GUID.
 */

type User = { id: number; auth: string };
let t: TestApp;
let carol: User; // requester
let alice: User; // approver
let bob: User; // approver
let mallory: User; // carol's accomplice: not an approver
let dave: User; // requester who is also an approver
let nobody: User; // signed in, no role at all
let erin: User; // another requester (ReadMy only)
let approvers: number;
let friends: number;

const SIGNAL = (step: string, approved = true) => ({ SignalKey: `${step}.ApprovalStatus`, Data: { Approved: approved, Comment: 'ok' } });
const get = (id: string) => t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
const history = async (id: string) =>
  (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true })).body.History as { Kind: string; Step: string | null; Message: string }[];
const signal = (id: string, body: unknown, auth: string) => t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { body, auth });
const assigned = async (auth: string) => ((await t.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth })).body as { Id: string }[]).map((i) => i.Id);

const tokenApproval = (uniqueName: string, next: string, roleTokens: string[], conditions: string[] = []) => ({
  ...approval(uniqueName, next, [approvers], {}, conditions),
  Signals: [{ SignalName: 'ApprovalStatus', RoleIds: [approvers], RoleTokens: roleTokens }],
});
const updateMetadata = (uniqueName: string, next: string, name: string, value: string, conditions: string[] = []) => ({
  ...noop(uniqueName, next),
  ExtensionName: 'UpdateMetadata',
  ConfigurationParameters: { Name: name, Value: value },
  Conditions: conditions.map((Value) => ({ Value })),
});

beforeAll(async () => {
  t = await startTestApp();
  const store = t.server.services.store;
  [carol, alice, bob, mallory, dave, nobody, erin] = await Promise.all(
    ['CORP\\carol', 'CORP\\alice', 'CORP\\bob', 'CORP\\mallory', 'CORP\\dave', 'CORP\\nobody', 'CORP\\erin'].map((n) => createUser(store, n)),
  );
  approvers = await createRole(store, 'Approvers', [P.instancesReadPending], [alice.id, bob.id, dave.id]);
  await createRole(store, 'Requesters', [P.instancesStart, P.instancesReadMine], [carol.id, dave.id, erin.id]);
  friends = await createRole(store, 'Friends', [P.instancesReadPending], [mallory.id]);
});
afterAll(() => t.close());

describe('InitialData cannot choose who approves', () => {
  it('role tokens naming InitialData fields grant nothing; the history says why', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'Approve'),
      tokenApproval('Approve', 'EndNOOP', ['$(approverRole)', '$(metadata:ApproverRole)', '$(Ticket.Approvers)']),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, { InitialData: { approverRole: friends, Ticket: { Approvers: [friends] }, Metadata: { ApproverRole: String(friends) } } }, carol.auth);

    expect(await assigned(mallory.auth)).not.toContain(id);
    const res = await signal(id, SIGNAL('Approve'), mallory.auth);
    expect(res.status).toBe(404);
    expect((await get(id)).body).toMatchObject({ Status: 2, CurrentStepUniqueName: 'Approve' });
    const suspended = (await history(id)).find((h) => h.Kind === 'Suspended')!;
    expect(suspended.Message).toMatch(/\$\(approverRole\).*\$\(metadata:ApproverRole\).*\$\(Ticket\.Approvers\) name requester-supplied data and grant no role/);

    // The approvers named by the definition still decide.
    expect(await assigned(alice.auth)).toContain(id);
    expect((await signal(id, SIGNAL('Approve'), alice.auth)).status).toBe(204);
    expect((await get(id)).body.Status).toBe(3);
  });

  it('a role token set by a step (trusted) does grant the role', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'Set'),
      updateMetadata('Set', 'Approve', 'ApproverRole', String(friends)),
      tokenApproval('Approve', 'EndNOOP', ['$(metadata:ApproverRole)']),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, { InitialData: { Metadata: { ApproverRole: '999' } } }, carol.auth);
    expect(await assigned(mallory.auth)).toContain(id);
    expect((await signal(id, SIGNAL('Approve'), mallory.auth)).status).toBe(204);
  });

  it('metadata an UpdateMetadata step copies from InitialData is not trusted either', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'Copy'),
      updateMetadata('Copy', 'Approve', 'ApproverRole', '$(approverRole)'),
      tokenApproval('Approve', 'EndNOOP', ['$(metadata:ApproverRole)']),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, { InitialData: { approverRole: friends } }, carol.auth);
    expect(await assigned(mallory.auth)).not.toContain(id);
    expect((await signal(id, SIGNAL('Approve'), mallory.auth)).status).toBe(404);
  });

  it('a forged $(requester) is overridden by the server-set requester', async () => {
    const def = await publishedDefinition(t, [noop('StartNOOP', 'Approve'), approval('Approve', 'EndNOOP', [approvers]), noop('EndNOOP')]);
    const id = await startInstance(t, def, { InitialData: { requester: 'CORP\\ceo' } }, carol.auth);
    const inst = (await get(id)).body;
    expect(inst.InitialData.requester).toBe('CORP\\ceo');
    expect(inst.CurrentStateData.requester).toBe('CORP\\carol');
  });
});

describe('InitialData cannot skip an approval', () => {
  const cases: [string, unknown[], Record<string, unknown>][] = [
    ['a condition on a data field', [noop('StartNOOP', 'Approve'), approval('Approve', 'EndNOOP', [0], {}, ['$(needsApproval)']), noop('EndNOOP')], { needsApproval: false }],
    [
      'a condition on subject metadata',
      [noop('StartNOOP', 'Approve'), approval('Approve', 'EndNOOP', [0], {}, ['$(metadata:NeedsApproval)']), noop('EndNOOP')],
      { Metadata: { NeedsApproval: 'False' } },
    ],
    [
      'a condition on metadata a step copied from InitialData',
      [
        noop('StartNOOP', 'Copy'),
        updateMetadata('Copy', 'Approve', 'NeedsApproval', '$(needsApproval)'),
        approval('Approve', 'EndNOOP', [0], {}, ['$(metadata:NeedsApproval)']),
        noop('EndNOOP'),
      ],
      { needsApproval: 'false' },
    ],
    [
      'a condition on metadata set by a step the requester switched on',
      [
        noop('StartNOOP', 'Waive'),
        updateMetadata('Waive', 'Approve', 'NeedsApproval', 'false', ['$(lowRisk)']),
        approval('Approve', 'EndNOOP', [0], {}, ['$(metadata:NeedsApproval)']),
        noop('EndNOOP'),
      ],
      { lowRisk: true },
    ],
  ];
  for (const [name, steps, initialData] of cases) {
    it(`${name}: the approval still waits, and the history says why`, async () => {
      const withRole = JSON.parse(JSON.stringify(steps).replaceAll('"RoleIds":[0]', `"RoleIds":[${approvers}]`));
      const def = await publishedDefinition(t, withRole);
      const id = await startInstance(t, def, { InitialData: initialData }, carol.auth);
      expect((await get(id)).body).toMatchObject({ Status: 2, CurrentStepUniqueName: 'Approve' });
      const entered = (await history(id)).find((h) => h.Kind === 'StepEntered' && h.Step === 'Approve')!;
      expect(entered.Message).toMatch(/not decided by trusted data.*so it runs/);
    });
  }

  it('a condition decided by a step (trusted) still skips it', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'Set'),
      updateMetadata('Set', 'Approve', 'NeedsApproval', 'false'),
      approval('Approve', 'EndNOOP', [approvers], {}, ['$(metadata:NeedsApproval)']),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, { InitialData: { Metadata: { NeedsApproval: 'true' } } }, carol.auth);
    expect((await get(id)).body.Status).toBe(3);
  });
});

describe('self-approval', () => {
  it('is refused by default with the reason; the initiator is not assigned, and does not count', async () => {
    const def = await publishedDefinition(t, [noop('StartNOOP', 'Approve'), approval('Approve', 'EndNOOP', [approvers]), noop('EndNOOP')]);
    const id = await startInstance(t, def, {}, dave.auth);
    const before = await get(id);
    const res = await signal(id, SIGNAL('Approve'), dave.auth);
    expect(res.status).toBe(403);
    expect(res.body.Message).toContain('the initiator of this request cannot approve it (AllowSelfApproval is off)');
    expect((await get(id)).body).toEqual(before.body);
    expect(await assigned(dave.auth)).not.toContain(id);
    expect(await assigned(alice.auth)).toContain(id);
    // Nor may the initiator deny it (which would also be deciding their own request).
    expect((await signal(id, SIGNAL('Approve', false), dave.auth)).status).toBe(403);
    expect((await signal(id, SIGNAL('Approve'), alice.auth)).status).toBe(204);
    expect((await get(id)).body.Status).toBe(3);
  });

  it('with AllowSelfApproval the initiator may approve their own request', async () => {
    const def = await publishedDefinition(t, [noop('StartNOOP', 'Approve'), approval('Approve', 'EndNOOP', [approvers], { AllowSelfApproval: true }), noop('EndNOOP')]);
    const id = await startInstance(t, def, {}, dave.auth);
    expect(await assigned(dave.auth)).toContain(id);
    expect((await signal(id, SIGNAL('Approve'), dave.auth)).status).toBe(204);
    expect((await get(id)).body.Status).toBe(3);
  });

  it('is declared in the step catalogue, off by default', async () => {
    const res = await t.call('GET', '/KeyfactorAPI/Workflow/Definitions/Steps/RequireApproval');
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain('AllowSelfApproval');
  });
});

describe('an instance the caller may not read looks absent', () => {
  const routes: [string, string, (id: string) => string, unknown?][] = [
    ['GET', 'read', (id) => `/KeyfactorAPI/Workflow/Instances/${id}`],
    ['GET', 'read with history', (id) => `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`],
    ['POST', 'signal', (id) => `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, SIGNAL('Approve')],
    ['POST', 'stop', (id) => `/KeyfactorAPI/Workflow/Instances/${id}/Stop`],
    ['POST', 'restart', (id) => `/KeyfactorAPI/Workflow/Instances/${id}/Restart`],
    ['DELETE', 'delete', (id) => `/KeyfactorAPI/Workflow/Instances/${id}`],
  ];
  let existing: string;
  let definition: string;
  beforeAll(async () => {
    definition = await publishedDefinition(t, [
      noop('StartNOOP', 'Approve'),
      { ...approval('Approve', 'EndNOOP', [approvers]), DisplayName: 'Secret Approval Step' },
      noop('EndNOOP'),
    ]);
    existing = await startInstance(t, definition, {}, carol.auth);
  });

  const callers = (): [string, User][] => [
    ['a user with no permission at all', nobody],
    ['an approver of other requests (ReadAssignedToMe)', mallory],
    ['another requester (ReadMy)', erin],
  ];
  for (const [method, what, path, body] of routes) {
    it(`${what}: the same 404 for an existing and a random id, revealing nothing`, async () => {
      for (const [, who] of callers()) {
        const random = randomUUID();
        const a = await t.call(method, path(existing), { auth: who.auth, body });
        const b = await t.call(method, path(random), { auth: who.auth, body });
        expect(a.status).toBe(404);
        expect(b.status).toBe(404);
        expect(a.body.ErrorCode).toBe(b.body.ErrorCode);
        expect(a.body.Message.replace(existing, '<id>')).toBe(b.body.Message.replace(random, '<id>'));
        for (const secret of ['Suspended', 'Approve', 'Secret Approval Step', 'Waiting', 'CORP\\\\carol', 'initiator']) expect(a.text).not.toContain(secret);
      }
      // Nothing happened to it.
      expect((await get(existing)).body).toMatchObject({ Status: 2, CurrentStepUniqueName: 'Approve' });
    });
  }

  it('those who may read it still can: the initiator (ReadMy), a current approver, ReadAll', async () => {
    expect((await get(existing)).status).toBe(200);
    for (const who of [carol, alice]) expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${existing}`, { auth: who.auth })).status).toBe(200);
  });

  it('a reader without Manage gets 403 on stop, restart and delete (the instance is no secret to them)', async () => {
    for (const [method, path] of [
      ['POST', `/KeyfactorAPI/Workflow/Instances/${existing}/Stop`],
      ['POST', `/KeyfactorAPI/Workflow/Instances/${existing}/Restart`],
      ['DELETE', `/KeyfactorAPI/Workflow/Instances/${existing}`],
    ]) {
      const res = await t.call(method, path, { auth: carol.auth });
      expect(res.status).toBe(403);
      expect(res.body.Message).toMatch(/lacks the permission/);
    }
  });
});
