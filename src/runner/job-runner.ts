import { randomUUID } from 'node:crypto';
import { CountersignError } from '../domain/errors.ts';
import { findStep, scopeOf, type RunOutcome } from '../domain/engine.ts';
import { resolveValue } from '../domain/tokens.ts';
import type { JsonObject } from '../domain/types.ts';
import type { WorkflowService } from '../service/workflow.ts';
import type { StepRegistry } from '../domain/step-registry.ts';
import { StepFailure, type RunEnvironment, type RunResult } from '../domain/step-type.ts';
import type { Job, Store } from '../store/store.ts';
import { isStoreUnavailable } from '../store/unavailable.ts';
import type { Notifier, NotifyResult } from './notifier.ts';
import { inSpan } from '../observability/tracing.ts';

export interface JobRunnerOptions {
  /** Identifies this process in job leases. */
  owner?: string;
  concurrency?: number;
  /** How long a claimed job is ours; a crashed owner's jobs are claimed again after it. */
  leaseMs?: number;
  /** Upper bound for one step run. */
  stepTimeoutMs?: number;
  maxAttempts?: number;
  /** Poll interval when nothing wakes the runner (another node queued work). */
  pollMs?: number;
  log?: (msg: string, err?: unknown, context?: Record<string, unknown>) => void;
  /** Sends the notifications step types ask for; without it they are recorded as not sent. */
  notifier?: Notifier;
}

/**
 * Executes automatic steps from the durable job queue and feeds each result back as an event.
 * A job is deleted in the same transaction that records its result, so a crash at any point
 * leaves it queued and it runs again (at least once; executors get an idempotency key).
 */
export class JobRunner {
  readonly owner: string;
  private readonly o: Required<Omit<JobRunnerOptions, 'owner' | 'notifier'>>;
  private readonly notifier: Notifier | undefined;
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private inFlight = new Set<Promise<void>>();
  /** When the claim loop last went round; readiness reports a loop that stopped turning. */
  private lastTurnAt = 0;

  constructor(
    private readonly store: Store,
    private readonly workflow: WorkflowService,
    private readonly registry: StepRegistry,
    private readonly env: RunEnvironment,
    opts: JobRunnerOptions = {},
  ) {
    this.owner = opts.owner ?? `node-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.notifier = opts.notifier;
    const leaseMs = opts.leaseMs ?? 30_000;
    this.o = {
      concurrency: opts.concurrency ?? 8,
      leaseMs,
      // Below the lease (25 s of the default 30 s), so a live owner never loses a job it is still running.
      stepTimeoutMs: opts.stepTimeoutMs ?? Math.max(100, leaseMs - Math.min(5_000, Math.ceil(leaseMs / 5))),
      maxAttempts: opts.maxAttempts ?? 5,
      pollMs: opts.pollMs ?? 1_000,
      log: opts.log ?? (() => {}),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops claiming, waits for the jobs in flight to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Started, not stopped, and its loop went round recently (it turns at least every poll interval). */
  isAlive(now = Date.now()): boolean {
    return this.running && now - this.lastTurnAt < Math.max(30_000, this.o.pollMs * 5);
  }

  /** Called when a transition queued work, so it starts without waiting for the poll. */
  wake(): void {
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.lastTurnAt = Date.now();
      let claimed: Job[] = [];
      const free = this.o.concurrency - this.inFlight.size;
      try {
        if (free > 0) claimed = await this.store.claimJobs(this.owner, free, this.o.leaseMs);
      } catch (err) {
        this.o.log('runner: could not claim jobs', err, {});
      }
      for (const job of claimed) {
        const p = this.runJob(job).finally(() => {
          this.inFlight.delete(p);
          this.wake();
        });
        this.inFlight.add(p);
      }
      if (claimed.length === 0 || this.inFlight.size >= this.o.concurrency) await this.sleep();
    }
  }

  private async sleep(): Promise<void> {
    const due = await this.store.nextJobDelay().catch(() => null);
    const ms = Math.min(this.o.pollMs, due === null ? this.o.pollMs : Math.max(due, 10));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
    });
  }

  /** Runs one job; never throws. A span per job (tracing on): the store calls and the step run are inside it. */
  async runJob(job: Job): Promise<void> {
    const attributes = {
      'countersign.job.id': String(job.id),
      'countersign.job.type': job.effect.type,
      'countersign.instance.id': job.instanceId,
      'countersign.step.unique_name': job.effect.step,
    };
    return inSpan(`job ${job.effect.type}`, attributes, () => this.runJobTraced(job));
  }

  private async runJobTraced(job: Job): Promise<void> {
    try {
      if (job.effect.type === 'timer') return await this.workflow.fireTimer(job, this.owner);
      if (job.effect.type === 'notify') return await this.sendNotification(job);
      const outcome = await this.execute(job);
      if (outcome.kind === 'retry') {
        await this.store.releaseJob(job.id, this.owner, new Date(Date.now() + backoffMs(job.attempts)).toISOString(), outcome.message);
        return;
      }
      await this.record(job, outcome.kind === 'ok' ? { ok: true, ...outcome.result } : { ok: false, message: outcome.message });
    } catch (err) {
      if (settled(err)) return;
      // The job stays leased and is claimed again later; the attempt check in execute stops it running more than maxAttempts times.
      this.o.log(`runner: job ${job.id} for instance ${job.instanceId} failed unexpectedly`, err, {
        jobId: job.id,
        instanceId: job.instanceId,
        step: job.effect.step,
      });
    }
  }

  /**
   * Records a run's result. When the store refuses it, the run ends as a step failure saying so;
   * when even that fails, the job is dropped: a result that cannot be stored must never make
   * the step (and its side effect) run again.
   */
  private async record(job: Job, outcome: RunOutcome): Promise<void> {
    try {
      return await this.workflow.completeStep(job, this.owner, outcome);
    } catch (err) {
      // Unreachable or busy (a failover): not the result's fault. The job stays leased and runs again, within maxAttempts.
      if (settled(err) || isStoreUnavailable(err)) throw err;
      this.o.log(`runner: the result of job ${job.id} for instance ${job.instanceId} could not be recorded`, err, {
        jobId: job.id,
        instanceId: job.instanceId,
        step: job.effect.step,
      });
      const why = err instanceof Error ? err.message : String(err);
      const message = `The result of step '${job.effect.step}' could not be recorded (${excerpt(why)}); the step is not run again.`;
      try {
        return await this.workflow.completeStep(job, this.owner, { ok: false, message });
      } catch (again) {
        if (settled(again)) return;
        this.o.log(`runner: job ${job.id} for instance ${job.instanceId}: not even its failure could be recorded; dropping the job (Stop the instance)`, again, {
          jobId: job.id,
          instanceId: job.instanceId,
          step: job.effect.step,
        });
        await this.store.dropJob(job.id, this.owner);
      }
    }
  }

  private async sendNotification(job: Job): Promise<void> {
    let result: NotifyResult;
    // As for steps: claimed past the limit means earlier sends left no record; do not send again.
    if (job.attempts > this.o.maxAttempts) {
      const kind = job.effect.type === 'notify' ? job.effect.kind : '';
      return await this.workflow.noteNotification(job, this.owner, {
        kind: 'NotificationFailed',
        message: `The ${kind} email is not sent again: its job was picked up ${job.attempts - 1} times without its outcome being recorded (the limit is ${this.o.maxAttempts}).`,
      });
    }
    try {
      result = this.notifier
        ? await this.notifier.notify(job, AbortSignal.timeout(this.o.stepTimeoutMs))
        : { kind: 'NotificationFailed', message: 'The notification was not sent: this server has no notifier.' };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof StepFailure && err.retryable && job.attempts < this.o.maxAttempts) {
        await this.store.releaseJob(job.id, this.owner, new Date(Date.now() + backoffMs(job.attempts)).toISOString(), message);
        return;
      }
      result = {
        kind: 'NotificationFailed',
        message: `The ${job.effect.type === 'notify' ? job.effect.kind : ''} email was not sent${job.attempts > 1 ? ` (after ${job.attempts} attempts)` : ''}: ${message}`,
      };
    }
    await this.workflow.noteNotification(job, this.owner, result);
  }

  private async execute(job: Job): Promise<{ kind: 'ok'; result: RunResult } | { kind: 'fail' | 'retry'; message: string }> {
    const instance = await this.store.getInstance(job.instanceId);
    if (!instance) return { kind: 'fail', message: 'The instance no longer exists.' };
    // Stopped (or otherwise moved on) before this job ran: no side effect; completeRun ignores the result.
    if (instance.status !== 'Running' || instance.currentStep !== job.effect.step) return { kind: 'fail', message: 'The instance has left this step.' };
    const version = await this.workflow.version(instance.definitionId, instance.definitionVersion);
    const step = findStep(version, job.effect.step);
    // Claimed more often than allowed: earlier runs ended without their result being recorded
    // (a crash, a store error). Checked before running, so the side effect never repeats past maxAttempts.
    if (job.attempts > this.o.maxAttempts)
      return {
        kind: 'fail',
        message: `Step '${step.displayName}' (${step.extensionName}) failed: its job was picked up ${job.attempts - 1} times without a result being recorded (the limit is ${this.o.maxAttempts}); it is not run again.`,
      };
    const type = this.registry.get(step.extensionName);
    if (!type?.run) return { kind: 'fail', message: `Step '${step.displayName}' (${step.extensionName}) cannot run: this server has no executor for ${step.extensionName}.` };
    const scope = scopeOf(instance);
    const config: JsonObject = {};
    for (const [k, v] of Object.entries(step.config)) {
      const decl = type.parameters[k];
      config[k] = decl?.tokens ? resolveValue(v, scope, decl.encodeTokens?.(step.config)) : v;
    }
    try {
      const attributes = {
        'countersign.step.type': step.extensionName,
        'countersign.step.unique_name': step.uniqueName,
        'countersign.instance.id': instance.id,
        'countersign.step.attempt': job.attempts,
      };
      const result = await inSpan(`step ${step.extensionName}`, attributes, () =>
        type.run!({
          step,
          config,
          instance,
          idempotencyKey: `${instance.id}/${step.uniqueName}`,
          attempt: job.attempts,
          signal: AbortSignal.timeout(this.o.stepTimeoutMs),
          env: this.env,
        }),
      );
      return { kind: 'ok', result };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const retryable = err instanceof StepFailure ? err.retryable : false;
      if (retryable && job.attempts < this.o.maxAttempts) return { kind: 'retry', message };
      const tries = job.attempts > 1 ? ` (after ${job.attempts} attempts)` : '';
      return { kind: 'fail', message: `Step '${step.displayName}' (${step.extensionName}) failed${tries}: ${message}` };
    }
  }
}

/** Lost the lease (another node owns the job now) or the instance vanished: nothing to do. */
const settled = (err: unknown): boolean => err instanceof CountersignError && (err.errorName === 'Conflict' || err.errorName === 'NotFound');

const excerpt = (text: string): string => (text.length > 300 ? `${text.slice(0, 300)}…` : text);

/** 1 s, 2 s, 4 s ... capped at 5 minutes. */
export const backoffMs = (attempts: number): number => Math.min(1000 * 2 ** Math.max(0, attempts - 1), 300_000);
