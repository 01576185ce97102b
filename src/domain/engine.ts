import type { StepRegistry } from '../steps/index.ts';
import type { StepOutcome, StepType, WaitPlan } from '../steps/plugin.ts';
import { stepShouldRun, undecidedGateTokens } from './conditions.ts';
import { findStart } from './definition.ts';
import { boundJson, DEFAULT_RESULT_BOUNDS, wellFormedText, type JsonBounds } from './bounded-json.ts';
import { CountersignError, fail } from './errors.ts';
import { implicitStepNamed, implicitSteps } from './implicit-steps.ts';
import type { InstanceStatusName } from './status.ts';
import { resolvesFromTrusted, resolveValue, trustedOnly, untrustedTokens, type TokenScope } from './tokens.ts';
import type { Actor, DefinitionVersion, HistoryEntry, Instance, JsonObject, RecordedSignal, StepDef, StepOutputs } from './types.ts';

/**
 * The workflow semantics as pure functions: (instance, event) -> (instance, history, effects).
 * No I/O, no clock, no randomness: `now` and ids come in through the context.
 */
export interface EngineContext {
  now: string;
  registry: StepRegistry;
  /** The server's default upper bound on any wait (ms), used when a step sets no timeout. */
  maxWaitMs?: number;
  /** Bounds on an automatic step's result (variables, metadata); DEFAULT_RESULT_BOUNDS when absent. */
  resultBounds?: JsonBounds;
}

export type TimerKind = 'reminder' | 'escalation' | 'timeout';
export type NotifyKind = 'request' | 'reminder' | 'escalation' | 'approved' | 'denied' | 'timeout';

/**
 * Work the shell must do after committing a transition; the store queues each as a job, due at
 * `at` when given. Steps are visited at most once per instance (graphs are acyclic), so
 * (instanceId, step) names one visit.
 */
export type Effect =
  | { type: 'runStep'; instanceId: string; step: string; stepId: string }
  | { type: 'timer'; instanceId: string; step: string; kind: TimerKind; at: string }
  | { type: 'notify'; instanceId: string; step: string; kind: NotifyKind; at: string };

export interface Transition {
  instance: Instance;
  history: HistoryEntry[];
  effects: Effect[];
}

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

/** Safety bound on steps run in one transition; validated graphs are acyclic, so this never trips. */
const MAX_STEPS_PER_TRANSITION = 10_000;

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
  if (instance.status !== 'Suspended')
    fail('InstanceWrongState', `Instance ${instance.id} is ${instance.status}, not Suspended; only a suspended instance accepts signals.`);
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
  const checked = type.checkSignal!(signalName, input.data);
  if (!checked.ok) fail('SignalInvalid', checked.message);
  const data = (checked as { data: JsonObject }).data;

  const previous = instance.signals.find((s) => s.signal === signalName && s.identityId === input.actor.identityId);
  if (previous) {
    if (previous.data.Approved === data.Approved) {
      const history = [entry(ctx, 'SignalRepeated', step.uniqueName, input.actor.accountName, `${input.actor.accountName} repeated the same ${signalName}; counted once.`, data)];
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
  };
  const withSignal = { ...instance, signals: [...instance.signals, recorded] };
  const received = entry(ctx, 'SignalReceived', step.uniqueName, input.actor.accountName, describeSignal(signalName, data), { Signal: signalName, ...data });
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
export function completeRun(
  instance: Instance,
  version: DefinitionVersion,
  result: { step: string } & RunOutcome,
  ctx: EngineContext,
): Transition | null {
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
  for (const [what, b] of [['result', variables], ['metadata', metadata]] as const) {
    if (b && !b.ok)
      return { kind: 'fail', message: `Step '${step.displayName}' (${step.extensionName}) succeeded, but its ${what} cannot be stored: ${b.problem} (the limits are ${bounds.maxBytes} bytes and ${bounds.maxDepth} levels).` };
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
  const kind = timer.kind === 'reminder' ? 'Reminded' : timer.kind === 'escalation' ? 'Escalated' : 'TimedOut';
  let t: Transition = { instance: touch(instance, ctx), history: [entry(ctx, kind, step.uniqueName, null, r.message)], effects: [] };
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

/** Queues the timers and notifications a plan asks for at this step. */
function withPlan(t: Transition, step: StepDef, plan: WaitPlan, ctx: EngineContext): Transition {
  const id = t.instance.id;
  const effects: Effect[] = [
    ...(plan.timers ?? []).map((x) => ({ type: 'timer' as const, instanceId: id, step: step.uniqueName, kind: x.kind, at: x.at })),
    ...(plan.notify ?? []).map((kind) => ({ type: 'notify' as const, instanceId: id, step: step.uniqueName, kind, at: ctx.now })),
  ];
  return effects.length ? { ...t, effects: [...t.effects, ...effects] } : t;
}

function runFrom(t: Transition, version: DefinitionVersion, first: StepDef, ctx: EngineContext): Transition {
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
function applyOutcome(t: Transition, version: DefinitionVersion, step: StepDef, outcome: StepOutcome, ctx: EngineContext): Transition {
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

function decideCurrent(t: Transition, version: DefinitionVersion, step: StepDef, ctx: EngineContext): Transition {
  const type = stepType(ctx, step);
  const outcome = type.decide ? type.decide(stepContext(t.instance, step)) : ({ kind: 'suspend', message: t.instance.statusMessage ?? '' } as const);
  return applyOutcome(t, version, step, outcome, ctx);
}

/** A step that takes signals decides an approval; its conditions fail closed (conditions.ts). */
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
  // so suspend() does not mistake a fresh visit after an approval for a re-decision.
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
    stepOutputs: withTrustedOutputs(t.instance.stepOutputs, step, outcome, scopeOf(t.instance)),
    signals: [],
    pendingRoleIds: [],
    pendingExcludedIds: [],
    lastModified: ctx.now,
  };
  const kind = step.signals.length > 0 ? 'Approved' : 'StepCompleted';
  return log({ ...t, instance }, entry(ctx, kind, step.uniqueName, null, outcome.message ?? `Completed ${step.displayName}.`));
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
 * trusted values only: the requester must not choose who approves. `ignored` names the tokens that
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
function withTrustedOutputs(o: StepOutputs, step: StepDef, outcome: Continue, scope: TokenScope): StepOutputs {
  if (!step.conditions.every((c) => resolvesFromTrusted(c.value, scope))) return o;
  const vouched = outcome.trusted ?? { variables: outcome.variables, metadata: outcome.metadata };
  return {
    variables: vouched.variables ? { ...o.variables, ...vouched.variables } : o.variables,
    metadata: vouched.metadata ? { ...o.metadata, ...vouched.metadata } : o.metadata,
  };
}

function complete(t: Transition, version: DefinitionVersion, ctx: EngineContext): Transition {
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

function failWith(t: Transition, step: StepDef, message: string, ctx: EngineContext): Transition {
  const instance = finish(t.instance, 'Failed', message, ctx);
  return log({ ...t, instance }, entry(ctx, 'Failed', step.uniqueName, null, message));
}

function finish(instance: Instance, status: InstanceStatusName, message: string, ctx: EngineContext): Instance {
  return { ...instance, status, statusMessage: message, pendingRoleIds: [], pendingExcludedIds: [], lastModified: ctx.now };
}

const touch = (instance: Instance, ctx: EngineContext): Instance => ({ ...instance, lastModified: ctx.now });

const log = (t: Transition, e: HistoryEntry): Transition => ({ ...t, history: [...t.history, e] });

function entry(ctx: EngineContext, kind: HistoryEntry['kind'], step: string | null, actor: string | null, message: string, data: JsonObject | null = null): HistoryEntry {
  return { at: ctx.now, kind, step, actor, message, data };
}

function describeSignal(signal: string, data: JsonObject): string {
  if (signal !== 'ApprovalStatus') return `Signal ${signal} received.`;
  const verb = data.Approved === true ? 'Approved' : 'Denied';
  return typeof data.Comment === 'string' && data.Comment !== '' ? `${verb}: ${data.Comment}` : `${verb}.`;
}

export function scopeOf(instance: Instance): TokenScope {
  const trusted = { data: { ...instance.trustedData, ...instance.stepOutputs.variables }, metadata: instance.stepOutputs.metadata };
  return { data: instance.stateData, metadata: instance.metadata, trusted };
}

function stepContext(instance: Instance, step: StepDef) {
  return { step, instance, scope: scopeOf(instance), signals: instance.signals.filter((s) => s.step === step.uniqueName) };
}

function next(version: DefinitionVersion, step: StepDef, output: string): StepDef | undefined {
  const target = step.outputs[output];
  return target === undefined ? undefined : findStep(version, target);
}

export function findStep(version: DefinitionVersion, uniqueName: string): StepDef {
  const step = version.steps.find((s) => s.uniqueName === uniqueName) ?? implicitStepNamed(uniqueName);
  if (!step) fail('Internal', `Definition ${version.definitionId} version ${version.version} has no step '${uniqueName}'.`);
  return step!;
}

function stepType(ctx: EngineContext, step: StepDef): StepType {
  const t = ctx.registry.get(step.extensionName);
  if (!t) fail('Internal', `Step type ${step.extensionName} is not installed.`);
  return t!;
}
