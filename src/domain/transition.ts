import type { JsonBounds } from './bounded-json.ts';
import { fail } from './errors.ts';
import { implicitStepNamed } from './implicit-steps.ts';
import type { InstanceStatusName } from './status.ts';
import type { StepRegistry } from './step-registry.ts';
import type { NotifyKind, StepContext, StepType, TimerKind, WaitPlan } from './step-type.ts';
import type { TokenScope } from './tokens.ts';
import type { DefinitionVersion, HistoryEntry, Instance, JsonObject, StepDef } from './types.ts';

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
  /**
   * Who holds each role (identity ids), where the shell loaded it for a decision that needs it
   * (a step that fails early when its quorum can no longer be reached). Absent: unknown.
   */
  roleMembers?: Record<number, number[]>;
}

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

/** Queues the timers and notifications a plan asks for at this step. */
export function withPlan(t: Transition, step: StepDef, plan: WaitPlan, ctx: EngineContext): Transition {
  const id = t.instance.id;
  const effects: Effect[] = [
    ...(plan.timers ?? []).map((x) => ({ type: 'timer' as const, instanceId: id, step: step.uniqueName, kind: x.kind, at: x.at })),
    ...(plan.notify ?? []).map((kind) => ({ type: 'notify' as const, instanceId: id, step: step.uniqueName, kind, at: ctx.now })),
  ];
  return effects.length ? { ...t, effects: [...t.effects, ...effects] } : t;
}

export function finish(instance: Instance, status: InstanceStatusName, message: string, ctx: EngineContext): Instance {
  return { ...instance, status, statusMessage: message, pendingRoleIds: [], pendingExcludedIds: [], lastModified: ctx.now };
}

export const touch = (instance: Instance, ctx: EngineContext): Instance => ({ ...instance, lastModified: ctx.now });

export const log = (t: Transition, e: HistoryEntry): Transition => ({ ...t, history: [...t.history, e] });

export function entry(ctx: EngineContext, kind: HistoryEntry['kind'], step: string | null, actor: string | null, message: string, data: JsonObject | null = null): HistoryEntry {
  return { at: ctx.now, kind, step, actor, message, data };
}

export function scopeOf(instance: Instance): TokenScope {
  const trusted = { data: { ...instance.trustedData, ...instance.stepOutputs.variables }, metadata: instance.stepOutputs.metadata };
  return { data: instance.stateData, metadata: instance.metadata, trusted };
}

export function stepContext(instance: Instance, step: StepDef, roleMembers?: Record<number, number[]>): StepContext {
  const ctx: StepContext = { step, instance, scope: scopeOf(instance), signals: instance.signals.filter((s) => s.step === step.uniqueName) };
  // Only while waiting with roles (a step being entered has none yet) and for roles the shell loaded.
  if (!roleMembers || instance.pendingRoleIds.length === 0 || !instance.pendingRoleIds.every((r) => Object.hasOwn(roleMembers, r))) return ctx;
  return { ...ctx, members: [...new Set(instance.pendingRoleIds.flatMap((r) => roleMembers[r] ?? []))].sort((a, b) => a - b) };
}

export function findStep(version: DefinitionVersion, uniqueName: string): StepDef {
  const step = version.steps.find((s) => s.uniqueName === uniqueName) ?? implicitStepNamed(uniqueName);
  if (!step) fail('Internal', `Definition ${version.definitionId} version ${version.version} has no step '${uniqueName}'.`);
  return step!;
}

export function stepType(ctx: EngineContext, step: StepDef): StepType {
  const t = ctx.registry.get(step.extensionName);
  if (!t) fail('Internal', `Step type ${step.extensionName} is not installed.`);
  return t!;
}
