import { boundJson, DEFAULT_RESULT_BOUNDS, wellFormedText, type JsonBounds } from './bounded-json.ts';
import { findStart } from './definition.ts';
import { sentBy } from './delegation.ts';
import { CountersignError, fail } from './errors.ts';
import { applyOutcome, decideCurrent, runFrom } from './run-loop.ts';
import type { StepOutcome, StepType, TimerKind } from './step-type.ts';
import { entry, finish, findStep, stepContext, stepType, touch, withPlan, type EngineContext, type Transition } from './transition.ts';
import type { Actor, DefinitionVersion, HistoryEntry, Instance, JsonObject, RecordedSignal, StepDef } from './types.ts';

/**
 * The workflow semantics as pure functions: (instance, event) -> (instance, history, effects).
 * No I/O, no clock, no randomness: `now` and ids come in through the context. This file holds the
 * events (start, signal, timer, run result, stop, restart); run-loop.ts walks the steps and
 * transition.ts holds the shared shapes. Step types give the meaning through their hooks.
 */
export { allowedRoles } from './run-loop.ts';
export { findStep, scopeOf, type Effect, type EngineContext, type Transition } from './transition.ts';
export type { NotifyKind, TimerKind } from './step-type.ts';

export interface StartInput {
  id: string;
  referenceId: number;
  definition: { id: string; displayName: string; workflowType: string };
  version: DefinitionVersion;
  title: string | null;
  /** What the caller sent: untrusted. */
  initialData: JsonObject;
  /** What the server vouches for (the requester's identity; later request fields such as template and CA). */
  trustedData?: JsonObject;
  initiator: { identityId: number; accountName: string } | null;
  restartedFrom?: string | null;
}

function seedMetadata(initialData: JsonObject): JsonObject {
  const m = initialData.Metadata;
  return m !== null && typeof m === 'object' && !Array.isArray(m) ? { ...m } : {};
}

export function startInstance(input: StartInput, ctx: EngineContext): Transition {
  const start = findStart(input.version.steps);
  if (!start) fail('DefinitionInvalid', `Definition ${input.definition.id} version ${input.version.version} has no start step.`);
  const instance: Instance = {
    id: input.id,
    referenceId: input.referenceId,
    definitionId: input.definition.id,
    definitionVersion: input.version.version,
    definitionName: input.definition.displayName,
    workflowType: input.definition.workflowType,
    status: 'Running',
    statusMessage: null,
    currentStep: null,
    currentStepId: null,
    currentStepDisplayName: null,
    title: input.title,
    initiatorId: input.initiator?.identityId ?? null,
    initiatorName: input.initiator?.accountName ?? null,
    initialData: input.initialData,
    // Server-set values win over same-named requester values, so $(requester) is never spoofed.
    stateData: { ...input.initialData, ...input.trustedData },
    // The subject certificate's metadata, when the starter passes it (InitialData.Metadata): $(metadata:Name).
    metadata: seedMetadata(input.initialData),
    trustedData: input.trustedData ?? {},
    stepOutputs: { variables: {}, metadata: {} },
    signals: [],
    pendingRoleIds: [],
    pendingExcludedIds: [],
    startDate: ctx.now,
    lastModified: ctx.now,
    restartedFrom: input.restartedFrom ?? null,
    restartedTo: null,
    rev: 0,
  };
  const history: HistoryEntry[] = [
    entry(ctx, 'Started', null, input.initiator?.accountName ?? null, `Started on ${input.definition.displayName} version ${input.version.version}.`),
  ];
  if (input.restartedFrom) history.push(entry(ctx, 'RestartedFrom', null, null, `Restarted from instance ${input.restartedFrom}.`, { PreviousInstanceId: input.restartedFrom }));
  return runFrom({ instance, history, effects: [] }, input.version, start!, ctx);
}

export interface SignalInput {
  key: string;
  data: JsonObject;
  actor: Actor;
}

export type SignalResult = Transition & { duplicate: boolean };

/**
 * Records a signal at the current step and advances the instance if the step is now decided.
 * Throws CountersignError for every refusal; a refusal changes nothing.
 */
export function applySignal(instance: Instance, version: DefinitionVersion, input: SignalInput, ctx: EngineContext): SignalResult {
  const dot = input.key.lastIndexOf('.');
  if (dot <= 0 || dot === input.key.length - 1)
    fail('SignalInvalid', `SignalKey '${input.key}' must have the form <StepUniqueName>.<SignalName>, e.g. RequireApproval1.ApprovalStatus.`);
  const stepName = input.key.slice(0, dot);
  const signalName = input.key.slice(dot + 1);
  if (instance.status !== 'Suspended') fail('InstanceWrongState', `Instance ${instance.id} is ${instance.status}, not Suspended; only a suspended instance accepts signals.`);
  const step = findStep(version, instance.currentStep!);
  if (stepName !== step.uniqueName) {
    const known = version.steps.some((s) => s.uniqueName === stepName);
    fail(
      'SignalNotCurrentStep',
      `${known ? `Step '${stepName}' is not the current step` : `Instance ${instance.id} has no step '${stepName}'`}; the current step is '${step.uniqueName}' (${step.displayName}). Use SignalKey '${step.uniqueName}.<SignalName>'.`,
    );
  }
  const type = stepType(ctx, step);
  const sigConfig = step.signals.find((s) => s.name === signalName);
  if (!sigConfig || !type.checkSignal) {
    const names = step.signals.map((s) => s.name).join(', ') || 'none';
    fail('SignalInvalid', `Step '${step.uniqueName}' has no signal '${signalName}'; its signals: ${names}.`);
  }
  if (!input.actor.roleIds.some((r) => instance.pendingRoleIds.includes(r)))
    fail('Forbidden', `${input.actor.accountName} holds none of the roles allowed to send ${step.uniqueName}.${signalName}.`);
  const barred = type.barredActors?.(stepContext(instance, step));
  if (barred?.identityIds.includes(input.actor.identityId)) fail('Forbidden', `${input.actor.accountName} may not send ${step.uniqueName}.${signalName}: ${barred.reason}.`);
  // A delegate is held to the same bars as the one they act for, and to their own.
  const delegate = input.actor.delegate;
  if (delegate && barred?.identityIds.includes(delegate.identityId))
    fail('Forbidden', `${delegate.accountName} may not send ${step.uniqueName}.${signalName}, even acting for ${input.actor.accountName}: ${barred.reason}.`);
  const who = delegate ? `${delegate.accountName} (acting for ${input.actor.accountName})` : input.actor.accountName;
  const checked = type.checkSignal!(signalName, input.data, step.config);
  if (!checked.ok) fail('SignalInvalid', checked.message);
  const data = (checked as { data: JsonObject }).data;

  // One person, one decision per step: whoever sent a signal here, for themselves or for someone
  // else, may not send another for a different seat (else one delegate of two approvers is a quorum).
  const sender = delegate ?? input.actor;
  const other = instance.signals.find((s) => s.step === step.uniqueName && sentBy(s, sender) && s.identityId !== input.actor.identityId);
  if (other)
    fail(
      'Forbidden',
      `${sender.accountName} already decided step '${step.uniqueName}'${other.identityId === sender.identityId ? '' : ` acting for ${other.accountName}`}; one person makes one decision per step, whoever they act for.`,
    );
  const previous = instance.signals.find((s) => s.signal === signalName && s.identityId === input.actor.identityId);
  if (previous) {
    if (sameDecision(type, previous.data, data)) {
      const history = [entry(ctx, 'SignalRepeated', step.uniqueName, who, `${who} repeated the same ${signalName}; counted once.`, data)];
      return { instance: touch(instance, ctx), history, effects: [], duplicate: true };
    }
    throw new CountersignError(
      'SignalDecisionChanged',
      `${input.actor.accountName} already sent ${signalName} on step '${step.uniqueName}' with a different decision; a decision cannot be changed.`,
    );
  }
  const recorded: RecordedSignal = {
    step: step.uniqueName,
    signal: signalName,
    identityId: input.actor.identityId,
    accountName: input.actor.accountName,
    data,
    at: ctx.now,
    ...(delegate ? { by: delegate.accountName, byIdentityId: delegate.identityId } : {}),
  };
  const withSignal = { ...instance, signals: [...instance.signals, recorded] };
  const described = describeSignal(type, signalName, data);
  const received = entry(ctx, 'SignalReceived', step.uniqueName, who, delegate ? `${described} (by ${delegate.accountName}, acting for ${input.actor.accountName})` : described, {
    Signal: signalName,
    ...data,
    ...(delegate ? { ActingFor: input.actor.accountName, By: delegate.accountName } : {}),
  });
  return { ...decideCurrent({ instance: withSignal, history: [received], effects: [] }, version, step, ctx), duplicate: false };
}

/**
 * Re-decides a suspended instance from the signals it already holds. The reconciler calls it;
 * it returns null when the step is still undecided.
 */
export function reconcile(instance: Instance, version: DefinitionVersion, ctx: EngineContext): Transition | null {
  if (instance.status !== 'Suspended' || !instance.currentStep) return null;
  const step = findStep(version, instance.currentStep);
  const type = stepType(ctx, step);
  if (!type.decide) return null;
  const outcome = type.decide(stepContext(instance, step));
  if (outcome.kind === 'suspend') return null;
  const note = entry(ctx, 'Reconciled', step.uniqueName, null, 'The reconciler found this step decided by signals already recorded.');
  return applyOutcome({ instance, history: [note], effects: [] }, version, step, outcome, ctx);
}

/**
 * Stop: a Suspended instance, or a Running one (an automatic step in flight, or stuck), ends
 * Rejected. An operator can always end an instance; the run's later result finds it no longer
 * Running and is ignored (completeRun).
 */
export function stopInstance(instance: Instance, actor: Actor, ctx: EngineContext): Transition {
  if (instance.status !== 'Suspended' && instance.status !== 'Running')
    fail('InstanceWrongState', `Instance ${instance.id} is ${instance.status}; only a Suspended or Running instance can be stopped.`);
  const message = `Stopped by ${actor.accountName}.`;
  const next = finish(instance, 'Rejected', message, ctx);
  return { instance: next, history: [entry(ctx, 'Stopped', instance.currentStep, actor.accountName, message)], effects: [] };
}

/**
 * An administrator hands a waiting step to other roles (replacing the roles that may act now).
 * Decisions already recorded stay and count; the step is re-decided with them.
 */
export function reassign(instance: Instance, version: DefinitionVersion, roleIds: number[], actor: Actor, ctx: EngineContext): Transition {
  if (instance.status !== 'Suspended' || !instance.currentStep)
    fail('InstanceWrongState', `Instance ${instance.id} is ${instance.status}; only a Suspended instance's step can be reassigned.`);
  if (roleIds.length === 0) fail('ValidationFailed', 'RoleIds must name at least one role.');
  const step = findStep(version, instance.currentStep!);
  const ids = [...new Set(roleIds)].sort((a, b) => a - b);
  const moved = { ...instance, pendingRoleIds: ids, lastModified: ctx.now };
  const note = entry(
    ctx,
    'Reassigned',
    step.uniqueName,
    actor.accountName,
    `${actor.accountName} reassigned ${step.displayName} from roles ${instance.pendingRoleIds.join(', ') || 'none'} to roles ${ids.join(', ')}.`,
    {
      From: instance.pendingRoleIds,
      To: ids,
    },
  );
  return { instance: moved, history: [note], effects: [] };
}

/**
 * Moves a waiting instance to a newer version of its definition without restarting it: the step
 * it waits at must exist in the new version (same UniqueName, or `mapping[old]`) with the same
 * step type. Decisions already recorded are kept and re-decided under the new step's settings in
 * the same transition (the instance may continue, be rejected, or keep waiting there).
 */
export function migrateInstance(instance: Instance, from: DefinitionVersion, to: DefinitionVersion, mapping: Record<string, string>, actor: Actor, ctx: EngineContext): Transition {
  if (instance.status !== 'Suspended' || !instance.currentStep)
    fail('InstanceWrongState', `Instance ${instance.id} is ${instance.status}; only a Suspended instance can be migrated (restart others).`);
  if (!to.frozen) fail('ValidationFailed', `Version ${to.version} has never been published; migrate to a published version.`);
  if (to.version <= from.version) fail('ValidationFailed', `Instance ${instance.id} runs on version ${from.version}; migrate only to a newer version.`);
  const oldStep = findStep(from, instance.currentStep!);
  const target = mapping[oldStep.uniqueName] ?? oldStep.uniqueName;
  const newStep = to.steps.find((s) => s.uniqueName === target);
  if (!newStep)
    fail(
      'ValidationFailed',
      `Version ${to.version} has no step '${target}' for the waiting step '${oldStep.uniqueName}'; give StepMapping {"${oldStep.uniqueName}": "<UniqueName in version ${to.version}>"}.`,
    );
  if (newStep!.extensionName !== oldStep.extensionName)
    fail('ValidationFailed', `Step '${target}' in version ${to.version} is a ${newStep!.extensionName}, not a ${oldStep.extensionName}; decisions cannot carry over.`);
  const type = stepType(ctx, newStep!);
  if (!type.decide) fail('ValidationFailed', `Step '${target}' (${newStep!.extensionName}) does not wait for decisions.`);
  // A fresh visit of the new step that keeps the decisions recorded so far; suspend() recomputes roles, bars and deadlines.
  const moved: Instance = {
    ...instance,
    definitionVersion: to.version,
    status: 'Running',
    currentStep: newStep!.uniqueName,
    currentStepId: newStep!.id,
    currentStepDisplayName: newStep!.displayName,
    signals: instance.signals.filter((s) => s.step === oldStep.uniqueName).map((s) => ({ ...s, step: newStep!.uniqueName })),
    lastModified: ctx.now,
  };
  const note = entry(
    ctx,
    'Migrated',
    newStep!.uniqueName,
    actor.accountName,
    `${actor.accountName} moved the instance from version ${from.version} to ${to.version} at step ${oldStep.uniqueName === newStep!.uniqueName ? `'${newStep!.uniqueName}'` : `'${oldStep.uniqueName}' -> '${newStep!.uniqueName}'`}; ${moved.signals.length} decision(s) carried over.`,
    { FromVersion: from.version, ToVersion: to.version, FromStep: oldStep.uniqueName, ToStep: newStep!.uniqueName },
  );
  const t = decideCurrent({ instance: moved, history: [note], effects: [] }, to, newStep!, ctx);
  // Still waiting at a step of the same name: its deadlines and request mail from the first wait
  // stand (their jobs name this step), so the new wait plan is not queued twice.
  const same = newStep!.uniqueName === oldStep.uniqueName && t.instance.status === 'Suspended' && t.instance.currentStep === newStep!.uniqueName;
  return same ? { ...t, effects: t.effects.filter((e) => !(e.step === newStep!.uniqueName && (e.type === 'timer' || e.type === 'notify'))) } : t;
}

/** Restart, old half: a Failed or Suspended instance becomes CanceledForRestart. */
export function cancelForRestart(instance: Instance, newId: string, actor: Actor, ctx: EngineContext): Transition {
  if (instance.status !== 'Failed' && instance.status !== 'Suspended')
    fail('InstanceWrongState', `Instance ${instance.id} is ${instance.status}; only a Failed or Suspended instance can be restarted.`);
  const message = `Restarted by ${actor.accountName} as ${newId}.`;
  const next = { ...finish(instance, 'CanceledForRestart', message, ctx), restartedTo: newId };
  return { instance: next, history: [entry(ctx, 'Restarted', instance.currentStep, actor.accountName, message, { NewInstanceId: newId })], effects: [] };
}

/** What an automatic step's run produced; untrusted until boundedOutcome has checked it. */
export type RunOutcome = { ok: true; variables?: JsonObject; metadata?: JsonObject; message?: string } | { ok: false; message: string };

/** Result of an automatic step's run, fed back by the runner. */
export function completeRun(instance: Instance, version: DefinitionVersion, result: { step: string } & RunOutcome, ctx: EngineContext): Transition | null {
  // A result for a step the instance has left (a duplicate delivery) changes nothing.
  if (instance.status !== 'Running' || instance.currentStep !== result.step) return null;
  const step = findStep(version, result.step);
  return applyOutcome({ instance, history: [], effects: [] }, version, step, boundedOutcome(step, result, ctx.resultBounds ?? DEFAULT_RESULT_BOUNDS), ctx);
}

/** Longest step message kept (history, StatusMessage). */
const MAX_MESSAGE_CHARS = 4000;
const storableMessage = (m: string): string => wellFormedText(m.length > MAX_MESSAGE_CHARS ? `${m.slice(0, MAX_MESSAGE_CHARS)}…` : m);

/**
 * A step's result as both stores can keep it: text made well-formed, size and depth bounded.
 * A result over the bounds fails the step with the reason instead of reaching the store, where
 * it would make the transaction throw and the job run again and again.
 */
function boundedOutcome(step: StepDef, result: RunOutcome, bounds: JsonBounds): StepOutcome {
  if (!result.ok) return { kind: 'fail', message: storableMessage(result.message) };
  const variables = result.variables === undefined ? undefined : boundJson(result.variables, bounds);
  const metadata = result.metadata === undefined ? undefined : boundJson(result.metadata, bounds);
  for (const [what, b] of [
    ['result', variables],
    ['metadata', metadata],
  ] as const) {
    if (b && !b.ok)
      return {
        kind: 'fail',
        message: `Step '${step.displayName}' (${step.extensionName}) succeeded, but its ${what} cannot be stored: ${b.problem} (the limits are ${bounds.maxBytes} bytes and ${bounds.maxDepth} levels).`,
      };
  }
  const asObject = (b: typeof variables): JsonObject | undefined => (b?.ok && b.value !== null && typeof b.value === 'object' && !Array.isArray(b.value) ? b.value : undefined);
  return { kind: 'continue', variables: asObject(variables), metadata: asObject(metadata), message: result.message === undefined ? undefined : storableMessage(result.message) };
}

/**
 * A timer set when the step started waiting has come due. Null when the instance has left that
 * step (the timer is stale and simply dropped).
 */
export function fireTimer(instance: Instance, version: DefinitionVersion, timer: { step: string; kind: TimerKind; at: string }, ctx: EngineContext): Transition | null {
  if (instance.status !== 'Suspended' || instance.currentStep !== timer.step) return null;
  const step = findStep(version, timer.step);
  const type = stepType(ctx, step);
  if (!type.onTimer) return null;
  const r = type.onTimer(stepContext(instance, step), timer.kind, ctx.now, ctx.maxWaitMs);
  let t: Transition = { instance: touch(instance, ctx), history: [entry(ctx, r.history, step.uniqueName, null, r.message)], effects: [] };
  if (r.addRoleIds?.length) {
    const pendingRoleIds = [...new Set([...t.instance.pendingRoleIds, ...r.addRoleIds])].sort((a, b) => a - b);
    t = { ...t, instance: { ...t.instance, pendingRoleIds } };
  }
  t = withPlan(t, step, r, ctx);
  return r.outcome ? applyOutcome(t, version, step, r.outcome, ctx) : t;
}

/** Appends a history note (e.g. a notification was sent); nothing else changes. */
export function addNote(instance: Instance, note: { kind: HistoryEntry['kind']; step: string | null; message: string; data?: JsonObject }, ctx: EngineContext): Transition {
  return { instance, history: [entry(ctx, note.kind, note.step, null, note.message, note.data ?? null)], effects: [] };
}

// ---------------------------------------------------------------------------------------------

/** A repeated signal by the same identity is a duplicate when it says the same (the type decides what "the same" means). */
function sameDecision(type: StepType, a: JsonObject, b: JsonObject): boolean {
  return type.sameDecision ? type.sameDecision(a, b) : deepEqual(a, b);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function describeSignal(type: StepType, signal: string, data: JsonObject): string {
  return type.describeSignal?.(signal, data) ?? `Signal ${signal} received.`;
}
