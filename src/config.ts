import { isIP } from 'node:net';
import { DEFAULT_RESULT_BOUNDS } from './domain/bounded-json.ts';
import { CA_ALGORITHMS, type CaAlgorithm } from './ca/embedded-ca.ts';
import { parseDuration } from './domain/duration.ts';
import { DEFAULT_LOGIN_SETTINGS, type LocalAccounts, type LoginSettings } from './security/basic-authenticator.ts';
import { ARGON2_LIMITS, DEFAULT_ARGON2 } from './security/password.ts';
import type { PasswordSettings } from './security/passwords.ts';
import { DEFAULT_PASSWORD_POLICY, POLICY_MAX_LENGTH_CEILING, POLICY_MIN_LENGTH_FLOOR } from './domain/security/password-policy.ts';
import { egressPolicy } from './domain/egress.ts';
import { authSettingsFrom, type AuthSettings } from './security/auth-config.ts';
import type { Pkcs11Settings } from './ca/pkcs11/token.ts';
import { parseMetricsAccess, type MetricsAccess } from './observability/metrics.ts';
import { DEFAULT_STEP_SETTINGS, type SmtpSecurity, type SmtpSettings, type StepSettings } from './steps/support/settings.ts';
import type { Durability } from './store/operations.ts';

/** Server configuration from the environment, checked once at start. Documented in docs/configuration.md. */
export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  /**
   * Commit durability (COUNTERSIGN_DURABILITY): `full` (default) answers a write once it is on
   * disk; `relaxed` may lose the last acknowledged writes on power loss (docs/operations.md).
   */
  durability?: Durability;
  adminUser: string | undefined;
  adminPassword: string | undefined;
  reconcileIntervalMs: number;
  authCacheTtlMs: number;
  /** Upper bound on any approval wait (ms) when a step sets no TimeoutAfter. */
  maxWaitMs: number;
  /** How long an Idempotency-Key's first answer is kept for replay (ms). */
  idempotencyTtlMs?: number;
  /** HMAC key that signs the audit chain (COUNTERSIGN_AUDIT_KEY); absent: generated once and kept in the store. */
  auditKey?: string;
  /** False (COUNTERSIGN_AUDIT_LOG=off): security events are logged but not appended to the audit chain. */
  auditLog?: boolean;
  logLevel: string;
  /** How long a claimed job belongs to this process (COUNTERSIGN_JOB_LEASE_MS); default 30 s. */
  jobLeaseMs?: number;
  /** Attempts for a step whose failures are retryable (COUNTERSIGN_STEP_MAX_ATTEMPTS); default 5. */
  stepMaxAttempts?: number;
  /** Largest step result kept, as JSON bytes (COUNTERSIGN_STEP_MAX_RESULT_BYTES); default 256 KiB. */
  stepMaxResultBytes?: number;
  /** Base URL people reach this server at, for links in emails (default http://HOST:PORT). */
  publicUrl?: string;
  /** Secret that signs one-click approval links; when absent one is generated and kept in the store. */
  linkSecret?: string;
  /** How long one-click links stay valid (ms). */
  linkTtlMs?: number;
  /** Log-in throttling: lock-out, per-address limit, password-hash queue; defaults when absent. */
  login?: Partial<LoginSettings>;
  /** Key-encryption key of CA and retained private keys (COUNTERSIGN_CA_KEY), base64 or hex of 32 bytes. */
  caKey?: string;
  /** A file holding that key (COUNTERSIGN_CA_KEY_FILE). */
  caKeyFile?: string;
  /** Algorithm of the embedded CA created on first start (COUNTERSIGN_CA_ALGORITHM): P-256, P-384, RSA-3072. */
  caAlgorithm?: CaAlgorithm;
  /** The embedded CA's keys in a PKCS#11 token (COUNTERSIGN_PKCS11_MODULE, _TOKEN or _SLOT, _PIN or _PIN_FILE). */
  pkcs11?: Pkcs11Settings;
  /** ACME upstream CAs: time limit of one HTTP call (COUNTERSIGN_ACME_TIMEOUT_MS, default 30 s) and of a whole order (COUNTERSIGN_ACME_ORDER_TIMEOUT_MS, default 120 s). */
  acmeUpstream?: { timeoutMs: number; orderTimeoutMs: number };
  /** Mail server, PowerShell, script and REST settings of the automatic steps; defaults when absent. */
  steps?: Partial<StepSettings>;
  /** Who may read /metrics (COUNTERSIGN_METRICS); default open. */
  metrics?: MetricsAccess;
  /** Password policy, breached list and argon2id parameters (COUNTERSIGN_PASSWORD_*, COUNTERSIGN_ARGON2_*); defaults when absent. */
  passwords?: Partial<PasswordSettings>;
  /** Whether local passwords sign in (COUNTERSIGN_LOCAL_ACCOUNTS), and the break-glass account (COUNTERSIGN_BREAK_GLASS). */
  localAccounts?: LocalAccounts;
  /** How long a CRL of the embedded CA is valid (COUNTERSIGN_CRL_VALIDITY); reissued at half. Default 7 days. */
  crlValidityMs?: number;
  /** How long an OCSP answer is valid (COUNTERSIGN_OCSP_VALIDITY); cached for half. Default 1 hour. */
  ocspValidityMs?: number;
  /** How stale a node's view of revocations on other nodes may be (COUNTERSIGN_REVOCATION_REFRESH_MS). Default 500. */
  revocationRevisionTtlMs?: number;
  /** The ACME server's challenge validation (docs/acme.md). */
  acme?: AcmeConfig;
  /** HTTPS serving: certificate files, or a certificate from the own CA (`self`); absent: plain HTTP. */
  tls?: TlsConfig;
  /** How long SIGTERM/SIGINT wait for work to finish before exiting 1 (COUNTERSIGN_SHUTDOWN_GRACE_MS); default 10 s. */
  shutdownGraceMs?: number;
  /** How often the expiration alert scheduler checks for due alerts (COUNTERSIGN_ALERT_POLL_MS); default 60 s. */
  alertPollMs?: number;
  /** OAuth/OIDC issuers and the LDAP directory (COUNTERSIGN_OIDC_*, COUNTERSIGN_LDAP_*, COUNTERSIGN_CONFIG_FILE); none when absent. */
  auth?: AuthSettings;
}

export interface AcmeConfig {
  /** Port http-01 validation connects to (COUNTERSIGN_ACME_HTTP_PORT); default 80. */
  httpPort: number;
  /** Name -> IP overrides for validation (COUNTERSIGN_ACME_RESOLVE, `name=ip,...`). */
  resolve: Record<string, string>;
  /** `host:port` of the DNS server dns-01 asks (COUNTERSIGN_ACME_DNS); null: the system resolver. */
  dnsServer: string | null;
  /** Time allowed for one validation connection or query (COUNTERSIGN_ACME_VALIDATION_TIMEOUT_MS). */
  validationTimeoutMs: number;
}

export type TlsConfig = { mode: 'files'; certFile: string; keyFile: string } | { mode: 'self'; names: string[] };

export const DEFAULT_DATABASE_URL = 'sqlite:./data/countersign.db';

function int(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}; it is '${raw}'.`);
  return n;
}

function duration(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  try {
    return parseDuration(env[name]) ?? dflt;
  } catch (e) {
    throw new Error(`${name} ${(e as Error).message}; it is '${env[name]}'.`);
  }
}

function bounded(name: string, ms: number, min: number, max: number): number {
  if (ms < min || ms > max) throw new Error(`${name} must be from ${min / 1000} s to ${max / 1000} s.`);
  return ms;
}

function secret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (v.length < 32) throw new Error(`${name} must be at least 32 characters long.`);
  return v;
}

function durability(raw: string | undefined): Durability {
  const v = raw?.trim().toLowerCase() || 'full';
  if (v !== 'full' && v !== 'relaxed') throw new Error(`COUNTERSIGN_DURABILITY must be full or relaxed; it is '${raw}'.`);
  return v;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    durability: durability(env.COUNTERSIGN_DURABILITY),
    adminUser: env.COUNTERSIGN_ADMIN_USER || undefined,
    adminPassword: env.COUNTERSIGN_ADMIN_PASSWORD || undefined,
    reconcileIntervalMs: int(env, 'COUNTERSIGN_RECONCILE_INTERVAL_MS', 5_000, 100, 3_600_000),
    authCacheTtlMs: int(env, 'COUNTERSIGN_AUTH_CACHE_TTL_MS', 60_000, 0, 3_600_000),
    maxWaitMs: duration(env, 'COUNTERSIGN_MAX_WAIT', 30 * 24 * 3600_000),
    idempotencyTtlMs: duration(env, 'COUNTERSIGN_IDEMPOTENCY_TTL', 24 * 3600_000),
    auditKey: env.COUNTERSIGN_AUDIT_KEY || undefined,
    auditLog: !/^(off|false|0)$/i.test((env.COUNTERSIGN_AUDIT_LOG ?? '').trim()),
    logLevel: env.LOG_LEVEL || 'info',
    jobLeaseMs: int(env, 'COUNTERSIGN_JOB_LEASE_MS', 30_000, 500, 3_600_000),
    stepMaxAttempts: int(env, 'COUNTERSIGN_STEP_MAX_ATTEMPTS', 5, 1, 100),
    stepMaxResultBytes: int(env, 'COUNTERSIGN_STEP_MAX_RESULT_BYTES', DEFAULT_RESULT_BOUNDS.maxBytes, 1024, 64 * 1024 * 1024),
    steps: stepSettingsFrom(env),
    login: loginSettingsFrom(env),
    publicUrl: env.COUNTERSIGN_PUBLIC_URL ? env.COUNTERSIGN_PUBLIC_URL.replace(/\/+$/, '') : undefined,
    linkSecret: secret(env, 'COUNTERSIGN_LINK_SECRET'),
    linkTtlMs: duration(env, 'COUNTERSIGN_LINK_TTL', 7 * 24 * 3600_000),
    caKey: env.COUNTERSIGN_CA_KEY || undefined,
    caKeyFile: env.COUNTERSIGN_CA_KEY_FILE || undefined,
    caAlgorithm: caAlgorithm(env),
    pkcs11: pkcs11From(env),
    acmeUpstream: {
      timeoutMs: int(env, 'COUNTERSIGN_ACME_TIMEOUT_MS', 30_000, 1000, 600_000),
      orderTimeoutMs: int(env, 'COUNTERSIGN_ACME_ORDER_TIMEOUT_MS', 120_000, 1000, 3_600_000),
    },
    metrics: parseMetricsAccess(env.COUNTERSIGN_METRICS),
    shutdownGraceMs: int(env, 'COUNTERSIGN_SHUTDOWN_GRACE_MS', 10_000, 0, 3_600_000),
    passwords: passwordSettingsFrom(env),
    localAccounts: localAccountsFrom(env),
    crlValidityMs: bounded('COUNTERSIGN_CRL_VALIDITY', duration(env, 'COUNTERSIGN_CRL_VALIDITY', 7 * 24 * 3600_000), 60_000, 365 * 24 * 3600_000),
    ocspValidityMs: bounded('COUNTERSIGN_OCSP_VALIDITY', duration(env, 'COUNTERSIGN_OCSP_VALIDITY', 3600_000), 10_000, 7 * 24 * 3600_000),
    revocationRevisionTtlMs: int(env, 'COUNTERSIGN_REVOCATION_REFRESH_MS', 500, 0, 60_000),
    alertPollMs: int(env, 'COUNTERSIGN_ALERT_POLL_MS', 60_000, 100, 3_600_000),
    auth: authSettingsFrom(env),
    acme: acmeConfigFrom(env),
    tls: tlsConfigFrom(env),
  };
}

function passwordSettingsFrom(env: NodeJS.ProcessEnv): PasswordSettings {
  const d = DEFAULT_PASSWORD_POLICY;
  const L = ARGON2_LIMITS;
  const minLength = int(env, 'COUNTERSIGN_PASSWORD_MIN_LENGTH', d.minLength, POLICY_MIN_LENGTH_FLOOR, POLICY_MAX_LENGTH_CEILING);
  const maxLength = int(env, 'COUNTERSIGN_PASSWORD_MAX_LENGTH', Math.max(d.maxLength, minLength), POLICY_MIN_LENGTH_FLOOR, POLICY_MAX_LENGTH_CEILING);
  if (maxLength < minLength) throw new Error('COUNTERSIGN_PASSWORD_MAX_LENGTH must not be less than COUNTERSIGN_PASSWORD_MIN_LENGTH.');
  return {
    policy: { minLength, maxLength },
    breachedFile: env.COUNTERSIGN_PASSWORD_BREACHED_FILE?.trim() || null,
    hashing: {
      memoryKiB: int(env, 'COUNTERSIGN_ARGON2_MEMORY_KIB', DEFAULT_ARGON2.memoryKiB, L.memoryKiB.min, L.memoryKiB.max),
      timeCost: int(env, 'COUNTERSIGN_ARGON2_TIME_COST', DEFAULT_ARGON2.timeCost, L.timeCost.min, L.timeCost.max),
      parallelism: int(env, 'COUNTERSIGN_ARGON2_PARALLELISM', DEFAULT_ARGON2.parallelism, L.parallelism.min, L.parallelism.max),
    },
  };
}

function localAccountsFrom(env: NodeJS.ProcessEnv): LocalAccounts {
  const raw = env.COUNTERSIGN_LOCAL_ACCOUNTS?.trim().toLowerCase();
  if (raw && raw !== 'on' && raw !== 'off') throw new Error(`COUNTERSIGN_LOCAL_ACCOUNTS must be on or off; it is '${env.COUNTERSIGN_LOCAL_ACCOUNTS}'.`);
  const breakGlass = env.COUNTERSIGN_BREAK_GLASS?.trim() || null;
  if (breakGlass && (breakGlass.includes(':') || /[\u0000-\u001f\u007f]/.test(breakGlass)))
    throw new Error(`COUNTERSIGN_BREAK_GLASS '${breakGlass}' is not a valid account name (no colons or control characters).`);
  return { enabled: raw !== 'off', breakGlass };
}

function acmeConfigFrom(env: NodeJS.ProcessEnv): AcmeConfig {
  const resolve: Record<string, string> = {};
  for (const entry of (env.COUNTERSIGN_ACME_RESOLVE ?? '').split(',')) {
    if (entry.trim() === '') continue;
    const m = /^\s*([A-Za-z0-9.*_-]+)\s*=\s*([0-9A-Fa-f.:]+)\s*$/.exec(entry);
    if (!m || !isIP(m[2]!)) throw new Error(`COUNTERSIGN_ACME_RESOLVE entries are name=ip; '${entry.trim()}' is not.`);
    resolve[m[1]!.toLowerCase().replace(/\.$/, '')] = m[2]!;
  }
  const dns = env.COUNTERSIGN_ACME_DNS?.trim() || null;
  if (dns !== null && !/^(\[[0-9a-fA-F:]+\]|[0-9.]+)(:\d{1,5})?$/.test(dns)) throw new Error(`COUNTERSIGN_ACME_DNS must be ip[:port] (IPv6 in brackets); it is '${dns}'.`);
  return {
    httpPort: int(env, 'COUNTERSIGN_ACME_HTTP_PORT', 80, 1, 65535),
    resolve,
    dnsServer: dns,
    validationTimeoutMs: int(env, 'COUNTERSIGN_ACME_VALIDATION_TIMEOUT_MS', 10_000, 100, 120_000),
  };
}

function tlsConfigFrom(env: NodeJS.ProcessEnv): TlsConfig | undefined {
  const mode = env.COUNTERSIGN_TLS?.trim().toLowerCase();
  const cert = env.COUNTERSIGN_TLS_CERT?.trim();
  const key = env.COUNTERSIGN_TLS_KEY?.trim();
  if (mode === 'self') {
    if (cert || key) throw new Error('COUNTERSIGN_TLS=self and COUNTERSIGN_TLS_CERT/KEY exclude each other.');
    const names = (env.COUNTERSIGN_TLS_NAMES ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    return { mode: 'self', names };
  }
  if (mode && mode !== 'off') throw new Error(`COUNTERSIGN_TLS must be self or off; it is '${env.COUNTERSIGN_TLS}'.`);
  if (cert || key) {
    if (!cert || !key) throw new Error('COUNTERSIGN_TLS_CERT and COUNTERSIGN_TLS_KEY go together (PEM files).');
    return { mode: 'files', certFile: cert, keyFile: key };
  }
  return undefined;
}

function loginSettingsFrom(env: NodeJS.ProcessEnv): LoginSettings {
  const d = DEFAULT_LOGIN_SETTINGS;
  const login: LoginSettings = {
    maxFailures: int(env, 'COUNTERSIGN_LOGIN_MAX_FAILURES', d.maxFailures, 1, 1000),
    baseLockMs: int(env, 'COUNTERSIGN_LOGIN_LOCKOUT_MS', d.baseLockMs, 1000, 86_400_000),
    maxLockMs: int(env, 'COUNTERSIGN_LOGIN_MAX_LOCKOUT_MS', d.maxLockMs, 1000, 7 * 86_400_000),
    windowMs: int(env, 'COUNTERSIGN_LOGIN_FAILURE_WINDOW_MS', d.windowMs, 1000, 7 * 86_400_000),
    maxFailuresPerClient: int(env, 'COUNTERSIGN_LOGIN_CLIENT_MAX_FAILURES', d.maxFailuresPerClient, 1, 100_000),
    clientWindowMs: int(env, 'COUNTERSIGN_LOGIN_CLIENT_WINDOW_MS', d.clientWindowMs, 1000, 86_400_000),
    hashConcurrency: int(env, 'COUNTERSIGN_PASSWORD_HASH_CONCURRENCY', d.hashConcurrency, 1, 64),
    hashQueue: int(env, 'COUNTERSIGN_PASSWORD_HASH_QUEUE', d.hashQueue, 0, 10_000),
  };
  if (login.maxLockMs < login.baseLockMs) throw new Error('COUNTERSIGN_LOGIN_MAX_LOCKOUT_MS must not be less than COUNTERSIGN_LOGIN_LOCKOUT_MS.');
  return login;
}

function pkcs11From(env: NodeJS.ProcessEnv): Pkcs11Settings | undefined {
  const module = env.COUNTERSIGN_PKCS11_MODULE?.trim();
  const others = ['COUNTERSIGN_PKCS11_TOKEN', 'COUNTERSIGN_PKCS11_SLOT', 'COUNTERSIGN_PKCS11_PIN', 'COUNTERSIGN_PKCS11_PIN_FILE'].filter((n) => env[n]);
  if (!module) {
    if (others.length) throw new Error(`${others.join(', ')} set without COUNTERSIGN_PKCS11_MODULE (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so).`);
    return undefined;
  }
  const tokenLabel = env.COUNTERSIGN_PKCS11_TOKEN || undefined;
  const slot = env.COUNTERSIGN_PKCS11_SLOT ? int(env, 'COUNTERSIGN_PKCS11_SLOT', 0, 0, 1_000_000) : undefined;
  if (tokenLabel !== undefined && slot !== undefined) throw new Error('Set COUNTERSIGN_PKCS11_TOKEN (the token label) or COUNTERSIGN_PKCS11_SLOT, not both.');
  if (!env.COUNTERSIGN_PKCS11_PIN && !env.COUNTERSIGN_PKCS11_PIN_FILE)
    throw new Error('COUNTERSIGN_PKCS11_MODULE needs the user PIN: COUNTERSIGN_PKCS11_PIN or COUNTERSIGN_PKCS11_PIN_FILE.');
  return { module, tokenLabel, slot, pin: env.COUNTERSIGN_PKCS11_PIN || undefined, pinFile: env.COUNTERSIGN_PKCS11_PIN_FILE || undefined };
}

function caAlgorithm(env: NodeJS.ProcessEnv): CaAlgorithm {
  const raw = env.COUNTERSIGN_CA_ALGORITHM?.trim();
  if (!raw) return 'P-256';
  const hit = CA_ALGORITHMS.find((a) => a.toLowerCase() === raw.toLowerCase());
  if (!hit) throw new Error(`COUNTERSIGN_CA_ALGORITHM must be one of ${CA_ALGORITHMS.join(', ')}; it is '${raw}'.`);
  return hit;
}

const SMTP_SECURITY: SmtpSecurity[] = ['tls', 'starttls', 'opportunistic', 'none'];

function bool(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new Error(`${name} must be true or false; it is '${raw}'.`);
}

function smtpFrom(env: NodeJS.ProcessEnv): SmtpSettings | null {
  const host = env.COUNTERSIGN_SMTP_HOST?.trim();
  if (!host) return null;
  const rawSecurity = env.COUNTERSIGN_SMTP_SECURE?.trim().toLowerCase();
  if (rawSecurity && !SMTP_SECURITY.includes(rawSecurity as SmtpSecurity))
    throw new Error(`COUNTERSIGN_SMTP_SECURE must be one of ${SMTP_SECURITY.join(', ')}; it is '${env.COUNTERSIGN_SMTP_SECURE}'.`);
  const portGiven = env.COUNTERSIGN_SMTP_PORT !== undefined && env.COUNTERSIGN_SMTP_PORT !== '';
  const security = (rawSecurity as SmtpSecurity | undefined) ?? (portGiven && Number(env.COUNTERSIGN_SMTP_PORT) === 465 ? 'tls' : 'opportunistic');
  const port = int(env, 'COUNTERSIGN_SMTP_PORT', security === 'tls' ? 465 : security === 'none' ? 25 : 587, 1, 65535);
  const from = env.COUNTERSIGN_SMTP_FROM?.trim();
  if (!from) throw new Error('COUNTERSIGN_SMTP_FROM must be set when COUNTERSIGN_SMTP_HOST is (the sender address of workflow email).');
  return {
    host,
    port,
    security,
    rejectUnauthorized: bool(env, 'COUNTERSIGN_SMTP_TLS_VERIFY', true),
    user: env.COUNTERSIGN_SMTP_USER || null,
    password: env.COUNTERSIGN_SMTP_PASSWORD || null,
    from,
    timeoutMs: int(env, 'COUNTERSIGN_SMTP_TIMEOUT_MS', 15_000, 100, 600_000),
  };
}

function stepSettingsFrom(env: NodeJS.ProcessEnv): StepSettings {
  const d = DEFAULT_STEP_SETTINGS;
  return {
    smtp: smtpFrom(env),
    pwshPath: env.COUNTERSIGN_PWSH?.trim() || null,
    script: {
      timeoutMs: int(env, 'COUNTERSIGN_SCRIPT_TIMEOUT_MS', d.script.timeoutMs, 100, 3_600_000),
      memoryMb: int(env, 'COUNTERSIGN_SCRIPT_MEMORY_MB', d.script.memoryMb, 16, 16_384),
      maxOutputBytes: int(env, 'COUNTERSIGN_SCRIPT_MAX_OUTPUT_BYTES', d.script.maxOutputBytes, 1024, 1024 ** 3),
    },
    rest: {
      timeoutMs: int(env, 'COUNTERSIGN_REST_TIMEOUT_MS', d.rest.timeoutMs, 100, 3_600_000),
      maxResponseBytes: int(env, 'COUNTERSIGN_REST_MAX_RESPONSE_BYTES', d.rest.maxResponseBytes, 1024, 1024 ** 3),
    },
    egress: egressPolicy(env.COUNTERSIGN_EGRESS_ALLOW, env.COUNTERSIGN_EGRESS_DENY),
  };
}
