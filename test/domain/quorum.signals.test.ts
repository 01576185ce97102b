import { describe, expect, it } from 'vitest';
import { applySignal } from '../../src/domain/engine.ts';
import type { Json } from '../../src/domain/types.ts';
import { CountersignError } from '../../src/domain/errors.ts';
import { deepFreeze, errorOf } from '../support/engine.ts';
import { NEXT_ROLE, ctxAt, versionFor, started, APPROVE_SPELLINGS, DENY_SPELLINGS, inputOf, type Thresholds } from './quorum-model.ts';

/* RequireApproval signal checks: what a signal may carry and who may send it. */

describe('RequireApproval signal checks', () => {
  const t: Thresholds = { m: 2, d: 2, style: 'number', afterGate: 'approval' };
  const version = versionFor(t);

  it('accepts Approved as a boolean or "True"/"False" in any case, and nothing else', () => {
    for (const spelling of [...APPROVE_SPELLINGS, ...DENY_SPELLINGS]) {
      const r = applySignal(
        started(version),
        version,
        { ...inputOf({ who: 1, approve: true, spelling: 0, lowerKey: false, comment: null }), data: { Approved: spelling } },
        ctxAt(1),
      );
      expect(r.instance.signals[0].data.Approved).toBe(APPROVE_SPELLINGS.includes(spelling));
    }
    for (const bad of ['yes', 'no', 1, 0, null, '', 'truee', ['true']] as Json[]) {
      const inst = started(version);
      expect(
        errorOf(() => applySignal(inst, version, { ...inputOf({ who: 1, approve: true, spelling: 0, lowerKey: false, comment: null }), data: { Approved: bad } }, ctxAt(1))),
      ).toBe('SignalInvalid');
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
