import { stepShouldRun, undecidedGateTokens } from './conditions.ts';
import { implicitSteps } from './implicit-steps.ts';
import type { StepOutcome } from './step-type.ts';
import { resolvesFromTrusted, resolveValue, trustedOnly, untrustedTokens, type TokenScope } from './tokens.ts';
import { entry, finish, findStep, log, scopeOf, stepContext, stepType, withPlan, type EngineContext, type Transition } from './transition.ts';
import type { DefinitionVersion, Instance, StepDef, StepOutputs } from './types.ts';

/*
 * The run loop: entering steps one after another until one waits, runs work outside the
 * transaction, or the instance ends. Every event in engine.ts ends here.
 */

/** Safety bound on steps run in one transition; validated graphs are acyclic, so this never trips. */
const MAX_STEPS_PER_TRANSITION = 10_000;
export function runFrom(t: Transition, version: DefinitionVersion, first: StepDef, ctx: EngineContext): Transition {
  let cur: Transition = t;
  let step: StepDef | undefined = first;
  for (let i = 0; step; i++) {
    if (i > MAX_STEPS_PER_TRANSITION) return failWith(cur, step, 'The workflow ran too many steps in one go; its graph may loop.', ctx);
    const gate = isGate(ctx, step);
    if (!stepShouldRun(step, scopeOf(cur.instance), gate)) {
      const why = !step.enabled ? 'the step is disabled' : gate ? 'a condition is not true on trusted data' : 'a condition is not true';
      cur = log(cur, entry(ctx, 'StepSkipped', step.uniqueName, null, `Skipped ${step.displayName}: ${why}.`));
      step = next(version, step, 'continue');
      if (!step) return complete(cur, version, ctx);
      continue;
    }
    cur = enter(cur, step, gate ? gateNote(step, scopeOf(cur.instance)) : '', ctx);
    const outcome = stepType(ctx, step).enter(stepContext(cur.instance, step));
    if (outcome.kind === 'continue') {
      cur = recordContinue(cur, step, outcome, ctx);
      const target = next(version, step, outcome.output ?? 'continue');
      if (!target) return complete(cur, version, ctx);
      step = target;
      continue;
    }
    return applyOutcome(cur, version, step, outcome, ctx);
  }
  return cur;
}

/** Applies a non-initial outcome at `step` (after entering, a signal, or a run result). */
export function applyOutcome(t: Transition, version: DefinitionVersion, step: StepDef, outcome: StepOutcome, ctx: EngineContext): Transition {
  switch (outcome.kind) {
    case 'continue': {
      const decided = withPlan(t, step, { notify: stepType(ctx, step).onDecided?.(stepContext(t.instance, step), 'continue') }, ctx);
      const cur = recordContinue(decided, step, outcome, ctx);
      const target = next(version, step, outcome.output ?? 'continue');
      return target ? runFrom(cur, version, target, ctx) : complete(cur, version, ctx);
    }
    case 'suspend':
      return suspend(t, step, outcome.message, ctx);
    case 'reject': {
      const decided = withPlan(t, step, { notify: stepType(ctx, step).onDecided?.(stepContext(t.instance, step), 'reject') }, ctx);
      const instance = finish(decided.instance, 'Rejected', outcome.message, ctx);
      return log({ ...decided, instance }, entry(ctx, 'Rejected', step.uniqueName, null, outcome.message));
    }
    case 'fail':
      return failWith(t, step, outcome.message, ctx);
    case 'run': {
      const instance = { ...t.instance, status: 'Running' as const, statusMessage: `Running ${step.displayName}.`, lastModified: ctx.now };
      return { ...t, instance, effects: [...t.effects, { type: 'runStep', instanceId: instance.id, step: step.uniqueName, stepId: step.id }] };
    }
  }
}

export function decideCurrent(t: Transition, version: DefinitionVersion, step: StepDef, ctx: EngineContext): Transition {
  const type = stepType(ctx, step);
  const outcome = type.decide ? type.decide(stepContext(t.instance, step, ctx.roleMembers)) : ({ kind: 'suspend', message: t.instance.statusMessage ?? '' } as const);
  return applyOutcome(t, version, step, outcome, ctx);
}

/** A step that takes signals is a gate (people decide there); its conditions fail closed (conditions.ts). */
function isGate(ctx: EngineContext, step: StepDef): boolean {
  const type = ctx.registry.get(step.extensionName);
  return step.signals.length > 0 || (type !== undefined && Object.keys(type.signals).length > 0);
}

/** Says why a gate runs although a condition named requester data or did not resolve. */
function gateNote(step: StepDef, scope: TokenScope): string {
  const { untrusted, unresolved } = undecidedGateTokens(step, scope);
  const list = (names: string[]) => names.map((n) => `$(${n})`).join(', ');
  const parts = [
    untrusted.length ? `${list(untrusted)} names requester-supplied data, which cannot skip an approval` : '',
    unresolved.length ? `${list(unresolved)} does not resolve from trusted data` : '',
  ].filter(Boolean);
  return parts.length ? ` Its conditions were not decided by trusted data (${parts.join('; ')}), so it runs.` : '';
}

function enter(t: Transition, step: StepDef, note: string, ctx: EngineContext): Transition {
  // Entering a step is a new visit: the instance is Running until the step decides otherwise,
  // so suspend() does not mistake a fresh visit after a decision for a re-decision.
  const instance: Instance = {
    ...t.instance,
    status: 'Running',
    currentStep: step.uniqueName,
    currentStepId: step.id,
    currentStepDisplayName: step.displayName,
    signals: [],
    pendingRoleIds: [],
    pendingExcludedIds: [],
    lastModified: ctx.now,
  };
  return log({ ...t, instance }, entry(ctx, 'StepEntered', step.uniqueName, null, `Entered ${step.displayName} (${step.extensionName}).${note}`));
}

function recordContinue(t: Transition, step: StepDef, outcome: Extract<StepOutcome, { kind: 'continue' }>, ctx: EngineContext): Transition {
  const instance: Instance = {
    ...t.instance,
    stateData: outcome.variables ? { ...t.instance.stateData, ...outcome.variables } : t.instance.stateData,
    metadata: outcome.metadata ? { ...t.instance.metadata, ...outcome.metadata } : t.instance.metadata,
    stepOutputs: withDeciders(withTrustedOutputs(t.instance.stepOutputs, step, outcome, scopeOf(t.instance)), t.instance, step),
    signals: [],
    pendingRoleIds: [],
    pendingExcludedIds: [],
    lastModified: ctx.now,
  };
  return log({ ...t, instance }, entry(ctx, outcome.history ?? 'StepCompleted', step.uniqueName, null, outcome.message ?? `Completed ${step.displayName}.`));
}

function suspend(t: Transition, step: StepDef, message: string, ctx: EngineContext): Transition {
  const wasSuspendedHere = t.instance.status === 'Suspended' && t.instance.currentStep === step.uniqueName;
  if (wasSuspendedHere) return { ...t, instance: { ...t.instance, statusMessage: message, lastModified: ctx.now } };
  const roles = allowedRoles(step, scopeOf(t.instance));
  const barred = stepType(ctx, step).barredActors?.(stepContext(t.instance, step));
  const instance: Instance = {
    ...t.instance,
    status: 'Suspended',
    statusMessage: message,
    pendingRoleIds: roles.ids,
    pendingExcludedIds: barred ? [...new Set(barred.identityIds)].sort((a, b) => a - b) : [],
    lastModified: ctx.now,
  };
  const ignored = roles.ignored.length ? ` Role token(s) ${roles.ignored.map((n) => `$(${n})`).join(', ')} name requester-supplied data and grant no role.` : '';
  const suspended = log({ ...t, instance }, entry(ctx, 'Suspended', step.uniqueName, null, message + ignored));
  const plan = stepType(ctx, step).onWait?.(stepContext(instance, step), ctx.now, ctx.maxWaitMs);
  return plan ? withPlan(suspended, step, plan, ctx) : suspended;
}

/**
 * RoleIds plus RoleTokens resolved now (a token may hold a role id or a list of them), from
 * trusted values only: the requester must not choose who decides. `ignored` names the tokens that
 * would have resolved from requester data.
 */
export function allowedRoles(step: StepDef, scope: TokenScope): { ids: number[]; ignored: string[] } {
  const ids = new Set<number>();
  const ignored = new Set<string>();
  const trusted = trustedOnly(scope);
  for (const sig of step.signals) {
    for (const id of sig.roleIds) ids.add(id);
    for (const token of sig.roleTokens) {
      for (const name of untrustedTokens(token, scope)) ignored.add(name);
      const v = resolveValue(token, trusted);
      for (const x of Array.isArray(v) ? v : [v]) {
        const n = typeof x === 'number' ? x : typeof x === 'string' && /^\s*\d+\s*$/.test(x) ? Number(x) : NaN;
        if (Number.isInteger(n)) ids.add(n);
      }
    }
  }
  return { ids: [...ids].sort((a, b) => a - b), ignored: [...ignored] };
}

type Continue = Extract<StepOutcome, { kind: 'continue' }>;

/**
 * Records what a step wrote as trusted only when nothing the requester sent could have shaped it:
 * its conditions resolve from trusted data alone (so whether it ran does not depend on the
 * requester), and only the part the step itself vouches for (outcome.trusted).
 */
/** Records who decided the step being left, for later steps that exclude earlier deciders. */
function withDeciders(o: StepOutputs, before: Instance, step: StepDef): StepOutputs {
  const ids = [...new Set(before.signals.filter((s) => s.step === step.uniqueName).map((s) => s.identityId))].sort((a, b) => a - b);
  const prior = before.stepOutputs.deciders;
  if (!ids.length) return prior ? { ...o, deciders: prior } : o;
  return { ...o, deciders: { ...prior, [step.uniqueName]: ids } };
}

function withTrustedOutputs(o: StepOutputs, step: StepDef, outcome: Continue, scope: TokenScope): StepOutputs {
  if (!step.conditions.every((c) => resolvesFromTrusted(c.value, scope))) return o;
  const vouched = outcome.trusted ?? { variables: outcome.variables, metadata: outcome.metadata };
  return {
    variables: vouched.variables ? { ...o.variables, ...vouched.variables } : o.variables,
    metadata: vouched.metadata ? { ...o.metadata, ...vouched.metadata } : o.metadata,
  };
}

export function complete(t: Transition, version: DefinitionVersion, ctx: EngineContext): Transition {
  // Steps the workflow type adds at the end (EnrollStep) run before completing, unless they have nothing to do.
  const implicit = implicitSteps(version, t.instance.workflowType, ctx.registry);
  // Each runs once, in order: after the k-th, only those after it remain.
  for (const step of implicit.slice(implicit.findIndex((s) => s.uniqueName === t.instance.currentStep) + 1)) {
    const outcome = stepType(ctx, step).enter(stepContext(t.instance, step));
    if (outcome.kind !== 'continue') return applyOutcome(enter(t, step, '', ctx), version, step, outcome, ctx);
  }
  const instance = finish(t.instance, 'Complete', 'The workflow completed.', ctx);
  return log({ ...t, instance }, entry(ctx, 'Completed', t.instance.currentStep, null, 'The workflow completed.'));
}

export function failWith(t: Transition, step: StepDef, message: string, ctx: EngineContext): Transition {
  const instance = finish(t.instance, 'Failed', message, ctx);
  return log({ ...t, instance }, entry(ctx, 'Failed', step.uniqueName, null, message));
}

function next(version: DefinitionVersion, step: StepDef, output: string): StepDef | undefined {
  const target = step.outputs[output];
  return target === undefined ? undefined : findStep(version, target);
}
