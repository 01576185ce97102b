import fc from 'fast-check';
import { expect } from 'vitest';
import { startInstance, type EngineContext, type Transition } from '../../src/domain/engine.ts';
import type { InstanceStatusName } from '../../src/domain/status.ts';
import type { Actor, DefinitionVersion, HistoryEntry, Instance, JsonObject, StepDef } from '../../src/domain/types.ts';
import type { StepType } from '../../src/domain/step-type.ts';
import { StepRegistry } from '../../src/domain/step-registry.ts';
import { builtInStepTypes } from '../../src/steps/index.ts';
import { at, deepFreeze } from '../support/engine.ts';

/*
 * The model behind the property tests of the engine's transitions over random linear definitions:
 * StartNOOP -> Step1 -> ... -> StepN -> EndNOOP.
 */

/** Test only: a step type whose entering fails the instance (no built-in one does any more). */
export const FAIL_MESSAGE = 'FailOnEnter always fails.';
const failOnEnterStep: StepType = {
  extensionName: 'FailOnEnter',
  displayName: 'Fail on enter',
  description: 'Test only.',
  outputs: ['continue'],
  workflowTypes: 'all',
  parameters: {},
  signals: {},
  enter: () => ({ kind: 'fail', message: FAIL_MESSAGE }),
};

export const registry = new StepRegistry([...builtInStepTypes, failOnEnterStep]);
export const ctxAt = (n: number): EngineContext => ({ now: at(n), registry });

export type Kind = 'NOOPStep' | 'RequireApproval' | 'UpdateMetadata' | 'Email' | 'FailOnEnter';
export type Flag = 'true' | 'TRUE' | 'no';
export const CONDITIONS = ['True', 'false', '$(flag)', '$(missing)'] as const;

export interface Spec {
  kind: Kind;
  enabled: boolean;
  conditions: string[];
  m: number;
  d: number;
}

export const roleOf = (i: number): number => 100 + i;
export const nameOf = (specs: Spec[], i: number): string => (i === 0 ? 'StartNOOP' : i === specs.length + 1 ? 'EndNOOP' : `Step${i}`);

export function specArb(kinds: Kind[]): fc.Arbitrary<Spec> {
  return fc.record({
    kind: fc.constantFrom(...kinds),
    enabled: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    conditions: fc.array(fc.constantFrom(...CONDITIONS), { maxLength: 2 }),
    m: fc.integer({ min: 1, max: 3 }),
    d: fc.integer({ min: 1, max: 3 }),
  });
}

export function configFor(kind: Kind, i: number, s: Spec): JsonObject {
  switch (kind) {
    case 'RequireApproval':
      return { MinimumApprovals: s.m, DenialsToReject: s.d };
    case 'UpdateMetadata':
      return { Name: `Field${i}`, Value: '$(flag)' };
    case 'Email':
      return { Subject: 'About $(cn)', Message: '<p>$(cn)</p>', Recipients: ['pki@example.com'] };
    default:
      return {};
  }
}

/** Index 0 is the start, index specs.length + 1 the end; both plain NOOPs. */
export function buildSteps(specs: Spec[], reversed: boolean): StepDef[] {
  const all: StepDef[] = [];
  const n = specs.length + 2;
  for (let i = 0; i < n; i++) {
    const s = i === 0 || i === n - 1 ? undefined : specs[i - 1];
    const kind: Kind = s?.kind ?? 'NOOPStep';
    all.push({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      extensionName: kind,
      uniqueName: nameOf(specs, i),
      displayName: `Display ${nameOf(specs, i)}`,
      enabled: s?.enabled ?? true,
      config: s ? configFor(kind, i, s) : {},
      signals: kind === 'RequireApproval' ? [{ name: 'ApprovalStatus', roleIds: [roleOf(i)], roleTokens: [] }] : [],
      conditions: (s?.conditions ?? []).map((value, k) => ({ id: `c${i}-${k}`, value })),
      outputs: i < n - 1 ? { continue: nameOf(specs, i + 1) } : {},
    });
  }
  return reversed ? all.reverse() : all;
}

// ------------------------------------------------------------------------------------------------
// The model: what should happen, computed without the engine.

export interface Model {
  status: InstanceStatusName;
  /** index of the current (last entered) step */
  index: number;
  metadata: JsonObject;
  decided: Map<number, boolean>;
}

export const conditionHoldsModel = (c: string, flag: Flag): boolean => c === 'True' || (c === '$(flag)' && flag.toLowerCase() === 'true');

/** Whether each step (by index) runs or is skipped. */
export function runsAt(specs: Spec[], i: number, flag: Flag): boolean {
  if (i === 0 || i === specs.length + 1) return true;
  const s = specs[i - 1];
  // An approval fails closed: only a condition decided by trusted data ('false' here) skips it;
  // $(flag) is requester data and $(missing) resolves from nothing trusted, so neither can.
  if (s.kind === 'RequireApproval') return s.enabled && !s.conditions.includes('false');
  return s.enabled && s.conditions.every((c) => conditionHoldsModel(c, flag));
}

export const kindAt = (specs: Spec[], i: number): Kind => (i === 0 || i === specs.length + 1 ? 'NOOPStep' : specs[i - 1].kind);

/** Walks from step index `from`; returns the expected history (kind@step) and effects, updating the model. */
export function walk(specs: Spec[], flag: Flag, model: Model, from: number): { history: string[]; effects: string[] } {
  const history: string[] = [];
  const effects: string[] = [];
  const last = specs.length + 1;
  for (let i = from; i <= last; i++) {
    const name = nameOf(specs, i);
    if (!runsAt(specs, i, flag)) {
      history.push(`StepSkipped@${name}`);
      continue;
    }
    history.push(`StepEntered@${name}`);
    model.index = i;
    model.decided = new Map();
    switch (kindAt(specs, i)) {
      case 'NOOPStep':
        history.push(`StepCompleted@${name}`);
        continue;
      case 'UpdateMetadata':
        model.metadata = { ...model.metadata, [`Field${i}`]: flag };
        history.push(`StepCompleted@${name}`);
        continue;
      case 'RequireApproval':
        model.status = 'Suspended';
        history.push(`Suspended@${name}`);
        return { history, effects };
      case 'Email':
        model.status = 'Running';
        effects.push(`runStep@${name}`);
        return { history, effects };
      case 'FailOnEnter':
        model.status = 'Failed';
        history.push(`Failed@${name}`);
        return { history, effects };
    }
  }
  model.status = 'Complete';
  history.push(`Completed@${nameOf(specs, model.index)}`);
  return { history, effects };
}

/**
 * Status edges a single transition may take. Beyond the documented ones: Failed -> CanceledForRestart
 * (restarting a failed instance), Suspended -> Failed (an approval leads into a step that fails on
 * entering) and Running -> Running (a run result leads into another automatic step).
 */
export const ALLOWED: Record<InstanceStatusName, InstanceStatusName[]> = {
  Unknown: [],
  Running: ['Suspended', 'Complete', 'Failed', 'Rejected', 'Running'],
  Suspended: ['Suspended', 'Running', 'Complete', 'Rejected', 'CanceledForRestart', 'Failed'],
  Failed: ['CanceledForRestart'],
  Complete: [],
  Rejected: [],
  CanceledForRestart: [],
};

export const histStr = (h: HistoryEntry[]): string[] => h.map((e) => `${e.kind}@${e.step}`);
export const effStr = (t: Transition): string[] => t.effects.map((e) => `${e.type}@${e.step}`);

export const allRoles = (specs: Spec[]): number[] => specs.map((_, i) => roleOf(i + 1));
export const actorOf = (who: number, specs: Spec[]): Actor => ({ identityId: who, accountName: `CORP\\user${who}`, roleIds: allRoles(specs) });

export function start(specs: Spec[], flag: Flag, reversed: boolean, workflowType: string) {
  const steps = buildSteps(specs, reversed);
  const version = deepFreeze<DefinitionVersion>({ definitionId: 'def-1', version: 1, steps, frozen: true });
  const ctx = ctxAt(0);
  const t = startInstance(
    {
      id: 'inst-1',
      referenceId: 1,
      definition: { id: 'def-1', displayName: 'Random', workflowType },
      version,
      title: null,
      initialData: { flag, cn: 'www.example.com' },
      initiator: null,
    },
    ctx,
  );
  const model: Model = { status: 'Running', index: 0, metadata: {}, decided: new Map() };
  const expected = walk(specs, flag, model, 0);
  return { version, t, model, expected, ctx };
}

/** Checks the engine's instance against the model. */
export function expectMatchesModel(inst: Instance, model: Model, specs: Spec[], now: string): void {
  const cur = nameOf(specs, model.index);
  expect(inst.status).toBe(model.status);
  expect(inst.currentStep).toBe(cur);
  expect(inst.currentStepDisplayName).toBe(`Display ${cur}`);
  expect(inst.currentStepId).toBe(`00000000-0000-4000-8000-${String(model.index).padStart(12, '0')}`);
  expect(inst.lastModified).toBe(now);
  expect(inst.metadata).toEqual(model.metadata);
  expect(inst.pendingRoleIds).toEqual(model.status === 'Suspended' ? [roleOf(model.index)] : []);
  if (model.status === 'Failed' && kindAt(specs, model.index) === 'FailOnEnter') expect(inst.statusMessage).toContain(FAIL_MESSAGE);
}

export function buildVersion(specs: Spec[]): DefinitionVersion {
  return deepFreeze({ definitionId: 'def-1', version: 1, steps: buildSteps(specs, false), frozen: true });
}
