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
import { signInRoutes } from './api/sign-in-routes.ts';
import { JobRunner } from './runner/job-runner.ts';
import { Notifier } from './runner/notifier.ts';
import { Reconciler } from './runner/reconciler.ts';
import { BasicAuthenticator } from './security/basic-authenticator.ts';
import { BearerAuthenticator } from './security/bearer-authenticator.ts';
import { ChainedAuthenticator } from './security/chained-authenticator.ts';
import { LdapDirectory } from './security/ldap-directory.ts';
import type { Authenticator } from './security/principal.ts';
import { DEFAULT_EGRESS_POLICY } from './domain/egress.ts';
import type { Store } from './store/store.ts';
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
  const { authenticator, directory, bearer } = buildAuthenticator(config, store, logger);
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
  const app = await buildApp({
    services,
    workflow,
    security,
    authenticator,
    logger,
    events,
    delegations,
    apiRoutes: [...certificateRoutes(certificates), auditRoutes(audit)],
    extra: async (app) => {
      metrics.instrument(app);
      await app.register(healthRoutes({ store, runner: { isAlive: () => runner.isAlive() }, metrics, metricsAccess: config.metrics ?? { mode: 'open' } }));
      await app.register(signInRoutes(async () => (bearer ? bearer.portalProviders() : [])));
      // The portal exchanges the sign-in code at the issuer's token endpoint (on the issuer's origin).
      const connectSources = [...new Set((config.auth?.oidc ?? []).filter((i) => i.portalClientId).map((i) => new URL(i.issuer).origin))];
      await app.register(portalPlugin({ connectSources }));
      await app.register(actionPages(services, workflow, linkSecret));
    },
  });
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
    audit,
    async close() {
      await app.close();
      unlisten();
      await runner.stop();
      await reconciler.stop();
      await directory?.close();
      // Entries queued by the last requests are written before the store closes.
      await audit.flush();
      await store.close();
    },
  };
}

/** HTTP Basic (local passwords, or the directory's), and bearer tokens of the configured OIDC issuers in front of it. */
function buildAuthenticator(config: Config, store: Store, logger: Logger): { authenticator: Authenticator; directory: LdapDirectory | null; bearer: BearerAuthenticator | null } {
  const ldap = config.auth?.ldap ?? null;
  const directory = ldap ? new LdapDirectory(ldap) : null;
  const basic = new BasicAuthenticator({ store, ttlMs: config.authCacheTtlMs, login: config.login, ...(directory ? { directory, directoryConcurrency: ldap!.poolSize } : {}) });
  const issuers = config.auth?.oidc ?? [];
  if (!issuers.length) return { authenticator: basic, directory, bearer: null };
  const egress = config.steps?.egress ?? DEFAULT_EGRESS_POLICY;
  const extra = config.auth?.oidcEgressAllow ?? { names: [], cidrs: [] };
  const authLog = logger.child({ component: 'auth' });
  const bearer = new BearerAuthenticator({
    store,
    issuers,
    // Discovery, JWKS and introspection go through the egress policy, plus what COUNTERSIGN_OIDC_EGRESS_ALLOW adds for them alone.
    egress: { allow: { names: [...egress.allow.names, ...extra.names], cidrs: [...egress.allow.cidrs, ...extra.cidrs] }, deny: egress.deny },
    ttlMs: config.authCacheTtlMs,
    onRefused: (reason) => authLog.info({ reason }, 'bearer token refused'),
  });
  return { authenticator: new ChainedAuthenticator([bearer, basic]), directory, bearer };
}
