import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applySignal, reconcile, startInstance, type EngineContext, type SignalInput } from '../../src/domain/engine.ts';
import type { DefinitionVersion, HistoryEntry, Instance, Json, JsonObject, RecordedSignal, StepDef } from '../../src/domain/types.ts';
import { defaultRegistry } from '../../src/steps/index.ts';
import { CountersignError } from '../../src/domain/errors.ts';
import { at, deepFreeze, errorOf, step } from '../support/engine.ts';
import { tally } from '../../src/steps/require-approval/require-approval.ts';

/*
 * Quorum semantics of RequireApproval, driven through the pure engine: an instance suspended at
 * 'Gate' receives random ApprovalStatus signals from a small pool of identities.
 */

const registry = defaultRegistry();
const GATE_ROLE = 7;
const NEXT_ROLE = 8;
const POOL = 5;

const ctxAt = (n: number): EngineContext => ({ now: at(n), registry });


interface Thresholds {
  m: number;
  d: number;
  /** How the thresholds are written in the configuration: numbers, numeric strings, or left to the default (1). */
  style: 'number' | 'string' | 'defaultWhenOne';
  /** What follows the gate: the end (the instance completes) or a second approval step (it suspends there). */
  afterGate: 'end' | 'approval';
}

function configOf(t: Thresholds): JsonObject {
  const write = (name: string, n: number): JsonObject => {
    if (t.style === 'defaultWhenOne' && n === 1) return {};
    return { [name]: t.style === 'string' ? ` ${n} ` : n };
  };
  return { ...write('MinimumApprovals', t.m), ...write('DenialsToReject', t.d) };
}

function versionFor(t: Thresholds): DefinitionVersion {
  const approvalSignals = (role: number) => [{ name: 'ApprovalStatus', roleIds: [role], roleTokens: [] }];
  const steps: StepDef[] = [
    step('StartNOOP', 'NOOPStep', 'Gate'),
    step('Gate', 'RequireApproval', t.afterGate === 'end' ? 'EndNOOP' : 'Next', { config: configOf(t), signals: approvalSignals(GATE_ROLE) }),
    ...(t.afterGate === 'approval' ? [step('Next', 'RequireApproval', 'EndNOOP', { signals: approvalSignals(NEXT_ROLE) })] : []),
    step('EndNOOP', 'NOOPStep', null),
  ];
  return deepFreeze({ definitionId: 'def-1', version: 3, steps, frozen: true });
}

function started(version: DefinitionVersion): Instance {
  const t = startInstance(
    {
      id: 'inst-1',
      referenceId: 1,
      definition: { id: 'def-1', displayName: 'Quorum', workflowType: 'Enrollment' },
      version,
      title: 'quorum',
      initialData: { cn: 'www.example.com' },
      initiator: { identityId: 99, accountName: 'CORP\\requester' },
    },
    ctxAt(0),
  );
  expect(t.instance).toMatchObject({ status: 'Suspended', currentStep: 'Gate', pendingRoleIds: [GATE_ROLE], signals: [] });
  return deepFreeze(t.instance);
}

interface Sig {
  who: number;
  approve: boolean;
  /** index into the spellings of the decision */
  spelling: number;
  lowerKey: boolean;
  comment: string | null;
}

const APPROVE_SPELLINGS: Json[] = [true, 'True', 'true', 'TRUE', ' tRuE '];
const DENY_SPELLINGS: Json[] = [false, 'False', 'false', 'FALSE', ' fAlSe '];

const sigArb: fc.Arbitrary<Sig> = fc.record({
  who: fc.integer({ min: 1, max: POOL }),
  approve: fc.boolean(),
  spelling: fc.nat({ max: 4 }),
  lowerKey: fc.boolean(),
  comment: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
});

const thresholdsArb: fc.Arbitrary<Thresholds> = fc.record({
  m: fc.integer({ min: 1, max: 4 }),
  d: fc.integer({ min: 1, max: 4 }),
  style: fc.constantFrom('number' as const, 'string' as const, 'defaultWhenOne' as const),
  afterGate: fc.constantFrom('end' as const, 'approval' as const),
});

function inputOf(s: Sig, stepName = 'Gate'): SignalInput {
  const decision = (s.approve ? APPROVE_SPELLINGS : DENY_SPELLINGS)[s.spelling];
  const data: JsonObject = s.lowerKey ? { approved: decision } : { Approved: decision };
  if (s.comment !== null) data[s.lowerKey ? 'comment' : 'Comment'] = s.comment;
  return deepFreeze({
    key: `${stepName}.ApprovalStatus`,
    data,
    actor: { identityId: s.who, accountName: `CORP\\user${s.who}`, roleIds: [GATE_ROLE, NEXT_ROLE] },
  });
}

/** The specification, independent of the engine: which threshold the distinct first decisions cross first. */
function expectedOutcome(sigs: Sig[], m: number, d: number): 'continue' | 'reject' | 'pending' {
  const first = new Map<number, boolean>();
  for (const s of sigs) {
    if (first.has(s.who)) continue; // a repeat counts once; a changed decision is refused
    first.set(s.who, s.approve);
    const decisions = [...first.values()];
    if (decisions.filter((x) => !x).length >= d) return 'reject';
    if (decisions.filter((x) => x).length >= m) return 'continue';
  }
  return 'pending';
}

function expectContinued(inst: Instance, t: Thresholds, now: string): void {
  if (t.afterGate === 'end') {
    expect(inst).toMatchObject({ status: 'Complete', currentStep: 'EndNOOP', pendingRoleIds: [], signals: [] });
  } else {
    // The next approval step starts a fresh visit: its own roles, no signals carried over.
    expect(inst).toMatchObject({ status: 'Suspended', currentStep: 'Next', pendingRoleIds: [NEXT_ROLE], signals: [] });
  }
  expect(inst.lastModified).toBe(now);
  expect(typeof inst.stateData['approval signal cmnts']).toBe('string');
}

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
        const outcome = expectedOutcome(ds.map((s) => ({ ...s, spelling: 0, lowerKey: false, comment: null })), t.m, t.d);
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
          .tuple(
            finalApprove ? fc.constant(t.m - 1) : fc.integer({ min: 0, max: t.m - 1 }),
            finalApprove ? fc.integer({ min: 0, max: t.d - 1 }) : fc.constant(t.d - 1),
          )
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
    xs.map((x, i) => ({ step: 'Gate', signal: x.signal, identityId: x.identityId, accountName: `CORP\\user${x.identityId}`, data: { Approved: x.approve, Comment: null }, at: at(i) }));

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

describe('RequireApproval signal checks', () => {
  const t: Thresholds = { m: 2, d: 2, style: 'number', afterGate: 'approval' };
  const version = versionFor(t);

  it('accepts Approved as a boolean or "True"/"False" in any case, and nothing else', () => {
    for (const spelling of [...APPROVE_SPELLINGS, ...DENY_SPELLINGS]) {
      const r = applySignal(started(version), version, { ...inputOf({ who: 1, approve: true, spelling: 0, lowerKey: false, comment: null }), data: { Approved: spelling } }, ctxAt(1));
      expect(r.instance.signals[0].data.Approved).toBe(APPROVE_SPELLINGS.includes(spelling));
    }
    for (const bad of ['yes', 'no', 1, 0, null, '', 'truee', ['true']] as Json[]) {
      const inst = started(version);
      expect(errorOf(() => applySignal(inst, version, { ...inputOf({ who: 1, approve: true, spelling: 0, lowerKey: false, comment: null }), data: { Approved: bad } }, ctxAt(1)))).toBe('SignalInvalid');
    }
  });

  it('accepts a comment of 500 characters and refuses 501', () => {
    const inst = started(version);
    const ok = applySignal(inst, version, inputOf({ who: 1, approve: true, spelling: 0, lowerKey: false, comment: 'x'.repeat(500) }), ctxAt(1));
    expect(ok.instance.signals).toHaveLength(1);
    expect(errorOf(() => applySignal(inst, version, inputOf({ who: 1, approve: true, spelling: 0, lowerKey: false, comment: 'x'.repeat(501) }), ctxAt(1)))).toBe('SignalInvalid');
  });

  it('refuses a signal from an identity without the step role, and a changed decision, without changing the instance', () => {
    const inst = started(version);
    const outsider = { ...inputOf({ who: 1, approve: true, spelling: 0, lowerKey: false, comment: null }), actor: { identityId: 1, accountName: 'CORP\\x', roleIds: [NEXT_ROLE] } };
    expect(errorOf(() => applySignal(inst, version, outsider, ctxAt(1)))).toBe('Forbidden');
    const once = deepFreeze(applySignal(inst, version, inputOf({ who: 1, approve: true, spelling: 0, lowerKey: false, comment: null }), ctxAt(1)).instance);
    const snapshot = structuredClone(once);
    let thrown: unknown;
    try {
      applySignal(once, version, inputOf({ who: 1, approve: false, spelling: 3, lowerKey: true, comment: 'changed my mind' }), ctxAt(2));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CountersignError);
    expect((thrown as CountersignError).errorName).toBe('SignalDecisionChanged');
    expect(once).toEqual(snapshot);
  });

  it('after the gate approves, the next approval step is signalable by its own role', () => {
    let inst = started(version);
    inst = applySignal(inst, version, inputOf({ who: 1, approve: true, spelling: 0, lowerKey: false, comment: 'ok' }), ctxAt(1)).instance;
    const r = applySignal(inst, version, inputOf({ who: 2, approve: true, spelling: 0, lowerKey: false, comment: null }), ctxAt(2));
    expect(r.instance).toMatchObject({ status: 'Suspended', currentStep: 'Next', pendingRoleIds: [NEXT_ROLE] });
    expect(r.history.map((h) => `${h.kind}@${h.step}`)).toEqual(['SignalReceived@Gate', 'Approved@Gate', 'StepEntered@Next', 'Suspended@Next']);
    expect(r.instance.stateData['approval signal cmnts']).toBe('CORP\\user1: ok');
    const done = applySignal(r.instance, version, { ...inputOf({ who: 3, approve: true, spelling: 0, lowerKey: false, comment: null }, 'Next') }, ctxAt(3));
    expect(done.instance.status).toBe('Complete');
  });
});
