import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.ts';
import { DEFAULT_RESULT_BOUNDS } from './domain/bounded-json.ts';
import type { Config } from './config.ts';
import { portalPlugin } from './portal/serve.ts';
import { randomBytes } from 'node:crypto';
import { actionPages } from './api/action-pages.ts';
import { JobRunner } from './runner/job-runner.ts';
import { Notifier } from './runner/notifier.ts';
import { Reconciler } from './runner/reconciler.ts';
import { BasicAuthenticator } from './security/basic-authenticator.ts';
import { ensureAdministrator } from './security/bootstrap.ts';
import { makeServices, type Services } from './service/services.ts';
import { SecurityService } from './service/security.ts';
import { WorkflowService } from './service/workflow.ts';
import { defaultRegistry } from './steps/index.ts';
import { runEnvironment, stepSettings } from './steps/settings.ts';
import { openStore } from './store/open.ts';


export interface Server {
  app: FastifyInstance;
  services: Services;
  workflow: WorkflowService;
  security: SecurityService;
  reconciler: Reconciler;
  runner: JobRunner;
  /** Stops taking requests, finishes background work, closes the store. */
  close(): Promise<void>;
}

/** Wires store, services, authentication, API and background workers together. */
export async function createServer(config: Config, log: (msg: string) => void = console.log): Promise<Server> {
  const store = await openStore(config.databaseUrl);
  const env = runEnvironment(config.steps);
  const services = makeServices(store, defaultRegistry(env), {
    reconcileIntervalMs: config.reconcileIntervalMs,
    authCacheTtlMs: config.authCacheTtlMs,
    maxWaitMs: config.maxWaitMs,
    resultBounds: { ...DEFAULT_RESULT_BOUNDS, maxBytes: config.stepMaxResultBytes ?? DEFAULT_RESULT_BOUNDS.maxBytes },
  });
  await ensureAdministrator(store, { user: config.adminUser, password: config.adminPassword }, log);
  const authenticator = new BasicAuthenticator({ store, ttlMs: config.authCacheTtlMs, login: config.login });
  // Every node must sign and accept the same links: the generated secret lives in the store.
  const linkSecret = config.linkSecret ?? (await store.getOrCreateSetting('action_link_secret', randomBytes(32).toString('base64url')));
  // The runner is built from the workflow service, which wakes it when jobs are queued.
  let wakeRunner = (): void => {};
  const workflow = new WorkflowService(services, (effects) => {
    if (effects.length) wakeRunner();
  });
  const security = new SecurityService(store, services.now);
  const app = await buildApp({
    services,
    workflow,
    security,
    authenticator,
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    extra: async (app) => {
      await app.register(portalPlugin());
      await app.register(actionPages(services, workflow, linkSecret));
    },
  });
  const reconciler = new Reconciler(store, workflow, config.reconcileIntervalMs, (m, err) => app.log.warn({ err }, m));
  reconciler.start();
  const notifier = new Notifier(store, workflow, {
    smtp: stepSettings(env).smtp,
    publicUrl: config.publicUrl ?? `http://${config.host}:${config.port}`,
    security,
    linkSecret,
    linkTtlMs: config.linkTtlMs ?? 7 * 24 * 3600_000,
  });
  const runner = new JobRunner(store, workflow, services.registry, env, {
    notifier,
    leaseMs: config.jobLeaseMs,
    maxAttempts: config.stepMaxAttempts,
    log: (m, err) => app.log.warn({ err }, m),
  });
  wakeRunner = () => runner.wake();
  runner.start();
  // Multi-node stores announce jobs queued on other nodes; polling stays the fallback.
  const unlisten = store.onJobsQueued?.(() => runner.wake()) ?? (() => {});
  return {
    app,
    services,
    workflow,
    security,
    reconciler,
    runner,
    async close() {
      await app.close();
      unlisten();
      await runner.stop();
      await reconciler.stop();
      await store.close();
    },
  };
}
