import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applySignal,
  cancelForRestart,
  completeRun,
  reconcile,
  startInstance,
  stopInstance,
  type EngineContext,
  type Transition,
} from '../../src/domain/engine.ts';
import { validateSteps } from '../../src/domain/definition.ts';
import type { ErrorName } from '../../src/domain/errors.ts';
import type { InstanceStatusName } from '../../src/domain/status.ts';
import type { Actor, DefinitionVersion, HistoryEntry, Instance, JsonObject, StepDef } from '../../src/domain/types.ts';
import { defaultRegistry } from '../../src/steps/index.ts';
import { at, deepFreeze, errorOf } from '../support/engine.ts';

/*
 * Model-based tests of the engine's transitions over random linear definitions:
 * StartNOOP -> Step1 -> ... -> StepN -> EndNOOP.
 */

const registry = defaultRegistry();
const ctxAt = (n: number): EngineContext => ({ now: at(n), registry });

type Kind = 'NOOPStep' | 'RequireApproval' | 'UpdateMetadata' | 'Email' | 'ExpirationRenewal';
type Flag = 'true' | 'TRUE' | 'no';
const CONDITIONS = ['True', 'false', '$(flag)', '$(missing)'] as const;

interface Spec {
  kind: Kind;
  enabled: boolean;
  conditions: string[];
  m: number;
  d: number;
}

const roleOf = (i: number): number => 100 + i;
const nameOf = (specs: Spec[], i: number): string => (i === 0 ? 'StartNOOP' : i === specs.length + 1 ? 'EndNOOP' : `Step${i}`);

function specArb(kinds: Kind[]): fc.Arbitrary<Spec> {
  return fc.record({
    kind: fc.constantFrom(...kinds),
    enabled: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    conditions: fc.array(fc.constantFrom(...CONDITIONS), { maxLength: 2 }),
    m: fc.integer({ min: 1, max: 3 }),
    d: fc.integer({ min: 1, max: 3 }),
  });
}

function configFor(kind: Kind, i: number, s: Spec): JsonObject {
  switch (kind) {
    case 'RequireApproval':
      return { MinimumApprovals: s.m, DenialsToReject: s.d };
    case 'UpdateMetadata':
      return { Name: `Field${i}`, Value: '$(flag)' };
    case 'Email':
      return { Subject: 'About $(cn)', Message: '<p>$(cn)</p>', Recipients: ['pki@example.com'] };
    default:
      return {};
  }
}

/** Index 0 is the start, index specs.length + 1 the end; both plain NOOPs. */
function buildSteps(specs: Spec[], reversed: boolean): StepDef[] {
  const all: StepDef[] = [];
  const n = specs.length + 2;
  for (let i = 0; i < n; i++) {
    const s = i === 0 || i === n - 1 ? undefined : specs[i - 1];
    const kind: Kind = s?.kind ?? 'NOOPStep';
    all.push({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      extensionName: kind,
      uniqueName: nameOf(specs, i),
      displayName: `Display ${nameOf(specs, i)}`,
      enabled: s?.enabled ?? true,
      config: s ? configFor(kind, i, s) : {},
      signals: kind === 'RequireApproval' ? [{ name: 'ApprovalStatus', roleIds: [roleOf(i)], roleTokens: [] }] : [],
      conditions: (s?.conditions ?? []).map((value, k) => ({ id: `c${i}-${k}`, value })),
      outputs: i < n - 1 ? { continue: nameOf(specs, i + 1) } : {},
    });
  }
  return reversed ? all.reverse() : all;
}

// ------------------------------------------------------------------------------------------------
// The model: what should happen, computed without the engine.

interface Model {
  status: InstanceStatusName;
  /** index of the current (last entered) step */
  index: number;
  metadata: JsonObject;
  decided: Map<number, boolean>;
}

const conditionHoldsModel = (c: string, flag: Flag): boolean => c === 'True' || (c === '$(flag)' && flag.toLowerCase() === 'true');

/** Whether each step (by index) runs or is skipped. */
function runsAt(specs: Spec[], i: number, flag: Flag): boolean {
  if (i === 0 || i === specs.length + 1) return true;
  const s = specs[i - 1];
  // An approval fails closed: only a condition decided by trusted data ('false' here) skips it;
  // $(flag) is requester data and $(missing) resolves from nothing trusted, so neither can.
  if (s.kind === 'RequireApproval') return s.enabled && !s.conditions.includes('false');
  return s.enabled && s.conditions.every((c) => conditionHoldsModel(c, flag));
}

const kindAt = (specs: Spec[], i: number): Kind => (i === 0 || i === specs.length + 1 ? 'NOOPStep' : specs[i - 1].kind);

/** Walks from step index `from`; returns the expected history (kind@step) and effects, updating the model. */
function walk(specs: Spec[], flag: Flag, model: Model, from: number): { history: string[]; effects: string[] } {
  const history: string[] = [];
  const effects: string[] = [];
  const last = specs.length + 1;
  for (let i = from; i <= last; i++) {
    const name = nameOf(specs, i);
    if (!runsAt(specs, i, flag)) {
      history.push(`StepSkipped@${name}`);
      continue;
    }
    history.push(`StepEntered@${name}`);
    model.index = i;
    model.decided = new Map();
    switch (kindAt(specs, i)) {
      case 'NOOPStep':
        history.push(`StepCompleted@${name}`);
        continue;
      case 'UpdateMetadata':
        model.metadata = { ...model.metadata, [`Field${i}`]: flag };
        history.push(`StepCompleted@${name}`);
        continue;
      case 'RequireApproval':
        model.status = 'Suspended';
        history.push(`Suspended@${name}`);
        return { history, effects };
      case 'Email':
        model.status = 'Running';
        effects.push(`runStep@${name}`);
        return { history, effects };
      case 'ExpirationRenewal':
        model.status = 'Failed';
        history.push(`Failed@${name}`);
        return { history, effects };
    }
  }
  model.status = 'Complete';
  history.push(`Completed@${nameOf(specs, model.index)}`);
  return { history, effects };
}

/**
 * Status edges a single transition may take. Beyond the documented ones: Failed -> CanceledForRestart
 * (restarting a failed instance), Suspended -> Failed (an approval leads into a step that fails, e.g.
 * ExpirationRenewal) and Running -> Running (a run result leads into another automatic step).
 */
const ALLOWED: Record<InstanceStatusName, InstanceStatusName[]> = {
  Unknown: [],
  Running: ['Suspended', 'Complete', 'Failed', 'Rejected', 'Running'],
  Suspended: ['Suspended', 'Running', 'Complete', 'Rejected', 'CanceledForRestart', 'Failed'],
  Failed: ['CanceledForRestart'],
  Complete: [],
  Rejected: [],
  CanceledForRestart: [],
};

const histStr = (h: HistoryEntry[]): string[] => h.map((e) => `${e.kind}@${e.step}`);
const effStr = (t: Transition): string[] => t.effects.map((e) => `${e.type}@${e.step}`);

const allRoles = (specs: Spec[]): number[] => specs.map((_, i) => roleOf(i + 1));
const actorOf = (who: number, specs: Spec[]): Actor => ({ identityId: who, accountName: `CORP\\user${who}`, roleIds: allRoles(specs) });

function start(specs: Spec[], flag: Flag, reversed: boolean, workflowType: string) {
  const steps = buildSteps(specs, reversed);
  const version = deepFreeze<DefinitionVersion>({ definitionId: 'def-1', version: 1, steps, frozen: true });
  const ctx = ctxAt(0);
  const t = startInstance(
    {
      id: 'inst-1',
      referenceId: 1,
      definition: { id: 'def-1', displayName: 'Random', workflowType },
      version,
      title: null,
      initialData: { flag, cn: 'www.example.com' },
      initiator: null,
    },
    ctx,
  );
  const model: Model = { status: 'Running', index: 0, metadata: {}, decided: new Map() };
  const expected = walk(specs, flag, model, 0);
  return { version, t, model, expected, ctx };
}

/** Checks the engine's instance against the model. */
function expectMatchesModel(inst: Instance, model: Model, specs: Spec[], now: string): void {
  const cur = nameOf(specs, model.index);
  expect(inst.status).toBe(model.status);
  expect(inst.currentStep).toBe(cur);
  expect(inst.currentStepDisplayName).toBe(`Display ${cur}`);
  expect(inst.currentStepId).toBe(`00000000-0000-4000-8000-${String(model.index).padStart(12, '0')}`);
  expect(inst.lastModified).toBe(now);
  expect(inst.metadata).toEqual(model.metadata);
  expect(inst.pendingRoleIds).toEqual(model.status === 'Suspended' ? [roleOf(model.index)] : []);
  if (model.status === 'Failed' && kindAt(specs, model.index) === 'ExpirationRenewal') expect(inst.statusMessage).toContain('no CA connector is configured');
}

describe('startInstance on random linear definitions', () => {
  const kinds: Kind[] = ['NOOPStep', 'RequireApproval', 'UpdateMetadata'];
  it('completes, or suspends at the first enabled RequireApproval whose conditions hold; skipped steps are logged', () => {
    fc.assert(
      fc.property(fc.array(specArb(kinds), { maxLength: 8 }), fc.constantFrom<Flag>('true', 'TRUE', 'no'), fc.boolean(), (specs, flag, reversed) => {
        const { version, t, model, expected, ctx } = start(specs, flag, reversed, 'Enrollment');
        expect(validateSteps([...version.steps], registry, 'Enrollment', () => true)).toEqual([]);

        // Independent of the walk model: where it must stop.
        const firstGate = specs.findIndex((s, k) => s.kind === 'RequireApproval' && runsAt(specs, k + 1, flag));
        if (firstGate === -1) expect(t.instance).toMatchObject({ status: 'Complete', currentStep: 'EndNOOP' });
        else expect(t.instance).toMatchObject({ status: 'Suspended', currentStep: `Step${firstGate + 1}`, pendingRoleIds: [roleOf(firstGate + 1)] });

        expect(histStr(t.history)).toEqual(['Started@null', ...expected.history]);
        const upTo = firstGate === -1 ? specs.length : firstGate;
        const skipped = specs.slice(0, upTo).flatMap((_, k) => (runsAt(specs, k + 1, flag) ? [] : [`Step${k + 1}`]));
        expect(t.history.filter((h) => h.kind === 'StepSkipped').map((h) => h.step)).toEqual(skipped);
        for (const h of t.history) expect(h.at).toBe(ctx.now);
        expect(t.effects).toEqual([]);
        expect(t.instance.startDate).toBe(ctx.now);
        expect(t.instance.stateData).toEqual({ flag, cn: 'www.example.com' });
        expectMatchesModel(t.instance, model, specs, ctx.now);
      }),
      { numRuns: 500 },
    );
  });
});

type Action =
  | { type: 'signal'; who: number; approve: boolean }
  | { type: 'stop' }
  | { type: 'restart' }
  | { type: 'reconcile' }
  | { type: 'runOk' }
  | { type: 'runFail' }
  | { type: 'staleRun' };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ type: fc.constant('signal' as const), who: fc.integer({ min: 1, max: 3 }), approve: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant<Action>({ type: 'stop' }) },
  { weight: 1, arbitrary: fc.constant<Action>({ type: 'restart' }) },
  { weight: 1, arbitrary: fc.constant<Action>({ type: 'reconcile' }) },
  { weight: 3, arbitrary: fc.constant<Action>({ type: 'runOk' }) },
  { weight: 1, arbitrary: fc.constant<Action>({ type: 'runFail' }) },
  { weight: 1, arbitrary: fc.constant<Action>({ type: 'staleRun' }) },
);

describe('successive transitions follow the model', () => {
  const kinds: Kind[] = ['NOOPStep', 'RequireApproval', 'UpdateMetadata', 'Email', 'ExpirationRenewal'];

  it('statuses move only along allowed edges, history only grows, terminal states refuse everything', () => {
    fc.assert(
      fc.property(
        fc.array(specArb(kinds), { maxLength: 7 }),
        fc.constantFrom<Flag>('true', 'TRUE', 'no'),
        fc.boolean(),
        fc.array(actionArb, { maxLength: 30 }),
        (specs, flag, reversed, actions) => {
          const { version, t, model, expected, ctx: ctx0 } = start(specs, flag, reversed, 'Expiration');
          expect(histStr(t.history)).toEqual(['Started@null', ...expected.history]);
          expect(effStr(t)).toEqual(expected.effects);
          expect(ALLOWED.Running).toContain(t.instance.status);
          expectMatchesModel(t.instance, model, specs, ctx0.now);

          let inst = deepFreeze(t.instance);
          let log: HistoryEntry[] = [...t.history];
          let lastNow = ctx0.now;

          actions.forEach((a, i) => {
            const ctx = ctxAt(i + 1);
            const before = structuredClone(inst);
            const cur = nameOf(specs, model.index);
            let result: Transition | null = null;
            let want: { history: string[]; effects: string[] } = { history: [], effects: [] };
            let refused: ErrorName | null = null;

            switch (a.type) {
              case 'signal': {
                const input = { key: `${cur}.ApprovalStatus`, data: { Approved: a.approve }, actor: actorOf(a.who, specs) };
                if (model.status !== 'Suspended') refused = 'InstanceWrongState';
                else if (model.decided.has(a.who) && model.decided.get(a.who) !== a.approve) refused = 'SignalDecisionChanged';
                if (refused) {
                  expect(errorOf(() => applySignal(inst, version, input, ctx))).toBe(refused);
                  break;
                }
                const r = applySignal(inst, version, input, ctx);
                result = r;
                if (model.decided.has(a.who)) {
                  expect(r.duplicate).toBe(true);
                  want.history = [`SignalRepeated@${cur}`];
                  break;
                }
                expect(r.duplicate).toBe(false);
                model.decided.set(a.who, a.approve);
                const spec = specs[model.index - 1];
                const approvals = [...model.decided.values()].filter((x) => x).length;
                const denials = model.decided.size - approvals;
                if (denials >= spec.d) {
                  model.status = 'Rejected';
                  want.history = [`SignalReceived@${cur}`, `Rejected@${cur}`];
                } else if (approvals >= spec.m) {
                  const w = walk(specs, flag, model, model.index + 1);
                  want = { history: [`SignalReceived@${cur}`, `Approved@${cur}`, ...w.history], effects: w.effects };
                } else {
                  want.history = [`SignalReceived@${cur}`];
                }
                break;
              }
              case 'stop': {
                const actor = actorOf(9, specs);
                if (model.status !== 'Suspended' && model.status !== 'Running') {
                  expect(errorOf(() => stopInstance(inst, actor, ctx))).toBe('InstanceWrongState');
                  break;
                }
                result = stopInstance(inst, actor, ctx);
                model.status = 'Rejected';
                want.history = [`Stopped@${cur}`];
                expect(result.instance.statusMessage).toContain('CORP\\user9');
                break;
              }
              case 'restart': {
                const actor = actorOf(9, specs);
                if (model.status !== 'Suspended' && model.status !== 'Failed') {
                  expect(errorOf(() => cancelForRestart(inst, `new-${i}`, actor, ctx))).toBe('InstanceWrongState');
                  break;
                }
                result = cancelForRestart(inst, `new-${i}`, actor, ctx);
                model.status = 'CanceledForRestart';
                want.history = [`Restarted@${cur}`];
                expect(result.instance.restartedTo).toBe(`new-${i}`);
                expect(result.history[0].data).toEqual({ NewInstanceId: `new-${i}` });
                break;
              }
              case 'reconcile':
                // Every reachable state has had its signals applied already.
                expect(reconcile(inst, version, ctx)).toBeNull();
                break;
              case 'staleRun':
                // A result for a step the instance is not running (here, the start step) changes nothing.
                expect(completeRun(inst, version, { step: 'StartNOOP', ok: true }, ctx)).toBeNull();
                break;
              case 'runOk':
              case 'runFail': {
                const ranKey = `ran${model.index}`;
                const res = a.type === 'runOk' ? ({ step: cur, ok: true, variables: { [ranKey]: true } } as const) : ({ step: cur, ok: false, message: `boom at ${cur}` } as const);
                if (model.status !== 'Running') {
                  expect(completeRun(inst, version, res, ctx)).toBeNull();
                  break;
                }
                result = completeRun(inst, version, res, ctx);
                expect(result).not.toBeNull();
                if (a.type === 'runFail') {
                  model.status = 'Failed';
                  want.history = [`Failed@${cur}`];
                  expect(result!.instance.statusMessage).toBe(`boom at ${cur}`);
                } else {
                  const w = walk(specs, flag, model, model.index + 1);
                  want = { history: [`StepCompleted@${cur}`, ...w.history], effects: w.effects };
                  expect(result!.instance.stateData[ranKey]).toBe(true);
                }
                break;
              }
            }

            expect(inst).toEqual(before); // inputs are never mutated (and are frozen)
            if (result === null) {
              expect(inst.lastModified).toBe(lastNow);
              return;
            }
            // Status edges.
            expect(ALLOWED[inst.status]).toContain(result.instance.status);
            expect(result.instance.lastModified).toBe(ctx.now);
            for (const h of result.history) expect(h.at).toBe(ctx.now);
            expect(histStr(result.history)).toEqual(want.history);
            expect(effStr(result)).toEqual(want.effects);
            expectMatchesModel(result.instance, model, specs, ctx.now);
            // Append-only history: what was logged stays a prefix of what is logged next.
            const next = [...log, ...result.history];
            expect(next.slice(0, log.length)).toEqual(log);
            log = next;
            lastNow = ctx.now;
            inst = deepFreeze(result.instance);
          });

          // Across the whole life, steps were entered or skipped strictly in chain order, each at most once.
          const visits = log.filter((h) => h.kind === 'StepEntered' || h.kind === 'StepSkipped');
          const expectedVisits = Array.from({ length: model.index + 1 }, (_, k) => `${runsAt(specs, k, flag) ? 'StepEntered' : 'StepSkipped'}@${nameOf(specs, k)}`);
          const trailingSkips =
            model.status === 'Complete'
              ? Array.from({ length: specs.length + 1 - model.index }, (_, k) => model.index + 1 + k).map((k) => `StepSkipped@${nameOf(specs, k)}`)
              : [];
          expect(histStr(visits)).toEqual([...expectedVisits, ...trailingSkips]);
          expect(log.filter((h) => h.kind === 'Started')).toHaveLength(1);

          // Terminal states refuse everything that would change them.
          if (model.status !== 'Suspended' && model.status !== 'Running') {
            const ctx = ctxAt(1000);
            expect(errorOf(() => applySignal(inst, version, { key: `${nameOf(specs, model.index)}.ApprovalStatus`, data: { Approved: true }, actor: actorOf(1, specs) }, ctx))).toBe('InstanceWrongState');
            expect(errorOf(() => stopInstance(inst, actorOf(1, specs), ctx))).toBe('InstanceWrongState');
            if (model.status === 'Failed') expect(cancelForRestart(inst, 'again', actorOf(1, specs), ctx).instance.status).toBe('CanceledForRestart');
            else expect(errorOf(() => cancelForRestart(inst, 'again', actorOf(1, specs), ctx))).toBe('InstanceWrongState');
            expect(reconcile(inst, version, ctx)).toBeNull();
            expect(completeRun(inst, version, { step: nameOf(specs, model.index), ok: true }, ctx)).toBeNull();
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('focused transitions', () => {
  const spec = (kind: Kind, extra: Partial<Spec> = {}): Spec => ({ kind, enabled: true, conditions: [], m: 1, d: 1, ...extra });

  it('ExpirationRenewal fails the instance, saying no CA connector is configured', () => {
    const specs = [spec('RequireApproval'), spec('ExpirationRenewal')];
    const { t, version } = start(specs, 'true', false, 'Expiration');
    const r = applySignal(t.instance, version, { key: 'Step1.ApprovalStatus', data: { Approved: 'True' }, actor: actorOf(1, specs) }, ctxAt(1));
    expect(r.instance).toMatchObject({ status: 'Failed', currentStep: 'Step2', pendingRoleIds: [] });
    expect(r.instance.statusMessage).toContain('no CA connector is configured');
    expect(histStr(r.history)).toEqual(['SignalReceived@Step1', 'Approved@Step1', 'StepEntered@Step2', 'Failed@Step2']);
  });

  it('stop only from Suspended or Running, ending Rejected; a result that arrives later is ignored', () => {
    const { t: suspended } = start([spec('RequireApproval')], 'true', false, 'Enrollment');
    const stopped = stopInstance(suspended.instance, actorOf(5, []), ctxAt(1));
    expect(stopped.instance).toMatchObject({ status: 'Rejected', statusMessage: 'Stopped by CORP\\user5.', pendingRoleIds: [], lastModified: at(1) });
    expect(histStr(stopped.history)).toEqual(['Stopped@Step1']);
    const { t: complete } = start([], 'true', false, 'Enrollment');
    expect(complete.instance.status).toBe('Complete');
    expect(errorOf(() => stopInstance(complete.instance, actorOf(5, []), ctxAt(1)))).toBe('InstanceWrongState');
    const { t: running, version: runningVersion } = start([spec('Email')], 'true', false, 'Enrollment');
    expect(running.instance.status).toBe('Running');
    const stoppedRunning = stopInstance(running.instance, actorOf(5, []), ctxAt(1));
    expect(stoppedRunning.instance).toMatchObject({ status: 'Rejected', statusMessage: 'Stopped by CORP\\user5.' });
    expect(completeRun(stoppedRunning.instance, runningVersion, { step: 'Step1', ok: true, variables: { late: 1 } }, ctxAt(2))).toBeNull();
    expect(errorOf(() => stopInstance(stopped.instance, actorOf(5, []), ctxAt(2)))).toBe('InstanceWrongState');
  });

  it('cancelForRestart only from Failed or Suspended', () => {
    const { t: suspended } = start([spec('RequireApproval')], 'true', false, 'Enrollment');
    expect(cancelForRestart(suspended.instance, 'n1', actorOf(5, []), ctxAt(1)).instance).toMatchObject({ status: 'CanceledForRestart', restartedTo: 'n1' });
    const { t: failed } = start([spec('ExpirationRenewal')], 'true', false, 'Expiration');
    expect(failed.instance.status).toBe('Failed');
    const canceled = cancelForRestart(failed.instance, 'n2', actorOf(5, []), ctxAt(1));
    expect(canceled.instance).toMatchObject({ status: 'CanceledForRestart', restartedTo: 'n2' });
    expect(errorOf(() => cancelForRestart(canceled.instance, 'n3', actorOf(5, []), ctxAt(2)))).toBe('InstanceWrongState');
    const { t: running } = start([spec('Email')], 'true', false, 'Enrollment');
    expect(errorOf(() => cancelForRestart(running.instance, 'n4', actorOf(5, []), ctxAt(1)))).toBe('InstanceWrongState');
    const { t: complete } = start([spec('RequireApproval', { enabled: false })], 'true', false, 'Enrollment');
    expect(complete.instance.status).toBe('Complete');
    expect(errorOf(() => cancelForRestart(complete.instance, 'n5', actorOf(5, []), ctxAt(1)))).toBe('InstanceWrongState');
  });

  it('a restarted instance records where it came from', () => {
    const version = buildVersion([spec('RequireApproval')]);
    const t = startInstance(
      { id: 'n1', referenceId: 2, definition: { id: 'def-1', displayName: 'D', workflowType: 'Enrollment' }, version, title: null, initialData: {}, initiator: null, restartedFrom: 'old-1' },
      ctxAt(5),
    );
    expect(t.instance.restartedFrom).toBe('old-1');
    expect(histStr(t.history).slice(0, 2)).toEqual(['Started@null', 'RestartedFrom@null']);
  });

  it('condition tokens are resolved against variables set earlier in the same run', () => {
    // The Email run's variables reach the condition of the approval after it.
    const specs = [spec('Email'), spec('RequireApproval', { conditions: ['$(NeedsApproval)'] })];
    const { t, version } = start(specs, 'true', false, 'Enrollment');
    const yes = completeRun(t.instance, version, { step: 'Step1', ok: true, variables: { NeedsApproval: ' True ' } }, ctxAt(1))!;
    expect(yes.instance).toMatchObject({ status: 'Suspended', currentStep: 'Step2' });
    const no = completeRun(t.instance, version, { step: 'Step1', ok: true, variables: { NeedsApproval: 'False' } }, ctxAt(1))!;
    expect(no.instance).toMatchObject({ status: 'Complete', currentStep: 'EndNOOP' });
    expect(histStr(no.history)).toContain('StepSkipped@Step2');
  });
});

function buildVersion(specs: Spec[]): DefinitionVersion {
  return deepFreeze({ definitionId: 'def-1', version: 1, steps: buildSteps(specs, false), frozen: true });
}
