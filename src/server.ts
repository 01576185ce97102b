import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.ts';
import { workflowOf } from './api/definitions.ts';
import type { Config } from './config.ts';
import { portalPlugin } from './portal/serve.ts';
import { healthRoutes } from './api/health-routes.ts';
import { Metrics } from './observability/metrics.ts';
import { sendMail } from './steps/mailer.ts';
import { randomBytes } from 'node:crypto';
import { actionPages } from './api/action-pages.ts';
import { JobRunner } from './runner/job-runner.ts';
import { Notifier } from './runner/notifier.ts';
import { Reconciler } from './runner/reconciler.ts';
import { BasicAuthenticator } from './security/basic-authenticator.ts';
import { ensureAdministrator } from './security/bootstrap.ts';
import { makeServices, type Services } from './service/services.ts';
import type { WorkflowService } from './service/workflow.ts';
import { defaultRegistry } from './steps/index.ts';
import { runEnvironment, stepSettings } from './steps/settings.ts';
import { openStore } from './store/open.ts';
import type { Store } from './store/store.ts';

type JobsQueuedSource = { onJobsQueued(listener: () => void): () => void };

export interface Server {
  app: FastifyInstance;
  services: Services;
  workflow: WorkflowService;
  reconciler: Reconciler;
  runner: JobRunner;
  metrics: Metrics;
  /** Stops taking requests, finishes background work, closes the store. */
  close(): Promise<void>;
}

/** Wires store, services, authentication, API and background workers together. */
export async function createServer(config: Config, log: (msg: string) => void = console.log): Promise<Server> {
  const store = await openStore(config.databaseUrl);
  const metrics = new Metrics();
  const services = makeServices(store, metrics.instrumentSteps(defaultRegistry()), { reconcileIntervalMs: config.reconcileIntervalMs, authCacheTtlMs: config.authCacheTtlMs, maxWaitMs: config.maxWaitMs });
  await ensureAdministrator(store, { user: config.adminUser, password: config.adminPassword }, log);
  const authenticator = new BasicAuthenticator({ store, ttlMs: config.authCacheTtlMs });
  // Every node must sign and accept the same links: the generated secret lives in the store.
  const linkSecret = config.linkSecret ?? (await store.getOrCreateSetting('action_link_secret', randomBytes(32).toString('base64url')));
  const app = await buildApp({
    services,
    authenticator,
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    extra: async (app) => {
      metrics.instrument(app);
      await app.register(healthRoutes({ store, runner: { isAlive: () => runner.isAlive() }, metrics, metricsAccess: config.metrics ?? { mode: 'open' } }));
      await app.register(portalPlugin());
      await app.register(actionPages(services, linkSecret));
    },
  });
  const workflow = workflowOf(services);
  const reconciler = new Reconciler(store, workflow, config.reconcileIntervalMs, (m, err) => app.log.warn({ err }, m));
  reconciler.start();
  const env = runEnvironment(config.steps);
  const notifier = new Notifier(store, workflow, {
    smtp: stepSettings(env).smtp,
    publicUrl: config.publicUrl ?? `http://${config.host}:${config.port}`,
    linkSecret,
    linkTtlMs: config.linkTtlMs ?? 7 * 24 * 3600_000,
    send: metrics.countSends(async (m, signal) => {
      await sendMail(stepSettings(env).smtp!, m, signal);
    }),
  });
  const runner = new JobRunner(store, workflow, services.registry, env, {
    notifier,
    leaseMs: config.jobLeaseMs,
    maxAttempts: config.stepMaxAttempts,
    log: (m, err) => app.log.warn({ err }, m),
  });
  workflow.effectSink = (effects) => {
    if (effects.length) runner.wake();
  };
  runner.start();
  // Multi-node stores announce jobs queued on other nodes; polling stays the fallback.
  const unlisten = 'onJobsQueued' in store ? (store as Store & JobsQueuedSource).onJobsQueued(() => runner.wake()) : () => {};
  return {
    app,
    services,
    workflow,
    reconciler,
    runner,
    metrics,
    async close() {
      await app.close();
      unlisten();
      await runner.stop();
      await reconciler.stop();
      await store.close();
    },
  };
}
