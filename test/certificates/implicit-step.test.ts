import { describe, expect, it } from 'vitest';
import { completeRun, startInstance, type EngineContext } from '../../src/domain/engine.ts';
import type { DefinitionVersion, StepDef } from '../../src/domain/types.ts';
import { defaultRegistry } from '../../src/steps/index.ts';

/* The engine's hook for step types added at the end (EnrollStep), on the pure core. */

const noop = (uniqueName: string, next?: string): StepDef => ({
  id: uniqueName,
  extensionName: 'NOOPStep',
  uniqueName,
  displayName: uniqueName,
  enabled: true,
  config: {},
  signals: [],
  conditions: [],
  outputs: next ? { continue: next } : {},
});
const version: DefinitionVersion = { definitionId: 'd', version: 1, steps: [noop('Start', 'End'), noop('End')], frozen: true };
const ctx: EngineContext = { now: '2026-01-01T00:00:00.000Z', registry: defaultRegistry() };
// The request an instance is for is the server's record (trusted data), never the requester's InitialData.
const start = (workflowType: string, trustedData: Record<string, number | string>) =>
  startInstance({ id: 'i', referenceId: 1, definition: { id: 'd', displayName: 'D', workflowType }, version, title: null, initialData: {}, trustedData, initiator: null }, ctx);

describe('implicit EnrollStep at the end of an Enrollment workflow', () => {
  it('runs before completing when the instance carries a request, then completes', () => {
    const t = start('Enrollment', { KeyfactorRequestId: 7 });
    expect(t.instance.status).toBe('Running');
    expect(t.instance.currentStep).toBe('EnrollStep_Implicit');
    expect(t.effects).toEqual([{ type: 'runStep', instanceId: 'i', step: 'EnrollStep_Implicit', stepId: expect.any(String) }]);
    const done = completeRun(t.instance, version, { step: 'EnrollStep_Implicit', ok: true, message: 'Issued.' }, ctx)!;
    expect(done.instance.status).toBe('Complete');
    expect(done.history.map((h) => h.kind)).toEqual(['StepCompleted', 'Completed']);
  });

  it('leaves no trace without a request (a KeyfactorRequestId in InitialData is not one), and never runs in other workflow types', () => {
    const forged = startInstance(
      {
        id: 'i',
        referenceId: 1,
        definition: { id: 'd', displayName: 'D', workflowType: 'Enrollment' },
        version,
        title: null,
        initialData: { KeyfactorRequestId: 7 },
        initiator: null,
      },
      ctx,
    );
    expect(forged.instance.status).toBe('Complete');
    expect(forged.effects).toEqual([]);
    for (const [type, data] of [
      ['Enrollment', { cn: 'x' }],
      ['Revocation', { KeyfactorRequestId: 7 }],
    ] as const) {
      const t = start(type, data);
      expect(t.instance.status).toBe('Complete');
      expect(t.instance.currentStep).toBe('End');
      expect(t.effects).toEqual([]);
      expect(t.history.some((h) => h.step === 'EnrollStep_Implicit')).toBe(false);
    }
  });

  it('is not added when the definition has its own EnrollStep', () => {
    const own: DefinitionVersion = { ...version, steps: [noop('Start', 'Enroll'), { ...noop('Enroll', 'End'), extensionName: 'EnrollStep' }, noop('End')] };
    const t = startInstance(
      {
        id: 'i',
        referenceId: 1,
        definition: { id: 'd', displayName: 'D', workflowType: 'Enrollment' },
        version: own,
        title: null,
        initialData: {},
        trustedData: { KeyfactorRequestId: 7 },
        initiator: null,
      },
      ctx,
    );
    expect(t.instance.currentStep).toBe('Enroll');
    const done = completeRun(t.instance, own, { step: 'Enroll', ok: true }, ctx)!;
    expect(done.instance.status).toBe('Complete');
    expect(done.effects).toEqual([]);
  });
});
