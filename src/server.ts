import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.ts';
import { DEFAULT_RESULT_BOUNDS } from './domain/bounded-json.ts';
import type { Config } from './config.ts';
import { portalPlugin } from './portal/serve.ts';
import { healthRoutes } from './api/health-routes.ts';
import { Metrics } from './observability/metrics.ts';
import { sendMail } from './steps/support/mailer.ts';
import { randomBytes } from 'node:crypto';
import { actionPages } from './api/action-pages.ts';
import { JobRunner } from './runner/job-runner.ts';
import { Notifier } from './runner/notifier.ts';
import { Reconciler } from './runner/reconciler.ts';
import { BasicAuthenticator } from './security/basic-authenticator.ts';
import { ensureAdministrator, revealOnStderr, type RevealPassword } from './security/bootstrap.ts';
import type { Logger } from 'pino';
import { createLogger, loggedSecurityEvents } from './observability/logger.ts';
import { makeServices, type Services } from './service/services.ts';
import { SecurityService } from './service/security.ts';
import { WorkflowService } from './service/workflow.ts';
import { defaultRegistry } from './steps/index.ts';
import { runEnvironment, stepSettings } from './steps/support/settings.ts';
import { openStore } from './store/open.ts';
import { certificateRoutes } from './api/certificates/index.ts';
import { defaultCaKeyFile } from './ca/setup.ts';
import { CertificateService } from './service/certificates.ts';
import { ENROLLMENT_ENV } from './steps/enroll/enroll-step.ts';
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { acmeRoutes } from './api/acme/routes.ts';
import { acmeAdminRoutes } from './api/acme/admin-routes.ts';
import { AcmeService } from './service/acme/acme-service.ts';
import { issueServerCredentials, renewalDue, type ServerCredentials } from './service/tls-self.ts';
import { AuditLog } from './service/audit.ts';
import { DelegationService } from './service/delegations.ts';
import { auditRoutes } from './api/audit-routes.ts';

export interface Server {
  app: FastifyInstance;
  services: Services;
  workflow: WorkflowService;
  security: SecurityService;
  reconciler: Reconciler;
  runner: JobRunner;
  certificates: CertificateService;
  metrics: Metrics;
  acme: AcmeService;
  /** The chained audit log (docs/security/audit.md). */
  audit: AuditLog;
  /** Stops taking requests, finishes background work, closes the store. */
  close(): Promise<void>;
}

export interface ServerOptions {
  /** The server's one logger (default: JSON lines on stdout at config.logLevel). */
  logger?: Logger;
  /** Receives a generated administrator password once; never logged (default: stderr). */
  onAdminCreated?: RevealPassword;
}

/** Wires store, services, authentication, API and background workers together. */
export async function createServer(config: Config, opts: ServerOptions = {}): Promise<Server> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const log = (msg: string) => logger.info(msg);
  const store = await openStore(config.databaseUrl, logger.child({ component: 'store' }));
  // Every node must sign the audit chain with the same key: configured, else generated once in the store.
  const auditKey = config.auditKey ?? (await store.getOrCreateSetting('audit_hmac_key', randomBytes(32).toString('base64url')));
  const audit = new AuditLog(store, auditKey, (m, err) => logger.error({ err, component: 'audit' }, m));
  const events = config.auditLog === false ? loggedSecurityEvents(logger) : audit.wrap(loggedSecurityEvents(logger));
  const env = runEnvironment(config.steps);
  const metrics = new Metrics();
  const services = makeServices(store, metrics.instrumentSteps(defaultRegistry(env)), {
    reconcileIntervalMs: config.reconcileIntervalMs,
    authCacheTtlMs: config.authCacheTtlMs,
    maxWaitMs: config.maxWaitMs,
    idempotencyTtlMs: config.idempotencyTtlMs ?? 24 * 3600_000,
    resultBounds: { ...DEFAULT_RESULT_BOUNDS, maxBytes: config.stepMaxResultBytes ?? DEFAULT_RESULT_BOUNDS.maxBytes },
  });
  await ensureAdministrator(store, { user: config.adminUser, password: config.adminPassword }, log, opts.onAdminCreated ?? revealOnStderr);
  const authenticator = new BasicAuthenticator({ store, ttlMs: config.authCacheTtlMs, login: config.login });
  // Every node must sign and accept the same links: the generated secret lives in the store.
  const linkSecret = config.linkSecret ?? (await store.getOrCreateSetting('action_link_secret', randomBytes(32).toString('base64url')));
  // The runner is built from the workflow service, which wakes it when jobs are queued.
  let wakeRunner = (): void => {};
  const workflow = new WorkflowService(
    services,
    (effects) => {
      if (effects.length) wakeRunner();
    },
    events,
  );
  const security = new SecurityService(store, services.now, events);
  const delegations = new DelegationService(store, services.now, events);
  workflow.delegations = delegations;
  // Refuses to start (closing the store) when the CA key-encryption key is missing or wrong.
  const certificates = await CertificateService.open(store, workflow, {
    keySource: { key: config.caKey, keyFile: config.caKeyFile, defaultFile: defaultCaKeyFile(config.databaseUrl) },
    algorithm: config.caAlgorithm ?? 'P-256',
    log,
    events,
  }).catch(async (e) => {
    await store.close();
    throw e;
  });
  const acme = new AcmeService(
    store,
    certificates,
    {
      validation: {
        httpPort: config.acme?.httpPort ?? 80,
        resolve: config.acme?.resolve ?? {},
        dnsServer: config.acme?.dnsServer ?? null,
        egress: stepSettings(env).egress,
        timeoutMs: config.acme?.validationTimeoutMs ?? 10_000,
      },
    },
    logger.child({ component: 'acme' }),
  );
  const tls = await serverCredentials(config, certificates);
  const app = await buildApp({
    https: tls ?? undefined,
    services,
    workflow,
    security,
    authenticator,
    logger,
    events,
    delegations,
    apiRoutes: [...certificateRoutes(certificates), auditRoutes(audit), acmeAdminRoutes(acme)],
    extra: async (app) => {
      metrics.instrument(app);
      await app.register(healthRoutes({ store, runner: { isAlive: () => runner.isAlive() }, metrics, metricsAccess: config.metrics ?? { mode: 'open' } }));
      await app.register(portalPlugin());
      await app.register(actionPages(services, workflow, linkSecret));
      await app.register(acmeRoutes(acme), { prefix: '/ACME' });
    },
  });
  const stopTlsRenewal = config.tls?.mode === 'self' && tls ? renewSelfTls(app, certificates, selfTlsNames(config), tls, logger) : () => {};
  const reconciler = new Reconciler(store, workflow, config.reconcileIntervalMs, (m, err) => logger.warn({ err, component: 'reconciler' }, m));
  reconciler.start();
  env[ENROLLMENT_ENV] = certificates.enrollment;
  const notifier = new Notifier(store, workflow, {
    smtp: stepSettings(env).smtp,
    registry: services.registry,
    publicUrl: config.publicUrl ?? `http://${config.host}:${config.port}`,
    security,
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
    log: (m, err, context) => logger.warn({ err, component: 'runner', ...context }, m),
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
    certificates,
    metrics,
    acme,
    audit,
    async close() {
      stopTlsRenewal();
      await app.close();
      unlisten();
      await runner.stop();
      await reconciler.stop();
      // Entries queued by the last requests are written before the store closes.
      await audit.flush();
      await store.close();
    },
  };
}

/** COUNTERSIGN_TLS_CERT/KEY read once; COUNTERSIGN_TLS=self: issued from the first CA. */
async function serverCredentials(config: Config, certificates: CertificateService): Promise<ServerCredentials | { key: string; cert: string } | null> {
  if (!config.tls) return null;
  if (config.tls.mode === 'files') return { key: readFileSync(config.tls.keyFile, 'utf8'), cert: readFileSync(config.tls.certFile, 'utf8') };
  const ca = certificates.listCas()[0];
  if (!ca) throw new Error('COUNTERSIGN_TLS=self needs a CA, and none is loaded.');
  return issueServerCredentials(ca, selfTlsNames(config));
}

const selfTlsNames = (config: Config): string[] => [config.host, ...(config.tls?.mode === 'self' ? config.tls.names : [])];

/** Checks hourly; past two thirds of its lifetime the certificate is re-issued and swapped into the listening server. */
function renewSelfTls(
  app: FastifyInstance,
  certificates: CertificateService,
  names: string[],
  first: ServerCredentials | { key: string; cert: string },
  logger: Logger,
): () => void {
  let current = first as ServerCredentials;
  const timer = setInterval(() => {
    if (!renewalDue(current, new Date())) return;
    issueServerCredentials(certificates.listCas()[0]!, names).then(
      (next) => {
        (app.server as HttpsServer).setSecureContext({ key: next.key, cert: next.cert });
        current = next;
        logger.info({ component: 'tls', notAfter: next.notAfter.toISOString() }, 'renewed the self-issued TLS certificate');
      },
      (err) => logger.warn({ err, component: 'tls' }, 'could not renew the self-issued TLS certificate; retrying in an hour'),
    );
  }, 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}
