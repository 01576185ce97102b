import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { STATUS_NAMES, type InstanceStatusCode } from '../domain/status.ts';
import { StepRegistry } from '../domain/step-registry.ts';
import type { StepType } from '../domain/step-type.ts';
import type { Store } from '../store/store.ts';

/** Who may read /metrics (COUNTERSIGN_METRICS): everyone, a scraper with a bearer token, or nobody (404). */
export type MetricsAccess = { mode: 'open' } | { mode: 'token'; token: string } | { mode: 'off' };

export function parseMetricsAccess(raw: string | undefined): MetricsAccess {
  const v = (raw ?? '').trim();
  if (v === '' || v.toLowerCase() === 'open') return { mode: 'open' };
  if (v.toLowerCase() === 'off') return { mode: 'off' };
  const m = /^token:(.+)$/i.exec(v);
  if (m && m[1].length >= 16) return { mode: 'token', token: m[1] };
  throw new Error("COUNTERSIGN_METRICS must be 'open', 'off' or 'token:<value>' with a value of at least 16 characters.");
}

/** The signal endpoint's route, for counting signals by outcome from the HTTP hook. */
const SIGNAL_ROUTE = /\/Signals$/i;

/**
 * One Prometheus registry per server (tests run several in one process). Counters move where
 * things happen (the HTTP hook, step runs, mail sends); gauges of what is in the store are read
 * on each scrape with grouped queries, so a scrape costs two or three queries, not one per series.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'countersign_http_requests_total',
    help: 'HTTP requests answered, by route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'countersign_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by route.',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly signals = new Counter({
    name: 'countersign_signals_total',
    help: 'Signals received over the API, by outcome (accepted, rejected, failed).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly stepRuns = new Counter({
    name: 'countersign_step_runs_total',
    help: 'Automatic step runs, by step type and outcome (ok, failed).',
    labelNames: ['type', 'outcome'],
    registers: [this.registry],
  });
  readonly stepDuration = new Histogram({
    name: 'countersign_step_run_duration_seconds',
    help: 'Time automatic steps took, by step type.',
    labelNames: ['type'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60],
    registers: [this.registry],
  });
  readonly notifications = new Counter({
    name: 'countersign_notifications_total',
    help: 'Approval emails, by outcome (sent, failed).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly loginFailures = new Counter({ name: 'countersign_login_failures_total', help: 'Requests that sent credentials which were refused (401).', registers: [this.registry] });
  readonly instances = new Gauge({ name: 'countersign_instances', help: 'Workflow instances, by status.', labelNames: ['status'], registers: [this.registry] });
  readonly jobs = new Gauge({
    name: 'countersign_jobs',
    help: 'Background jobs, by state (queued, running, retrying: failed at least once and waiting to run again).',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly queueLag = new Gauge({ name: 'countersign_job_queue_lag_seconds', help: 'How long the oldest due job has waited to be claimed.', registers: [this.registry] });
  readonly durable = new Gauge({
    name: 'countersign_store_durable_commits',
    help: 'Whether an acknowledged write survives power loss (1) or not (0), with the database setting in force (COUNTERSIGN_DURABILITY).',
    labelNames: ['setting'],
    registers: [this.registry],
  });
  readonly pool = new Gauge({
    name: 'countersign_store_pool_connections',
    help: 'Database pool connections, by state (total, idle, waiting, max); PostgreSQL only.',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly scrapeErrors = new Counter({
    name: 'countersign_metrics_store_errors_total',
    help: 'Scrapes where the store could not be read (the store gauges keep their last values).',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts every answered request; the route is the pattern (never the raw URL, which would explode the series). */
  instrument(app: FastifyInstance): void {
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      this.httpRequests.inc({ method: req.method, route, status: String(status) });
      this.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
      if (status === 401 && req.headers.authorization) this.loginFailures.inc();
      if (req.method === 'POST' && SIGNAL_ROUTE.test(route)) this.signals.inc({ outcome: status < 300 ? 'accepted' : status < 500 ? 'rejected' : 'failed' });
    });
  }

  /** The same step types with each run timed and counted; the registry and runner stay unaware. */
  instrumentSteps(registry: StepRegistry): StepRegistry {
    return new StepRegistry(
      registry.all().map((t): StepType => {
        const run = t.run;
        if (!run) return t;
        return {
          ...t,
          run: async (input) => {
            const stop = this.stepDuration.startTimer({ type: t.extensionName });
            try {
              const result = await run.call(t, input);
              this.stepRuns.inc({ type: t.extensionName, outcome: 'ok' });
              return result;
            } catch (e) {
              this.stepRuns.inc({ type: t.extensionName, outcome: 'failed' });
              throw e;
            } finally {
              stop();
            }
          },
        };
      }),
      registry.env,
    );
  }

  /** Wraps a mail sender so each message is counted. */
  countSends<A extends unknown[]>(send: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
    return async (...args) => {
      try {
        await send(...args);
        this.notifications.inc({ outcome: 'sent' });
      } catch (e) {
        this.notifications.inc({ outcome: 'failed' });
        throw e;
      }
    };
  }

  /** Reads the store's gauges, then renders everything in Prometheus' text format. */
  async render(store: Store): Promise<string> {
    try {
      const s = await store.stats();
      this.instances.reset();
      for (const code of Object.keys(STATUS_NAMES)) this.instances.set({ status: STATUS_NAMES[Number(code) as InstanceStatusCode] }, s.instancesByStatus[Number(code)] ?? 0);
      this.jobs.set({ state: 'queued' }, s.jobs.queued);
      this.jobs.set({ state: 'running' }, s.jobs.running);
      this.jobs.set({ state: 'retrying' }, s.jobs.retrying);
      this.queueLag.set(s.jobs.lagMs / 1000);
      if (s.durability) {
        this.durable.reset();
        this.durable.set({ setting: s.durability.setting }, s.durability.durable ? 1 : 0);
      }
      if (s.pool) for (const [state, n] of Object.entries(s.pool)) this.pool.set({ state }, n);
    } catch {
      this.scrapeErrors.inc();
    }
    return this.registry.metrics();
  }
}
