import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applySignal, cancelForRestart, completeRun, reconcile, stopInstance, type Transition } from '../../src/domain/engine.ts';
import { validateSteps } from '../../src/domain/definition.ts';
import type { ErrorName } from '../../src/domain/errors.ts';
import type { HistoryEntry } from '../../src/domain/types.ts';
import { deepFreeze, errorOf } from '../support/engine.ts';
import { registry, ctxAt, roleOf, nameOf, specArb, runsAt, walk, ALLOWED, histStr, effStr, actorOf, start, expectMatchesModel, type Kind, type Flag } from './transitions-model.ts';

/*
 * Model-based tests of the engine's transitions over random linear definitions:
 * StartNOOP -> Step1 -> ... -> StepN -> EndNOOP.
 */

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
  const kinds: Kind[] = ['NOOPStep', 'RequireApproval', 'UpdateMetadata', 'Email', 'FailOnEnter'];

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
            model.status === 'Complete' ? Array.from({ length: specs.length + 1 - model.index }, (_, k) => model.index + 1 + k).map((k) => `StepSkipped@${nameOf(specs, k)}`) : [];
          expect(histStr(visits)).toEqual([...expectedVisits, ...trailingSkips]);
          expect(log.filter((h) => h.kind === 'Started')).toHaveLength(1);

          // Terminal states refuse everything that would change them.
          if (model.status !== 'Suspended' && model.status !== 'Running') {
            const ctx = ctxAt(1000);
            expect(
              errorOf(() => applySignal(inst, version, { key: `${nameOf(specs, model.index)}.ApprovalStatus`, data: { Approved: true }, actor: actorOf(1, specs) }, ctx)),
            ).toBe('InstanceWrongState');
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
