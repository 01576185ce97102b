import type { AlertService } from '../service/alerts.ts';
import type { Store } from '../store/store.ts';

/**
 * Runs the expiration alerts on their schedule: every pollMs it asks the alert service which
 * alerts are due and runs them. With several nodes one node runs at a time (tryExclusive); should
 * two run anyway, the store's (alert, certificate) claims keep every action to once.
 */
export class AlertScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly alerts: AlertService,
    private readonly pollMs: number,
    private readonly log: (msg: string, err?: unknown) => void = () => {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.pollMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; a pass still running is not started twice. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    const run = async () => {
      try {
        const work = async () => {
          // First what finished instances wrote (Retired = True), so collections see it in this run.
          await this.alerts.syncFinished();
          await this.alerts.runDue();
        };
        if (this.store.tryExclusive) await this.store.tryExclusive('expiration-alerts', work);
        else await work();
      } catch (e) {
        this.log('The expiration alert run failed; it is tried again on the next poll.', e);
      }
    };
    this.running = run().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}
