import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applySignal, reconcile } from '../../src/domain/engine.ts';
import type { DefinitionVersion, HistoryEntry, Instance, RecordedSignal } from '../../src/domain/types.ts';
import { at, deepFreeze, errorOf } from '../support/engine.ts';
import { tally } from '../../src/steps/require-approval/require-approval.ts';
import { GATE_ROLE, POOL, ctxAt, versionFor, started, sigArb, thresholdsArb, inputOf, expectedOutcome, expectContinued, type Sig } from './quorum-model.ts';

/*
 * Quorum semantics of RequireApproval, driven through the pure engine: an instance suspended at
 * 'Gate' receives random ApprovalStatus signals from a small pool of identities.
 */

describe('RequireApproval quorum under random signal sequences', () => {
  it('leaves the step at most once, exactly when a threshold is crossed first; repeats and changes are handled purely', () => {
    fc.assert(
      fc.property(thresholdsArb, fc.array(sigArb, { maxLength: 24 }), (t, sigs) => {
        const version = versionFor(t);
        let inst = started(version);
        const log: HistoryEntry[] = [];
        const decided = new Map<number, boolean>();
        let left: 'continue' | 'reject' | null = null;

        sigs.forEach((s, i) => {
          const ctx = ctxAt(i + 1);
          const before = structuredClone(inst);
          const input = inputOf(s);
          if (left !== null) {
            // After leaving the gate, a late signal for it is refused and changes nothing.
            expect(errorOf(() => applySignal(inst, version, input, ctx))).toBe(left === 'reject' || t.afterGate === 'end' ? 'InstanceWrongState' : 'SignalNotCurrentStep');
            expect(inst).toEqual(before);
            return;
          }
          const previous = decided.get(s.who);
          if (previous !== undefined && previous !== s.approve) {
            expect(errorOf(() => applySignal(inst, version, input, ctx))).toBe('SignalDecisionChanged');
            expect(inst).toEqual(before);
            return;
          }
          const r = applySignal(inst, version, input, ctx);
          expect(inst).toEqual(before); // the input instance is untouched (and it is frozen)
          expect(r.instance.lastModified).toBe(ctx.now);
          for (const h of r.history) expect(h.at).toBe(ctx.now);
          log.push(...r.history);

          if (previous !== undefined) {
            expect(r.duplicate).toBe(true);
            expect(r.history.map((h) => h.kind)).toEqual(['SignalRepeated']);
            expect(r.instance.signals).toEqual(inst.signals);
            expect(tally(r.instance.signals)).toEqual(tally(inst.signals));
            expect({ ...r.instance, lastModified: inst.lastModified }).toEqual(inst);
            inst = deepFreeze(r.instance);
            return;
          }
          expect(r.duplicate).toBe(false);
          decided.set(s.who, s.approve);
          const approvals = [...decided.values()].filter((x) => x).length;
          const denials = decided.size - approvals;
          if (denials >= t.d) {
            left = 'reject';
            expect(r.instance).toMatchObject({ status: 'Rejected', currentStep: 'Gate', pendingRoleIds: [] });
            expect(r.history.map((h) => h.kind)).toEqual(['SignalReceived', 'Rejected']);
          } else if (approvals >= t.m) {
            left = 'continue';
            expectContinued(r.instance, t, ctx.now);
            expect(r.history.slice(0, 2).map((h) => h.kind)).toEqual(['SignalReceived', 'Approved']);
          } else {
            expect(r.instance).toMatchObject({ status: 'Suspended', currentStep: 'Gate', pendingRoleIds: [GATE_ROLE] });
            expect(r.history.map((h) => h.kind)).toEqual(['SignalReceived']);
            expect(tally(r.instance.signals)).toEqual({ approvals, denials });
            expect(r.instance.statusMessage).toContain(`${approvals} of ${t.m}`);
          }
          inst = deepFreeze(r.instance);
          // Signals already applied leave nothing for the reconciler.
          if (inst.status === 'Suspended') expect(reconcile(inst, version, ctx)).toBeNull();
        });

        const outcome = expectedOutcome(sigs, t.m, t.d);
        expect(left ?? 'pending').toBe(outcome);
        const leaving = log.filter((h) => h.step === 'Gate' && (h.kind === 'Approved' || h.kind === 'Rejected'));
        expect(leaving).toHaveLength(outcome === 'pending' ? 0 : 1);
        if (outcome === 'pending') expect(inst).toMatchObject({ status: 'Suspended', currentStep: 'Gate' });
        if (outcome === 'reject') expect(inst.status).toBe('Rejected');
        if (outcome === 'continue') expect(inst.currentStep).toBe(t.afterGate === 'end' ? 'EndNOOP' : 'Next');
      }),
      { numRuns: 400 },
    );
  });

  it('the order of distinct decisions does not change the result when at most one threshold is ever reached', () => {
    const distinct = fc.uniqueArray(fc.record({ who: fc.integer({ min: 1, max: 7 }), approve: fc.boolean() }), { selector: (s) => s.who, maxLength: 7 });
    const arb = fc
      .tuple(thresholdsArb, distinct)
      .filter(([t, ds]) => !(ds.filter((s) => s.approve).length >= t.m && ds.filter((s) => !s.approve).length >= t.d))
      .chain(([t, ds]) => fc.tuple(fc.constant(t), fc.constant(ds), fc.shuffledSubarray(ds, { minLength: ds.length, maxLength: ds.length })));

    const run = (version: DefinitionVersion, order: { who: number; approve: boolean }[]): Instance => {
      let inst = started(version);
      order.forEach((s, i) => {
        if (inst.currentStep !== 'Gate' || inst.status !== 'Suspended') return;
        inst = deepFreeze(applySignal(inst, version, inputOf({ ...s, spelling: 0, lowerKey: false, comment: null }), ctxAt(i + 1)).instance);
      });
      return inst;
    };

    fc.assert(
      fc.property(arb, ([t, ds, shuffled]) => {
        const version = versionFor(t);
        const a = run(version, ds);
        const b = run(version, shuffled);
        expect(b.status).toBe(a.status);
        expect(b.currentStep).toBe(a.currentStep);
        expect(b.pendingRoleIds).toEqual(a.pendingRoleIds);
        const outcome = expectedOutcome(
          ds.map((s) => ({ ...s, spelling: 0, lowerKey: false, comment: null })),
          t.m,
          t.d,
        );
        expect(a.status).toBe(outcome === 'reject' ? 'Rejected' : outcome === 'pending' ? 'Suspended' : t.afterGate === 'end' ? 'Complete' : 'Suspended');
        if (outcome === 'pending') {
          expect(tally(b.signals)).toEqual(tally(a.signals));
          expect(b.statusMessage).toBe(a.statusMessage);
          const byWho = (x: RecordedSignal, y: RecordedSignal) => x.identityId - y.identityId;
          expect([...b.signals].sort(byWho).map((s) => [s.identityId, s.data.Approved])).toEqual([...a.signals].sort(byWho).map((s) => [s.identityId, s.data.Approved]));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reconcile on a state whose recorded signals already decide the step advances exactly like applySignal', () => {
    // A reachable undecided prefix (approvals < m, denials < d) plus one deciding signal.
    const arb = thresholdsArb.chain((t) =>
      fc.boolean().chain((finalApprove) =>
        fc
          .tuple(finalApprove ? fc.constant(t.m - 1) : fc.integer({ min: 0, max: t.m - 1 }), finalApprove ? fc.integer({ min: 0, max: t.d - 1 }) : fc.constant(t.d - 1))
          .chain(([a, r]) => {
            const decisions = [...Array<boolean>(a).fill(true), ...Array<boolean>(r).fill(false)];
            return fc.tuple(
              fc.constant(t),
              fc.constant(finalApprove),
              fc.shuffledSubarray(decisions, { minLength: decisions.length, maxLength: decisions.length }),
              fc.option(fc.string({ maxLength: 12 }), { nil: null }),
            );
          }),
      ),
    );

    fc.assert(
      fc.property(arb, ([t, finalApprove, prefix, comment]) => {
        const version = versionFor(t);
        let inst = started(version);
        expect(reconcile(inst, version, ctxAt(0))).toBeNull();
        prefix.forEach((approve, i) => {
          inst = deepFreeze(applySignal(inst, version, inputOf({ who: i + 1, approve, spelling: 0, lowerKey: false, comment: null }), ctxAt(i + 1)).instance);
          expect(inst.status).toBe('Suspended');
          expect(reconcile(inst, version, ctxAt(i + 1))).toBeNull();
        });

        const ctx = ctxAt(100);
        const last: Sig = { who: prefix.length + 1, approve: finalApprove, spelling: 0, lowerKey: false, comment };
        const recorded: RecordedSignal = {
          step: 'Gate',
          signal: 'ApprovalStatus',
          identityId: last.who,
          accountName: `CORP\\user${last.who}`,
          data: { Approved: finalApprove, Comment: comment },
          at: ctx.now,
        };
        // Built by hand: the signal is recorded but the step was never re-decided (a crash in between).
        const byHand = deepFreeze<Instance>({ ...inst, signals: [...inst.signals, recorded] });
        const viaSignal = applySignal(inst, version, inputOf(last), ctx);
        const viaReconcile = reconcile(byHand, version, ctx);
        expect(viaReconcile).not.toBeNull();
        expect(viaReconcile!.instance).toEqual(viaSignal.instance);
        expect(viaReconcile!.effects).toEqual(viaSignal.effects);
        expect(viaReconcile!.history[0]).toMatchObject({ kind: 'Reconciled', step: 'Gate', at: ctx.now });
        expect(viaSignal.history[0]).toMatchObject({ kind: 'SignalReceived', step: 'Gate' });
        expect(viaReconcile!.history.slice(1)).toEqual(viaSignal.history.slice(1));
        if (finalApprove) expectContinued(viaReconcile!.instance, t, ctx.now);
        else expect(viaReconcile!.instance.status).toBe('Rejected');
        // Once decided, nothing is left to reconcile.
        expect(reconcile(deepFreeze(viaReconcile!.instance), version, ctx)).toBeNull();
      }),
      { numRuns: 300 },
    );
  });
});

describe('tally over recorded signals', () => {
  const recordedArb = fc.array(
    fc.record({
      identityId: fc.integer({ min: 1, max: POOL }),
      approve: fc.boolean(),
      signal: fc.constantFrom('ApprovalStatus', 'ApprovalStatus', 'ApprovalStatus', 'Other'),
    }),
    { maxLength: 20 },
  );
  const toRecorded = (xs: { identityId: number; approve: boolean; signal: string }[]): RecordedSignal[] =>
    xs.map((x, i) => ({
      step: 'Gate',
      signal: x.signal,
      identityId: x.identityId,
      accountName: `CORP\\user${x.identityId}`,
      data: { Approved: x.approve, Comment: null },
      at: at(i),
    }));

  it('counts distinct identities per decision, ignoring other signals', () => {
    fc.assert(
      fc.property(recordedArb, (xs) => {
        const ours = xs.filter((x) => x.signal === 'ApprovalStatus');
        expect(tally(toRecorded(xs))).toEqual({
          approvals: new Set(ours.filter((x) => x.approve).map((x) => x.identityId)).size,
          denials: new Set(ours.filter((x) => !x.approve).map((x) => x.identityId)).size,
        });
      }),
    );
  });

  it('reconcile counts an identity recorded twice (e.g. by an older store) once', () => {
    fc.assert(
      fc.property(thresholdsArb, recordedArb, (t, xs) => {
        const version = versionFor(t);
        const byHand = deepFreeze<Instance>({ ...started(version), signals: toRecorded(xs) });
        const ours = xs.filter((x) => x.signal === 'ApprovalStatus');
        const approvals = new Set(ours.filter((x) => x.approve).map((x) => x.identityId)).size;
        const denials = new Set(ours.filter((x) => !x.approve).map((x) => x.identityId)).size;
        const r = reconcile(byHand, version, ctxAt(1));
        if (denials >= t.d) expect(r?.instance.status).toBe('Rejected');
        else if (approvals >= t.m) expect(r?.instance.currentStep).toBe(t.afterGate === 'end' ? 'EndNOOP' : 'Next');
        else expect(r).toBeNull();
      }),
    );
  });
});
