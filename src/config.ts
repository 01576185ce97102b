import { parseDuration } from './domain/duration.ts';

/** Server configuration from the environment, checked once at start. Documented in docs/configuration.md. */
export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  adminUser: string | undefined;
  adminPassword: string | undefined;
  reconcileIntervalMs: number;
  authCacheTtlMs: number;
  /** Upper bound on any approval wait (ms) when a step sets no TimeoutAfter. */
  maxWaitMs: number;
  logLevel: string;
}

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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    adminUser: env.COUNTERSIGN_ADMIN_USER || undefined,
    adminPassword: env.COUNTERSIGN_ADMIN_PASSWORD || undefined,
    reconcileIntervalMs: int(env, 'COUNTERSIGN_RECONCILE_INTERVAL_MS', 5_000, 100, 3_600_000),
    authCacheTtlMs: int(env, 'COUNTERSIGN_AUTH_CACHE_TTL_MS', 60_000, 0, 3_600_000),
    maxWaitMs: duration(env, 'COUNTERSIGN_MAX_WAIT', 30 * 24 * 3600_000),
    logLevel: env.LOG_LEVEL || 'info',
  };
}
