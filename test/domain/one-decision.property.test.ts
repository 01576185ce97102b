import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applySignal } from '../../src/domain/engine.ts';
import { sentBy } from '../../src/domain/delegation.ts';
import { CountersignError } from '../../src/domain/errors.ts';
import { pendingRows } from '../../src/store/pending-approvals.ts';
import { tally } from '../../src/steps/require-approval/require-approval.ts';
import { deepFreeze } from '../support/engine.ts';
import { GATE_ROLE, POOL, ctxAt, started, versionFor } from './quorum-model.ts';

/*
 * One person, one decision per step (docs/approvals.md#delegation): a delegate who acts for several
 * approvers, or for one and for themselves, decides once. Without it, one delegate of two approvers
 * met a quorum of two alone.
 */

const person = (n: number) => ({ identityId: n, accountName: `CORP\\p${n}` });

/** Person `sender` sends a decision for seat `seat` (themselves when equal; else under a delegation). */
const send = fc.record({ sender: fc.integer({ min: 1, max: POOL }), seat: fc.integer({ min: 1, max: POOL }), approve: fc.boolean() });

describe('one decision per person per step', () => {
  it('whatever mix of own and delegated signals, no person fills two seats, and a person who decided is barred from the inbox', () => {
    fc.assert(
      fc.property(fc.array(send, { maxLength: 20 }), fc.integer({ min: 2, max: POOL }), (sends, m) => {
        const version = versionFor({ m, d: POOL, style: 'number', afterGate: 'end' });
        let inst = started(version);
        const seatOf = new Map<number, number>();
        for (const [i, s] of sends.entries()) {
          if (inst.status !== 'Suspended') break;
          const actor = { ...person(s.seat), roleIds: [GATE_ROLE], ...(s.sender === s.seat ? {} : { delegate: person(s.sender) }) };
          const input = { key: 'Gate.ApprovalStatus', data: { Approved: s.approve, Comment: null }, actor };
          let r: ReturnType<typeof applySignal> | null = null;
          try {
            r = applySignal(inst, version, input, ctxAt(i + 1));
          } catch (e) {
            if (!(e instanceof CountersignError)) throw e;
          }
          const earlier = seatOf.get(s.sender);
          // Refused exactly when the sender already decided for another seat (or changes a seat's decision).
          if (earlier !== undefined && earlier !== s.seat) expect(r).toBeNull();
          if (!r) continue;
          if (!r.duplicate) seatOf.set(s.sender, s.seat);
          inst = deepFreeze(r.instance);
        }
        const gate = inst.signals.filter((x) => x.step === 'Gate');
        // Each person sent signals for one seat only, and each seat counts once.
        for (let p = 1; p <= POOL; p++) expect(new Set(gate.filter((x) => sentBy(x, person(p))).map((x) => x.identityId)).size).toBeLessThanOrEqual(1);
        const { approvals, denials } = tally(gate);
        expect(approvals + denials).toBeLessThanOrEqual(new Set(gate.map((x) => x.by ?? x.accountName)).size);
        if (inst.status === 'Suspended') {
          const barred = pendingRows(inst).barredIds;
          for (const x of gate) expect(barred).toContain(x.byIdentityId ?? x.identityId);
        }
      }),
    );
  });

  it('refuses the second seat with why, and keeps the repeat of the first counted once', () => {
    const version = versionFor({ m: 2, d: 2, style: 'number', afterGate: 'end' });
    const inst = started(version);
    const forSeat = (seat: number, approve = true) => ({
      key: 'Gate.ApprovalStatus',
      data: { Approved: approve },
      actor: { ...person(seat), roleIds: [GATE_ROLE], delegate: person(5) },
    });
    const first = applySignal(inst, version, forSeat(1), ctxAt(1));
    expect(first.instance.signals[0]).toMatchObject({ identityId: 1, by: 'CORP\\p5', byIdentityId: 5 });
    expect(() => applySignal(first.instance, version, forSeat(2), ctxAt(2))).toThrowError(
      /CORP\\p5 already decided step 'Gate' acting for CORP\\p1; one person makes one decision per step/,
    );
    // Nor as themselves.
    const own = { key: 'Gate.ApprovalStatus', data: { Approved: true }, actor: { ...person(5), roleIds: [GATE_ROLE] } };
    expect(() => applySignal(first.instance, version, own, ctxAt(2))).toThrowError(/already decided/);
    expect(applySignal(first.instance, version, forSeat(1), ctxAt(3)).duplicate).toBe(true);
    // The one they acted for is another person: their own decision is the same seat, a repeat.
    const seatOwner = { key: 'Gate.ApprovalStatus', data: { Approved: true }, actor: { ...person(1), roleIds: [GATE_ROLE] } };
    expect(applySignal(first.instance, version, seatOwner, ctxAt(4)).duplicate).toBe(true);
    // Records made before byIdentityId are matched by the delegate's name.
    const legacy = deepFreeze({ ...first.instance, signals: first.instance.signals.map(({ byIdentityId: _, ...s }) => s) });
    expect(() => applySignal(legacy, version, forSeat(2), ctxAt(5))).toThrowError(/already decided/);
  });
});
