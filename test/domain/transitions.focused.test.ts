import { describe, expect, it } from 'vitest';
import { applySignal, cancelForRestart, completeRun, startInstance, stopInstance } from '../../src/domain/engine.ts';
import { at, errorOf } from '../support/engine.ts';
import { ctxAt, histStr, actorOf, start, buildVersion, FAIL_MESSAGE, type Kind, type Spec } from './transitions-model.ts';

/* Single transitions the random walks reach rarely (see transitions.property.test.ts). */

describe('focused transitions', () => {
  const spec = (kind: Kind, extra: Partial<Spec> = {}): Spec => ({ kind, enabled: true, conditions: [], m: 1, d: 1, ...extra });

  it('a step that fails on entering fails the instance with its message, right after an approval', () => {
    const specs = [spec('RequireApproval'), spec('FailOnEnter')];
    const { t, version } = start(specs, 'true', false, 'Expiration');
    const r = applySignal(t.instance, version, { key: 'Step1.ApprovalStatus', data: { Approved: 'True' }, actor: actorOf(1, specs) }, ctxAt(1));
    expect(r.instance).toMatchObject({ status: 'Failed', currentStep: 'Step2', pendingRoleIds: [] });
    expect(r.instance.statusMessage).toContain(FAIL_MESSAGE);
    expect(histStr(r.history)).toEqual(['SignalReceived@Step1', 'Approved@Step1', 'StepEntered@Step2', 'Failed@Step2']);
  });

  it('ExpirationRenewal is automatic: entering it queues its run', () => {
    const version = buildVersion([]);
    const steps = version.steps.map((s) => (s.uniqueName === 'EndNOOP' ? s : { ...s, outputs: { continue: 'Renew' } }));
    const renew = { ...version.steps[0]!, id: 'r', uniqueName: 'Renew', displayName: 'Renew', extensionName: 'ExpirationRenewal', config: {}, outputs: { continue: 'EndNOOP' } };
    const t = startInstance(
      {
        id: 'e1',
        referenceId: 3,
        definition: { id: 'def-1', displayName: 'D', workflowType: 'Expiration' },
        version: { ...version, steps: [...steps, renew] },
        title: null,
        initialData: {},
        initiator: null,
      },
      ctxAt(0),
    );
    expect(t.instance).toMatchObject({ status: 'Running', currentStep: 'Renew' });
    expect(t.effects.map((e) => `${e.type}@${e.step}`)).toEqual(['runStep@Renew']);
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
    const { t: failed } = start([spec('FailOnEnter')], 'true', false, 'Expiration');
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
      {
        id: 'n1',
        referenceId: 2,
        definition: { id: 'def-1', displayName: 'D', workflowType: 'Enrollment' },
        version,
        title: null,
        initialData: {},
        initiator: null,
        restartedFrom: 'old-1',
      },
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
