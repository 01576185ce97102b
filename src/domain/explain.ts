import { decidedBy } from './delegation.ts';
import type { StepWaitExplanation } from './step-type.ts';
import { findStep, stepContext, type EngineContext } from './transition.ts';
import type { DefinitionVersion, HistoryEntry, Instance } from './types.ts';

/*
 * Explain: why an instance waits or stopped, as plain data. Pure: the service gathers the
 * instance, its version, the history, the people behind the pending roles and the queued work,
 * and this function says what they mean. What a waiting step needs is the step type's to say
 * (StepType.explainWait); the engine knows no type by name.
 */

export interface PersonRef {
  id: number;
  accountName: string;
}

export interface RoleRef {
  id: number;
  name: string;
  /** Identities holding the role (directly or by claim), as far as the store can enumerate them. */
  members: PersonRef[];
}

export interface QueuedWork {
  kind: string;
  step: string;
  runAt: string;
  attempts: number;
  lastError: string | null;
}

export interface ExplainInput {
  instance: Instance;
  version: DefinitionVersion | null;
  history: HistoryEntry[];
  /** The roles that may act on the current step now (pendingRoleIds), resolved. */
  roles: RoleRef[];
  /** Jobs queued for the instance (automatic steps, timers, notifications). */
  queued: QueuedWork[];
}

export interface Explanation {
  instanceId: string;
  status: Instance['status'];
  statusMessage: string | null;
  /** One sentence: why the instance is where it is. */
  reason: string;
  step: { uniqueName: string; displayName: string; type: string } | null;
  wait: StepWaitExplanation | null;
  /** Who may still act on the current step: holders of its roles, minus the barred and those who acted. */
  mayAct: { roles: { id: number; name: string }[]; identities: PersonRef[] } | null;
  /** For a Failed instance or an automatic step being retried: the last error and the next attempt. */
  failure: { step: string | null; lastError: string; at: string | null; nextRetry: string | null; attempts: number | null } | null;
}

export function explainInstance(input: ExplainInput, ctx: EngineContext): Explanation {
  const { instance, version } = input;
  const base = { instanceId: instance.id, status: instance.status, statusMessage: instance.statusMessage };
  const stepDef = version && instance.currentStep ? safeFindStep(version, instance.currentStep) : null;
  const type = stepDef ? ctx.registry.get(stepDef.extensionName) : undefined;
  const step = stepDef ? { uniqueName: stepDef.uniqueName, displayName: stepDef.displayName, type: stepDef.extensionName } : null;

  if (instance.status === 'Suspended' && stepDef) {
    const sctx = stepContext(instance, stepDef);
    const visit = currentVisit(input.history, stepDef.uniqueName);
    const since = visit.find((h) => h.kind === 'Suspended')?.at ?? instance.lastModified;
    const wait = type?.explainWait?.({ ...sctx, history: visit }, since, ctx.maxWaitMs) ?? null;
    const barred = new Set(type?.barredActors?.(sctx).identityIds ?? []);
    const acted = new Set(sctx.signals.flatMap(decidedBy));
    const seen = new Set<number>();
    const identities: PersonRef[] = [];
    for (const r of input.roles)
      for (const m of r.members)
        if (!barred.has(m.id) && !acted.has(m.id) && !seen.has(m.id)) {
          seen.add(m.id);
          identities.push(m);
        }
    identities.sort((a, b) => a.accountName.localeCompare(b.accountName));
    const reason = wait?.summary ?? instance.statusMessage ?? `Waiting at ${stepDef.displayName}.`;
    return {
      ...base,
      reason,
      step,
      wait,
      mayAct: { roles: input.roles.map((r) => ({ id: r.id, name: r.name })), identities },
      failure: null,
    };
  }

  if (instance.status === 'Running') {
    const job = input.queued.find((j) => j.kind === 'runStep' && (!instance.currentStep || j.step === instance.currentStep));
    const failure = job?.lastError ? { step: job.step, lastError: job.lastError, at: null, nextRetry: job.runAt, attempts: job.attempts } : null;
    const reason = failure
      ? `The automatic step ${step?.displayName ?? job!.step} failed ${job!.attempts} time(s); it is retried at ${job!.runAt}.`
      : `The automatic step ${step?.displayName ?? instance.currentStep ?? ''} is running or queued${job ? ` (due ${job.runAt})` : ''}.`;
    return { ...base, reason, step, wait: null, mayAct: null, failure };
  }

  if (instance.status === 'Failed') {
    const last = [...input.history].reverse().find((h) => h.kind === 'Failed' || h.kind === 'TimedOut');
    return {
      ...base,
      reason: `The instance failed${last?.step ? ` at ${step?.displayName ?? last.step}` : ''}: ${last?.message ?? instance.statusMessage ?? 'no reason recorded'}. Restart it to try again.`,
      step,
      wait: null,
      mayAct: null,
      failure: { step: last?.step ?? instance.currentStep, lastError: last?.message ?? instance.statusMessage ?? '', at: last?.at ?? null, nextRetry: null, attempts: null },
    };
  }

  const endings: Record<string, string> = {
    Complete: 'The instance completed',
    Rejected: 'The instance was rejected',
    CanceledForRestart: 'The instance was restarted as a new instance',
  };
  const last = [...input.history].reverse().find((h) => ['Completed', 'Rejected', 'Stopped', 'Restarted', 'TimedOut'].includes(h.kind));
  const who = last?.actor ? ` by ${last.actor}` : '';
  return {
    ...base,
    reason: `${endings[instance.status] ?? `The instance is ${instance.status}`}${who}${instance.statusMessage ? `: ${instance.statusMessage}` : '.'}`,
    step,
    wait: null,
    mayAct: null,
    failure: null,
  };
}

/** The history of the current visit of a step: entries since it was last entered. */
export function currentVisit(history: HistoryEntry[], step: string): HistoryEntry[] {
  let start = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i]!.kind === 'StepEntered' && history[i]!.step === step) {
      start = i;
      break;
    }
  }
  return history.slice(start).filter((h) => h.step === step);
}

function safeFindStep(version: DefinitionVersion, name: string) {
  try {
    return findStep(version, name);
  } catch {
    return null;
  }
}

export type { StepWaitExplanation };

/** What one signal did, decided in the transaction that recorded it (Prefer: return=representation). */
export interface SignalOutcome {
  /** Repeated: counted once before; Recorded: the step still waits; Advanced: it moved on (to another step, or finished). */
  outcome: 'Repeated' | 'Recorded' | 'Advanced';
  decidedStep: string;
  status: Instance['status'];
  statusMessage: string | null;
  /** Where the instance is now. */
  step: { uniqueName: string; displayName: string } | null;
  /** The counts at the signalled step, while it still waits. */
  counts: StepWaitExplanation['counts'] | null;
}

/** decidedStep: the step the signal was sent to; after: the instance as the transaction left it. */
export function signalOutcome(decidedStep: string, after: Instance, duplicate: boolean, version: DefinitionVersion, ctx: EngineContext): SignalOutcome {
  const here = after.currentStep ? safeFindStep(version, after.currentStep) : null;
  const stillWaiting = after.status === 'Suspended' && after.currentStep === decidedStep && here !== null;
  let counts: SignalOutcome['counts'] = null;
  if (stillWaiting) {
    const type = ctx.registry.get(here.extensionName);
    counts = type?.explainWait?.({ ...stepContext(after, here), history: [] }, after.lastModified, ctx.maxWaitMs).counts ?? null;
  }
  return {
    outcome: duplicate ? 'Repeated' : stillWaiting ? 'Recorded' : 'Advanced',
    decidedStep,
    status: after.status,
    statusMessage: after.statusMessage,
    step: here ? { uniqueName: here.uniqueName, displayName: here.displayName } : null,
    counts,
  };
}
