import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findStart, validateSteps } from '../../src/domain/definition.ts';
import type { JsonObject, StepDef } from '../../src/domain/types.ts';
import { defaultRegistry } from '../../src/steps/index.ts';
import { EXPORTS_DIR } from '../fixtures/paths.ts';
import { step } from '../support/engine.ts';

const registry = defaultRegistry();
const ROLES = new Set([1, 2, 3]);
const roleExists = (id: number): boolean => ROLES.has(id);
const validate = (steps: StepDef[], workflowType = 'Enrollment'): string[] => validateSteps(steps, registry, workflowType, roleExists);

const noop = (name: string, next: string | null = null, extra: Partial<StepDef> = {}) => step(name, 'NOOPStep', next, extra);
const approval = (name: string, next: string, extra: Partial<StepDef> = {}) =>
  step(name, 'RequireApproval', next, { signals: [{ name: 'ApprovalStatus', roleIds: [1], roleTokens: [] }], ...extra });
const email = (name: string, next: string, config: JsonObject = { Subject: 'Hi $(cn)', Message: '<p>x</p>', Recipients: ['a@example.com'] }) =>
  step(name, 'Email', next, { config });

/** Start -> Gate -> Mail -> End, valid. */
const valid = (): StepDef[] => [noop('Start', 'Gate'), approval('Gate', 'Mail'), email('Mail', 'End'), noop('End')];

/** Replaces the step with the given name. */
const withStep = (steps: StepDef[], name: string, change: (s: StepDef) => StepDef): StepDef[] => steps.map((s) => (s.uniqueName === name ? change(s) : s));

/** Expects at least one problem naming the step and the field, and returns the problems. */
function expectProblem(steps: StepDef[], stepName: string, field: string | RegExp, workflowType?: string): string[] {
  const problems = validate(steps, workflowType);
  expect(problems.length).toBeGreaterThan(0);
  const fieldRe = typeof field === 'string' ? new RegExp(field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : field;
  const match = problems.find((p) => p.includes(`Step '${stepName}'`) && fieldRe.test(p));
  expect(match, `no problem names step '${stepName}' and ${fieldRe}; got ${JSON.stringify(problems)}`).toBeDefined();
  return problems;
}

describe('validateSteps', () => {
  it('accepts a valid definition, whatever the order of the list', () => {
    expect(validate(valid())).toEqual([]);
    expect(validate([...valid()].reverse())).toEqual([]);
    expect(findStart([...valid()].reverse())?.uniqueName).toBe('Start');
  });

  it('an empty list', () => {
    expect(validate([])).toEqual([expect.stringMatching(/^Steps: /)]);
  });

  it('duplicate UniqueName', () => {
    expectProblem([...valid(), noop('Gate', 'End')], 'Gate', 'UniqueName');
  });

  it('duplicate UniqueName differing only in case', () => {
    expectProblem([...valid(), noop('gATE', 'End')], 'gATE', 'UniqueName: is used by more than one step');
  });

  it('empty UniqueName', () => {
    const problems = validate([...valid(), { ...noop('', 'End'), displayName: 'Nameless' }]);
    expect(problems.some((p) => p.includes("Step 'Nameless'") && p.includes('UniqueName'))).toBe(true);
  });

  it('an Outputs target that no step has', () => {
    expectProblem(
      withStep(valid(), 'Gate', (s) => ({ ...s, outputs: { continue: 'Nowhere' } })),
      'Gate',
      "Outputs.continue: no step has UniqueName 'Nowhere'",
    );
  });

  it('an Outputs target differing only in case is dangling too (names are exact)', () => {
    expectProblem(
      withStep(valid(), 'Gate', (s) => ({ ...s, outputs: { continue: 'mail' } })),
      'Gate',
      'Outputs.continue',
    );
  });

  it('an output name the step type does not declare', () => {
    expectProblem(
      withStep(valid(), 'Gate', (s) => ({ ...s, outputs: { continue: 'Mail', denied: 'End' } })),
      'Gate',
      "Outputs: 'denied' is not an output",
    );
  });

  it('a cycle', () => {
    // Start -> A -> B -> A: one root, but A and B loop.
    const problems = validate([noop('Start', 'A'), noop('A', 'B'), noop('B', 'A')]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^Steps: the outputs form a cycle \(A -> B -> A\)$/);
  });

  it('a cycle with no way in: no start at all', () => {
    expect(validate([noop('A', 'B'), noop('B', 'A')])).toEqual([expect.stringMatching(/^Steps: no start step/)]);
  });

  it('two start steps', () => {
    const problems = validate([...valid(), noop('Start2', 'End')]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^Steps: more than one start step/);
    expect(problems[0]).toContain('Start');
    expect(problems[0]).toContain('Start2');
  });

  it('a start step that is not a NOOPStep', () => {
    expectProblem([approval('Gate', 'Mail'), email('Mail', 'End'), noop('End')], 'Gate', 'ExtensionName: the start step must be a NOOPStep');
  });

  it('an end step that is not a NOOPStep', () => {
    expectProblem(
      [noop('Start', 'Gate'), approval('Gate', 'Mail'), { ...email('Mail', 'End'), outputs: {} }],
      'Mail',
      'Outputs: a step without outputs ends the workflow and must be a NOOPStep',
    );
  });

  it('a step not reachable from the start', () => {
    // X and Y point at each other, so neither is a second root; both are unreachable.
    const problems = validate([...valid(), noop('X', 'Y'), noop('Y', 'X')]);
    expect(problems.filter((p) => /is not reachable from the start step 'Start'/.test(p)).sort()).toEqual([
      "Step 'X': is not reachable from the start step 'Start'",
      "Step 'Y': is not reachable from the start step 'Start'",
    ]);
  });

  it('an unknown ExtensionName', () => {
    const problems = expectProblem(
      withStep(valid(), 'Mail', (s) => ({ ...s, extensionName: 'Telepathy' })),
      'Mail',
      "ExtensionName: unknown step type 'Telepathy'",
    );
    expect(problems.join('\n')).toContain('RequireApproval');
  });

  it('ExtensionName is case-sensitive', () => {
    expectProblem(
      withStep(valid(), 'Mail', (s) => ({ ...s, extensionName: 'email' })),
      'Mail',
      'ExtensionName',
    );
  });

  it('an undeclared signal name', () => {
    expectProblem(
      withStep(valid(), 'Gate', (s) => ({ ...s, signals: [...s.signals, { name: 'Nope', roleIds: [1], roleTokens: [] }] })),
      'Gate',
      "Signals: 'Nope' is not a signal of RequireApproval",
    );
  });

  it('an unknown configuration parameter', () => {
    expectProblem(
      withStep(valid(), 'Gate', (s) => ({ ...s, config: { MinimumApprovls: 2 } })),
      'Gate',
      'ConfigurationParameters.MinimumApprovls: unknown parameter',
    );
  });

  it('MinimumApprovals of the wrong type or too small', () => {
    for (const bad of ['abc', 0, -1, 1.5, '0', true, [2]]) {
      expectProblem(
        withStep(valid(), 'Gate', (s) => ({ ...s, config: { MinimumApprovals: bad } })),
        'Gate',
        'ConfigurationParameters.MinimumApprovals',
      );
    }
    for (const bad of ['abc', 0]) {
      expectProblem(
        withStep(valid(), 'Gate', (s) => ({ ...s, config: { DenialsToReject: bad } })),
        'Gate',
        'ConfigurationParameters.DenialsToReject',
      );
    }
    for (const good of [1, 4, '2', ' 3 ', null]) {
      expect(validate(withStep(valid(), 'Gate', (s) => ({ ...s, config: { MinimumApprovals: good, DenialsToReject: good } })))).toEqual([]);
    }
  });

  it('a missing required parameter', () => {
    expectProblem(
      withStep(valid(), 'Mail', (s) => ({ ...s, config: { Message: 'm', Recipients: ['a@example.com'] } })),
      'Mail',
      'ConfigurationParameters.Subject: is required',
    );
    expectProblem(
      withStep(valid(), 'Mail', (s) => ({ ...s, config: { Subject: null, Message: 'm', Recipients: ['a@example.com'] } })),
      'Mail',
      'ConfigurationParameters.Subject: is required',
    );
  });

  it('a parameter of the wrong shape', () => {
    expectProblem(
      withStep(valid(), 'Mail', (s) => ({ ...s, config: { ...s.config, Recipients: 'a@example.com' } })),
      'Mail',
      'ConfigurationParameters.Recipients: must be a list of strings',
    );
  });

  it('RequireApproval without roles', () => {
    expectProblem(
      withStep(valid(), 'Gate', (s) => ({ ...s, signals: [] })),
      'Gate',
      /Signals: .*ApprovalStatus.*RoleId/,
    );
    expectProblem(
      withStep(valid(), 'Gate', (s) => ({ ...s, signals: [{ name: 'ApprovalStatus', roleIds: [], roleTokens: [] }] })),
      'Gate',
      /Signals: .*ApprovalStatus/,
    );
    // A role token is enough.
    expect(validate(withStep(valid(), 'Gate', (s) => ({ ...s, signals: [{ name: 'ApprovalStatus', roleIds: [], roleTokens: ['$(approvers)'] }] })))).toEqual([]);
  });

  it('an unknown role id', () => {
    expectProblem(
      withStep(valid(), 'Gate', (s) => ({ ...s, signals: [{ name: 'ApprovalStatus', roleIds: [1, 99], roleTokens: [] }] })),
      'Gate',
      'Signals.ApprovalStatus.RoleIds: role 99 does not exist',
    );
  });

  it('a step type not allowed in the workflow type', () => {
    const steps = [noop('Start', 'Renew'), step('Renew', 'ExpirationRenewal', 'End'), noop('End')];
    expectProblem(steps, 'Renew', 'ExtensionName: ExpirationRenewal is only allowed in Expiration', 'Enrollment');
    expect(validate(steps, 'Expiration')).toEqual([]);
    expect(validate(steps, 'expiration')).toEqual([]);
  });

  it('an empty condition Value', () => {
    for (const value of ['', '   ']) {
      expectProblem(
        withStep(valid(), 'Gate', (s) => ({
          ...s,
          conditions: [
            { id: 'c0', value: 'True' },
            { id: 'c1', value },
          ],
        })),
        'Gate',
        'Conditions[1].Value: must be a non-empty string',
      );
    }
  });

  it('reports every step problem at once', () => {
    const steps = withStep(
      withStep(valid(), 'Gate', (s) => ({ ...s, config: { MinimumApprovals: 'abc' }, signals: [] })),
      'Mail',
      (s) => ({ ...s, config: {} }),
    );
    const problems = validate(steps);
    expect(problems.filter((p) => p.startsWith("Step 'Gate'")).length).toBeGreaterThanOrEqual(2);
    expect(problems.filter((p) => p.startsWith("Step 'Mail'")).length).toBe(3);
  });
});

// ------------------------------------------------------------------------------------------------
// Definitions shaped like Keyfactor Command exports (test/fixtures/exports) validate as they are.

const exportsDir = EXPORTS_DIR;

interface WireStep {
  Id?: string;
  ExtensionName: string;
  UniqueName: string;
  DisplayName: string;
  Enabled?: boolean;
  ConfigurationParameters?: JsonObject;
  Signals?: { SignalName: string; RoleIds?: number[]; RoleTokens?: string[] }[];
  Conditions?: { Id?: string; Value: string }[];
  Outputs?: Record<string, string>;
}

/** Wire step (as exported) to domain StepDef. */
function toStepDef(s: WireStep, i: number): StepDef {
  return {
    id: s.Id ?? `step-${i}`,
    extensionName: s.ExtensionName,
    uniqueName: s.UniqueName,
    displayName: s.DisplayName,
    enabled: s.Enabled ?? true,
    config: s.ConfigurationParameters ?? {},
    signals: (s.Signals ?? []).map((g) => ({ name: g.SignalName, roleIds: g.RoleIds ?? [], roleTokens: g.RoleTokens ?? [] })),
    conditions: (s.Conditions ?? []).map((c, k) => ({ id: c.Id ?? `cond-${k}`, value: c.Value })),
    outputs: s.Outputs ?? {},
  };
}

describe('export fixtures', () => {
  const files = readdirSync(exportsDir)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('there are six', () => {
    expect(files).toHaveLength(6);
  });

  for (const file of files) {
    it(`${file} validates with no problems as an Expiration workflow`, () => {
      const exported = JSON.parse(readFileSync(path.join(exportsDir, file), 'utf8')) as { WorkflowType: string; Steps: WireStep[] };
      expect(exported.WorkflowType).toBe('Expiration');
      const steps = exported.Steps.map(toStepDef);
      expect(steps.length).toBeGreaterThan(0);
      expect(validateSteps(steps, registry, 'Expiration', roleExists)).toEqual([]);
      expect(findStart(steps)?.extensionName).toBe('NOOPStep');
    });
  }
});
