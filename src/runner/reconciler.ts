import type { WorkflowService } from '../service/workflow.ts';
import type { Store } from '../store/store.ts';

/**
 * The safety net (Keyfactor runs a daily task for this): every few seconds, advance any
 * Suspended instance whose recorded signals already decide its step. With transactional
 * signals this should find nothing; each find is written to the instance's history.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly store: Store,
    private readonly workflow: WorkflowService,
    private readonly intervalMs: number,
    private readonly log: (msg: string, err?: unknown) => void = () => {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; returns how many instances it advanced. Overlapping calls share one pass. */
  sweep(): Promise<number> {
    this.running ??= this.exclusivePass().finally(() => (this.running = null));
    return this.running;
  }

  /** On several nodes one sweeps at a time; the others skip their turn (0 advanced). */
  private async exclusivePass(): Promise<number> {
    if (!this.store.tryExclusive) return this.pass();
    let advanced = 0;
    try {
      await this.store.tryExclusive('reconciler', async () => {
        advanced = await this.pass();
      });
    } catch (err) {
      this.log('reconciler: could not take the reconciler lock', err);
    }
    return advanced;
  }

  private async pass(): Promise<number> {
    let advanced = 0;
    try {
      for (const id of await this.store.listReconcileCandidates(500)) {
        try {
          if (await this.workflow.reconcileOne(id)) advanced++;
        } catch (err) {
          this.log(`reconciler: instance ${id} could not be advanced`, err);
        }
      }
    } catch (err) {
      this.log('reconciler: sweep failed', err);
    }
    if (advanced) this.log(`reconciler: advanced ${advanced} instance(s) whose signals already decided their step`);
    return advanced;
  }
}
