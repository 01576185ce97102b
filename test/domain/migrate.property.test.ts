import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applySignal, migrateInstance } from '../../src/domain/engine.ts';
import type { Instance } from '../../src/domain/types.ts';
import { ctxAt, expectedOutcome, inputOf, sigArb, started, thresholdsArb, versionFor, type Sig } from './quorum-model.ts';

/*
 * Migrate keeps the decisions recorded at the waiting step and re-decides them under the new
 * version's thresholds: the result is what those decisions mean under the new thresholds.
 */
describe('migrating a waiting instance', () => {
  it('re-decides the recorded decisions under the new thresholds, in the same transition', () => {
    fc.assert(
      fc.property(thresholdsArb, thresholdsArb, fc.array(sigArb, { maxLength: 12 }), (t1, t2, sigs) => {
        const v1 = versionFor(t1);
        const v2 = { ...versionFor({ ...t2, afterGate: t1.afterGate }), version: v1.version + 1 };
        let inst: Instance = started(v1);
        const accepted: Sig[] = [];
        for (const [i, s] of sigs.entries()) {
          if (inst.status !== 'Suspended' || inst.currentStep !== 'Gate') break;
          try {
            inst = applySignal(inst, v1, inputOf(s), ctxAt(i + 1)).instance;
            accepted.push(s);
          } catch {
            // refused: nothing changed
          }
        }
        fc.pre(inst.status === 'Suspended' && inst.currentStep === 'Gate');
        const first = new Map<number, boolean>();
        for (const s of accepted) if (!first.has(s.who)) first.set(s.who, s.approve);
        const approvals = [...first.values()].filter((x) => x).length;
        const denials = first.size - approvals;
        const want = denials >= t2.d ? 'reject' : approvals >= t2.m ? 'continue' : 'pending';
        const t = migrateInstance(inst, v1, v2, {}, { identityId: 1, accountName: 'admin', roleIds: [] }, ctxAt(50));
        expect(t.instance.definitionVersion).toBe(v2.version);
        expect(t.history[0]!.kind).toBe('Migrated');
        if (want === 'reject') expect(t.instance.status).toBe('Rejected');
        else if (want === 'pending') {
          expect(t.instance).toMatchObject({ status: 'Suspended', currentStep: 'Gate' });
          expect(t.instance.signals.length).toBe(inst.signals.length);
          // Same step name: the deadlines and mail of the first wait stand; nothing is queued twice.
          expect(t.effects).toEqual([]);
        } else expect(t.instance.currentStep).not.toBe('Gate');
        // Under the old thresholds the same decisions were still pending.
        expect(expectedOutcome(accepted, t1.m, t1.d)).toBe('pending');
      }),
      { numRuns: 300 },
    );
  });
});
