import fc from 'fast-check';
import { expect } from 'vitest';
import { startInstance, type EngineContext, type SignalInput } from '../../src/domain/engine.ts';
import type { DefinitionVersion, Instance, Json, JsonObject, StepDef } from '../../src/domain/types.ts';
import { defaultRegistry } from '../../src/steps/index.ts';
import { at, deepFreeze, step } from '../support/engine.ts';

/* The RequireApproval model behind the quorum tests (quorum.property.test.ts, quorum.signals.test.ts). */

export const registry = defaultRegistry();
export const GATE_ROLE = 7;
export const NEXT_ROLE = 8;
export const POOL = 5;

export const ctxAt = (n: number): EngineContext => ({ now: at(n), registry });

export interface Thresholds {
  m: number;
  d: number;
  /** How the thresholds are written in the configuration: numbers, numeric strings, or left to the default (1). */
  style: 'number' | 'string' | 'defaultWhenOne';
  /** What follows the gate: the end (the instance completes) or a second approval step (it suspends there). */
  afterGate: 'end' | 'approval';
}

export function configOf(t: Thresholds): JsonObject {
  const write = (name: string, n: number): JsonObject => {
    if (t.style === 'defaultWhenOne' && n === 1) return {};
    return { [name]: t.style === 'string' ? ` ${n} ` : n };
  };
  return { ...write('MinimumApprovals', t.m), ...write('DenialsToReject', t.d) };
}

export function versionFor(t: Thresholds): DefinitionVersion {
  const approvalSignals = (role: number) => [{ name: 'ApprovalStatus', roleIds: [role], roleTokens: [] }];
  const steps: StepDef[] = [
    step('StartNOOP', 'NOOPStep', 'Gate'),
    step('Gate', 'RequireApproval', t.afterGate === 'end' ? 'EndNOOP' : 'Next', { config: configOf(t), signals: approvalSignals(GATE_ROLE) }),
    ...(t.afterGate === 'approval' ? [step('Next', 'RequireApproval', 'EndNOOP', { signals: approvalSignals(NEXT_ROLE) })] : []),
    step('EndNOOP', 'NOOPStep', null),
  ];
  return deepFreeze({ definitionId: 'def-1', version: 3, steps, frozen: true });
}

export function started(version: DefinitionVersion): Instance {
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

export interface Sig {
  who: number;
  approve: boolean;
  /** index into the spellings of the decision */
  spelling: number;
  lowerKey: boolean;
  comment: string | null;
}

export const APPROVE_SPELLINGS: Json[] = [true, 'True', 'true', 'TRUE', ' tRuE '];
export const DENY_SPELLINGS: Json[] = [false, 'False', 'false', 'FALSE', ' fAlSe '];

export const sigArb: fc.Arbitrary<Sig> = fc.record({
  who: fc.integer({ min: 1, max: POOL }),
  approve: fc.boolean(),
  spelling: fc.nat({ max: 4 }),
  lowerKey: fc.boolean(),
  comment: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
});

export const thresholdsArb: fc.Arbitrary<Thresholds> = fc.record({
  m: fc.integer({ min: 1, max: 4 }),
  d: fc.integer({ min: 1, max: 4 }),
  style: fc.constantFrom('number' as const, 'string' as const, 'defaultWhenOne' as const),
  afterGate: fc.constantFrom('end' as const, 'approval' as const),
});

export function inputOf(s: Sig, stepName = 'Gate'): SignalInput {
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
export function expectedOutcome(sigs: Sig[], m: number, d: number): 'continue' | 'reject' | 'pending' {
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

export function expectContinued(inst: Instance, t: Thresholds, now: string): void {
  if (t.afterGate === 'end') {
    expect(inst).toMatchObject({ status: 'Complete', currentStep: 'EndNOOP', pendingRoleIds: [], signals: [] });
  } else {
    // The next approval step starts a fresh visit: its own roles, no signals carried over.
    expect(inst).toMatchObject({ status: 'Suspended', currentStep: 'Next', pendingRoleIds: [NEXT_ROLE], signals: [] });
  }
  expect(inst.lastModified).toBe(now);
  expect(typeof inst.stateData['approval signal cmnts']).toBe('string');
}
