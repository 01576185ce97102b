import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applySignal } from '../../src/domain/engine.ts';
import { explainInstance, signalOutcome } from '../../src/domain/explain.ts';
import type { Instance } from '../../src/domain/types.ts';
import { GATE_ROLE, POOL, ctxAt, expectedOutcome, inputOf, sigArb, started, thresholdsArb, versionFor, type Sig } from './quorum-model.ts';

/*
 * Explain and the decisive signal answer are pure readings of the engine's state: under random
 * signal sequences they must agree with the quorum specification (quorum-model.ts).
 */

const people = Array.from({ length: POOL }, (_, i) => ({ id: i + 1, accountName: `CORP\\user${i + 1}` }));
const roles = [{ id: GATE_ROLE, name: 'Gate approvers', members: [...people, { id: 99, accountName: 'CORP\\requester' }] }];

describe('Explain under random signal sequences', () => {
  it('counts what the quorum counts, names who may still act, and the signal answer says whether the step moved', () => {
    fc.assert(
      fc.property(thresholdsArb, fc.array(sigArb, { maxLength: 16 }), (t, sigs) => {
        const version = versionFor(t);
        let inst: Instance = started(version);
        const accepted: Sig[] = [];
        sigs.forEach((s, i) => {
          const ctx = ctxAt(i + 1);
          let r: ReturnType<typeof applySignal>;
          try {
            r = applySignal(inst, version, inputOf(s), ctx);
          } catch {
            return; // refusals change nothing; the quorum tests cover them
          }
          accepted.push(s);
          const outcome = signalOutcome('Gate', r.instance, r.duplicate, version, ctx);
          const expected = expectedOutcome(accepted, t.m, t.d);
          if (r.duplicate) expect(outcome.outcome).toBe('Repeated');
          else expect(outcome.outcome).toBe(expected === 'pending' ? 'Recorded' : 'Advanced');
          expect(outcome.status).toBe(r.instance.status);
          inst = r.instance;
        });

        const e = explainInstance({ instance: inst, version, history: [], roles, queued: [] }, ctxAt(100));
        const expected = expectedOutcome(accepted, t.m, t.d);
        if (expected !== 'pending') {
          expect(e.wait === null || e.step?.uniqueName !== 'Gate').toBe(true);
          return;
        }
        const first = new Map<number, boolean>();
        for (const s of accepted) if (!first.has(s.who)) first.set(s.who, s.approve);
        const approvals = [...first.values()].filter((x) => x).length;
        expect(e.status).toBe('Suspended');
        expect(e.wait!.counts).toEqual([
          { name: 'Approvals', required: t.m, received: approvals },
          { name: 'Denials', required: t.d, received: first.size - approvals },
        ]);
        expect(e.wait!.decisions.map((d) => d.accountName).sort()).toEqual([...first.keys()].map((w) => `CORP\\user${w}`).sort());
        // Who may still act: the role's members who have not decided, never the requester (four eyes).
        const mayAct = e.mayAct!.identities.map((p) => p.id).sort((a, b) => a - b);
        expect(mayAct).toEqual(people.map((p) => p.id).filter((id) => !first.has(id)));
        expect(e.reason).toContain(`${t.m - approvals} more approval`);
      }),
      { numRuns: 300 },
    );
  });
});
