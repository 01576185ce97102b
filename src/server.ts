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
import { BasicAuthenticator, DEFAULT_LOGIN_SETTINGS, LOCAL_ACCOUNTS_ON, type LocalAccounts } from './security/basic-authenticator.ts';
import { BearerAuthenticator } from './security/bearer-authenticator.ts';
import { ChainedAuthenticator } from './security/chained-authenticator.ts';
import { LdapDirectory } from './security/ldap-directory.ts';
import type { Authenticator } from './security/principal.ts';
import { DEFAULT_EGRESS_POLICY } from './domain/egress.ts';
import type { Store } from './store/store.ts';
import { ensureAdministrator, revealOnStderr, type RevealPassword } from './security/bootstrap.ts';
import type { Logger } from 'pino';
import { createLogger, loggedSecurityEvents } from './observability/logger.ts';
import { startTracing, tracedStore } from './observability/tracing.ts';
import { PRODUCT_VERSION } from './api/status.ts';
import { makeServices, type Services } from './service/services.ts';
import { SecurityService } from './service/security.ts';
import { Passwords } from './security/passwords.ts';
import { WorkflowService } from './service/workflow.ts';
import { defaultRegistry } from './steps/index.ts';
import { runEnvironment, stepSettings } from './steps/support/settings.ts';
import { acmeChallengeRoutes } from './api/acme-challenge-routes.ts';
import { openStore } from './store/open.ts';
import { certificateRoutes } from './api/certificates/index.ts';
import { defaultCaKeyFile } from './ca/setup.ts';
import { CertificateService } from './service/certificates.ts';
import { ENROLLMENT_ENV } from './steps/enroll/enroll-step.ts';
import { REVOCATION_ENV } from './steps/revoke/revoke-step.ts';
import { pkiRoutes } from './api/pki-routes.ts';
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { acmeRoutes } from './api/acme/routes.ts';
import { acmeAdminRoutes } from './api/acme/admin-routes.ts';
import { AcmeService } from './service/acme/acme-service.ts';
import { issueServerCredentials, renewalDue, type ServerCredentials } from './service/tls-self.ts';
import { AuditLog } from './service/audit.ts';
import { DelegationService } from './service/delegations.ts';
import { auditRoutes } from './api/audit-routes.ts';
import { RENEWAL_ENV } from './steps/expiration-renewal/expiration-renewal.ts';
import { AlertService } from './service/alerts.ts';
import { Renewal } from './service/renewal.ts';
import { AlertScheduler } from './runner/alert-scheduler.ts';
import { alertRoutes } from './api/certificates/alert-routes.ts';
import { CERTIFICATE_FIELDS } from './api/certificates/inventory-routes.ts';

export interface Server {
  app: FastifyInstance;
  services: Services;
  workflow: WorkflowService;
  security: SecurityService;
  reconciler: Reconciler;
  runner: JobRunner;
  certificates: CertificateService;
  alerts: AlertService;
  alertScheduler: AlertScheduler;
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
  // Off unless the standard OTEL_* variables ask for traces; then the SDK is loaded (docs/operations.md "Tracing").
  const tracing = await startTracing(process.env, PRODUCT_VERSION, (m) => logger.warn({ component: 'tracing' }, m));
  if (tracing) logger.info({ component: 'tracing', exporters: tracing.exporters }, 'tracing on');
  const opened = await openStore(config.databaseUrl, logger.child({ component: 'store' }), { durability: config.durability });
  const store = tracing ? tracedStore(opened, /^postgres/i.test(config.databaseUrl) ? 'postgresql' : 'sqlite') : opened;
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
  let passwords: Passwords;
  try {
    passwords = new Passwords(config.passwords);
  } catch (e) {
    await store.close();
    throw e;
  }
  await ensureAdministrator(store, { user: config.adminUser, password: config.adminPassword }, log, opts.onAdminCreated ?? revealOnStderr, passwords);
  const localAccounts = config.localAccounts ?? LOCAL_ACCOUNTS_ON;
  if (!localAccounts.enabled) await warnAboutLocalAccounts(store, localAccounts, logger);
  const { authenticator, directory, bearer } = buildAuthenticator(config, store, logger, { passwords, localAccounts });
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
  const security = new SecurityService(store, services.now, events, { passwords, localAccounts, throttle: { ...DEFAULT_LOGIN_SETTINGS, ...config.login } });
  // The URL written into issued certificates (CRL, OCSP): the configured one, else where this server listens.
  let listeningUrl: string | null = null;
  const delegations = new DelegationService(store, services.now, events);
  workflow.delegations = delegations;
  // Refuses to start (closing the store) when the CA key-encryption key is missing or wrong.
  const certificates = await CertificateService.open(store, workflow, {
    keySource: { key: config.caKey, keyFile: config.caKeyFile, defaultFile: defaultCaKeyFile(config.databaseUrl) },
    algorithm: config.caAlgorithm ?? 'P-256',
    egress: stepSettings(env).egress,
    pkcs11: config.pkcs11,
    acme: config.acmeUpstream,
    log,
    events,
    publicBaseUrl: () => config.publicUrl ?? listeningUrl,
    revocationStatus: {
      crlValidityMs: config.crlValidityMs,
      ocspValidityMs: config.ocspValidityMs,
      revisionTtlMs: config.revocationRevisionTtlMs,
      log: (m, err) => logger.warn({ err, component: 'revocation' }, m),
    },
  }).catch(async (e) => {
    await store.close();
    throw e;
  });
  const renewal = new Renewal(certificates, certificates.enrollment);
  const alerts = new AlertService(store, workflow, {
    certificateFields: CERTIFICATE_FIELDS,
    log: (m, err) => logger.warn({ err, component: 'alerts' }, m),
    caName: (id) => {
      const ca = certificates.listCas().find((c) => c.id === id);
      return ca ? `${ca.hostName}\\${ca.logicalName}` : null;
    },
    send: async (m) => {
      const smtp = stepSettings(env).smtp;
      if (!smtp) throw new Error('No mail server is configured (COUNTERSIGN_SMTP_HOST).');
      await sendMail(smtp, m, AbortSignal.timeout(smtp.timeoutMs * 2));
    },
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
    tracing: tracing !== null,
    apiRoutes: [...certificateRoutes(certificates), auditRoutes(audit), alertRoutes(alerts, certificates, renewal), acmeAdminRoutes(acme)],
    extra: async (app) => {
      metrics.instrument(app);
      await app.register(healthRoutes({ store, runner: { isAlive: () => runner.isAlive() }, metrics, metricsAccess: config.metrics ?? { mode: 'open' } }));
      await app.register(signInRoutes(async () => (bearer ? bearer.portalProviders() : [])));
      // The portal exchanges the sign-in code at the issuer's token endpoint (on the issuer's origin).
      const connectSources = [...new Set((config.auth?.oidc ?? []).filter((i) => i.portalClientId).map((i) => new URL(i.issuer).origin))];
      await app.register(portalPlugin({ connectSources }));
      await app.register(actionPages(services, workflow, linkSecret));
      await app.register(pkiRoutes(certificates.revocationStatus));
      await app.register(acmeChallengeRoutes(certificates.challenges));
      await app.register(acmeRoutes(acme), { prefix: '/ACME' });
    },
  });
  app.addHook('onListen', async () => {
    const a = app.server.address();
    if (a && typeof a === 'object') listeningUrl = `${tls ? 'https' : 'http'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  });
  const stopTlsRenewal = config.tls?.mode === 'self' && tls ? renewSelfTls(app, certificates, selfTlsNames(config), tls, logger) : () => {};
  const reconciler = new Reconciler(store, workflow, config.reconcileIntervalMs, (m, err) => logger.warn({ err, component: 'reconciler' }, m));
  reconciler.start();
  // Rows a crash left in the audit outbox are sealed now; another node's leftovers every few seconds.
  if (config.auditLog !== false) audit.start();
  env[ENROLLMENT_ENV] = certificates.enrollment;
  env[REVOCATION_ENV] = certificates.revocation;
  certificates.revocationStatus.start(() => certificates.listCas().map((c) => c.id));
  env[RENEWAL_ENV] = renewal;
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
  const alertScheduler = new AlertScheduler(store, alerts, config.alertPollMs ?? 60_000, (m, err) => logger.warn({ err, component: 'alerts' }, m));
  alertScheduler.start();
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
    alerts,
    alertScheduler,
    metrics,
    acme,
    audit,
    async close() {
      stopTlsRenewal();
      await app.close();
      certificates.revocationStatus.stop();
      unlisten();
      await alertScheduler.stop();
      await runner.stop();
      await reconciler.stop();
      await directory?.close();
      // Entries queued by the last requests are written (and the outbox sealed) before the store closes.
      audit.stop();
      await audit.flush();
      await store.close();
      await tracing?.shutdown();
    },
  };
}

/** Local accounts off: says so at start, and warns when the break-glass account is missing or unset. */
async function warnAboutLocalAccounts(store: { findIdentityByName(name: string): Promise<unknown> }, local: LocalAccounts, logger: Logger): Promise<void> {
  if (local.breakGlass === null) {
    logger.warn('Local accounts are off (COUNTERSIGN_LOCAL_ACCOUNTS=off) and no break-glass account is named (COUNTERSIGN_BREAK_GLASS): no password signs in.');
    return;
  }
  if (!(await store.findIdentityByName(local.breakGlass)))
    logger.warn(
      { breakGlass: local.breakGlass },
      'The break-glass account named by COUNTERSIGN_BREAK_GLASS does not exist; create it (countersign identities add) before you need it.',
    );
  else logger.info({ breakGlass: local.breakGlass }, 'Local accounts are off: only the break-glass account signs in with a password.');
}

/** HTTP Basic (local passwords, or the directory's), and bearer tokens of the configured OIDC issuers in front of it. */
function buildAuthenticator(
  config: Config,
  store: Store,
  logger: Logger,
  local: { passwords: Passwords; localAccounts: LocalAccounts },
): { authenticator: Authenticator; directory: LdapDirectory | null; bearer: BearerAuthenticator | null } {
  const ldap = config.auth?.ldap ?? null;
  const directory = ldap ? new LdapDirectory(ldap) : null;
  const basic = new BasicAuthenticator({
    store,
    ttlMs: config.authCacheTtlMs,
    login: config.login,
    ...local,
    ...(directory ? { directory, directoryConcurrency: ldap!.poolSize } : {}),
  });
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
