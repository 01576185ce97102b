import { describe, expect, it } from 'vitest';
import { validateSteps } from '../../src/domain/definition.ts';
import { applySignal, fireTimer, startInstance, type EngineContext, type Effect } from '../../src/domain/engine.ts';
import type { DefinitionVersion, Instance, StepDef } from '../../src/domain/types.ts';
import { defaultRegistry } from '../../src/steps/index.ts';

const registry = defaultRegistry();
const T0 = '2026-01-01T00:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
const H = 3600_000;
const ctx = (now = T0, maxWaitMs = 30 * 24 * H): EngineContext => ({ now, registry, maxWaitMs });

const step = (uniqueName: string, extensionName: string, next: string | null, config: Record<string, unknown> = {}, roleIds: number[] = []): StepDef => ({
  id: `id-${uniqueName}`,
  extensionName,
  uniqueName,
  displayName: uniqueName,
  enabled: true,
  config: config as never,
  signals: roleIds.length ? [{ name: 'ApprovalStatus', roleIds, roleTokens: [] }] : [],
  conditions: [],
  outputs: next ? { continue: next } : {},
});

function version(config: Record<string, unknown>): DefinitionVersion {
  return {
    definitionId: 'd',
    version: 1,
    frozen: true,
    steps: [step('Start', 'NOOPStep', 'A'), step('A', 'RequireApproval', 'B', config, [1]), step('B', 'RequireApproval', 'End', {}, [1]), step('End', 'NOOPStep', null)],
  };
}

function start(config: Record<string, unknown>, maxWaitMs?: number) {
  const v = version(config);
  const t = startInstance(
    { id: 'i', referenceId: 1, definition: { id: 'd', displayName: 'D', workflowType: 'Enrollment' }, version: v, title: 't', initialData: {}, initiator: null },
    ctx(T0, maxWaitMs),
  );
  return { v, t };
}

const timers = (effects: Effect[]) => effects.filter((e) => e.type === 'timer').map((e) => [(e as { kind: string }).kind, (e as { at: string }).at]);
const notes = (effects: Effect[]) => effects.filter((e) => e.type === 'notify').map((e) => (e as { kind: string }).kind);
const actor = (id: number, roleIds = [1]) => ({ identityId: id, accountName: `u${id}`, roleIds });

describe('deadlines on RequireApproval', () => {
  it('schedules reminder, escalation and timeout timers and the request email when the step starts waiting', () => {
    const { t } = start({ ReminderInterval: 'PT1H', EscalateAfter: 'PT4H', TimeoutAfter: 'P1D', RequestSubject: 'Please approve $(cn)' });
    expect(t.instance.status).toBe('Suspended');
    expect(timers(t.effects)).toEqual([
      ['reminder', at(H)],
      ['escalation', at(4 * H)],
      ['timeout', at(24 * H)],
    ]);
    expect(notes(t.effects)).toEqual(['request']);
  });

  it("the server's upper bound applies when the step sets no timeout; minutes are accepted", () => {
    const { t } = start({ ReminderInterval: 90 }, 7 * 24 * H);
    expect(timers(t.effects)).toEqual([
      ['reminder', at(1.5 * H)],
      ['timeout', at(7 * 24 * H)],
    ]);
    expect(notes(t.effects)).toEqual([]);
  });

  it('a reminder notes the history, notifies again and schedules the next reminder', () => {
    const { v, t } = start({ ReminderInterval: 'PT1H', RequestSubject: 's' });
    const r = fireTimer(t.instance, v, { step: 'A', kind: 'reminder', at: at(H) }, ctx(at(H)))!;
    expect(r.history.map((h) => h.kind)).toEqual(['Reminded']);
    expect(notes(r.effects)).toEqual(['reminder']);
    expect(timers(r.effects)).toEqual([['reminder', at(2 * H)]]);
    expect(r.instance.status).toBe('Suspended');
  });

  it('escalation adds roles that may act from then on', () => {
    const { v, t } = start({ EscalateAfter: 'PT4H', EscalationRoleIds: ['7'] });
    expect(() => applySignal(t.instance, v, { key: 'A.ApprovalStatus', data: { Approved: true }, actor: actor(9, [7]) }, ctx())).toThrow(/roles allowed/);
    const r = fireTimer(t.instance, v, { step: 'A', kind: 'escalation', at: at(4 * H) }, ctx(at(4 * H)))!;
    expect(r.instance.pendingRoleIds).toEqual([1, 7]);
    expect(r.history[0].message).toMatch(/Roles 7 may now act too/);
    const after = applySignal(r.instance, v, { key: 'A.ApprovalStatus', data: { Approved: true }, actor: actor(9, [7]) }, ctx(at(5 * H)));
    expect(after.instance.currentStep).toBe('B');
  });

  it.each([
    ['Deny', 'Rejected', 'A'],
    ['Approve', 'Suspended', 'B'],
    ['Fail', 'Failed', 'A'],
  ])('timeout with action %s', (action, status, where) => {
    const { v, t } = start({ TimeoutAfter: 'PT2H', TimeoutAction: action, DeniedSubject: 'no', ApprovedSubject: 'yes' });
    const r = fireTimer(t.instance, v, { step: 'A', kind: 'timeout', at: at(2 * H) }, ctx(at(2 * H)))!;
    expect(r.instance.status).toBe(status);
    expect(r.instance.currentStep).toBe(where);
    expect(r.history[0].kind).toBe('TimedOut');
    expect(r.history[0].message).toMatch(/within 2 hours/);
    if (action === 'Deny') expect(notes(r.effects)).toEqual(['denied']);
    if (action === 'Approve') expect(notes(r.effects)).toEqual(['approved']);
  });

  it("the default bound fails the instance and says it was the server's bound", () => {
    const { v, t } = start({}, 48 * H);
    const r = fireTimer(t.instance, v, { step: 'A', kind: 'timeout', at: at(48 * H) }, ctx(at(48 * H), 48 * H))!;
    expect(r.instance.status).toBe('Failed');
    expect(r.instance.statusMessage).toMatch(/within 2 days, the server's upper bound on a wait/);
  });

  it('a timer for a step the instance has left is stale: nothing happens', () => {
    const { v, t } = start({ TimeoutAfter: 'PT2H', TimeoutAction: 'Deny' });
    const moved = applySignal(t.instance, v, { key: 'A.ApprovalStatus', data: { Approved: true }, actor: actor(3) }, ctx(at(H)));
    expect(moved.instance.currentStep).toBe('B');
    expect(fireTimer(moved.instance, v, { step: 'A', kind: 'timeout', at: at(2 * H) }, ctx(at(2 * H)))).toBeNull();
    const done: Instance = { ...moved.instance, status: 'Complete' };
    expect(fireTimer(done, v, { step: 'B', kind: 'timeout', at: at(2 * H) }, ctx(at(2 * H)))).toBeNull();
  });

  it('approval and denial notifications are queued when configured', () => {
    const { v, t } = start({ ApprovedSubject: 'Approved: $(cn)', DeniedSubject: 'Denied' });
    const ok = applySignal(t.instance, v, { key: 'A.ApprovalStatus', data: { Approved: true }, actor: actor(3) }, ctx());
    expect(notes(ok.effects)).toEqual(['approved']);
    const no = applySignal(t.instance, v, { key: 'A.ApprovalStatus', data: { Approved: false }, actor: actor(3) }, ctx());
    expect(notes(no.effects)).toEqual(['denied']);
  });

  it('validation refuses bad durations, actions and escalation roles', () => {
    const problems = validateSteps(
      version({ ReminderInterval: 'soon', TimeoutAfter: 'PT0S', TimeoutAction: 'Shrug', EscalationRoleIds: ['admins'] }).steps,
      registry,
      'Enrollment',
      () => true,
    );
    expect(problems.join('\n')).toMatch(/ReminderInterval: must be a positive number of minutes or an ISO-8601 duration/);
    expect(problems.join('\n')).toMatch(/TimeoutAfter: must be longer than zero/);
    expect(problems.join('\n')).toMatch(/TimeoutAction: must be Deny, Approve or Fail/);
    expect(problems.join('\n')).toMatch(/EscalationRoleIds: must be a list of role ids/);
  });
});
