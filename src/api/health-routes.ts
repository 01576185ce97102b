import { timingSafeEqual, createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { CountersignError } from '../domain/errors.ts';
import type { Metrics, MetricsAccess } from '../observability/metrics.ts';
import type { Store } from '../store/store.ts';
import { extension } from './schema/routes.ts';

export interface HealthDeps {
  store: Store;
  runner: { isAlive(): boolean };
  metrics: Metrics;
  metricsAccess: MetricsAccess;
}

/** A store that does not answer within this is not ready (a hung connection must not hang the probe). */
const STORE_CHECK_MS = 3_000;

/**
 * Probes for orchestrators and scrapers, outside /KeyfactorAPI: no Keyfactor header, no Basic
 * authentication (they reveal nothing but up/down and counts). /metrics may require a token.
 */
export const healthRoutes =
  (d: HealthDeps): FastifyPluginAsync =>
  async (app) => {
    // Liveness: the process answers. It must not depend on the store, or a database outage restarts every node.
    app.get('/healthz', { schema: HEALTHZ }, async () => ({ status: 'ok' }));

    app.get('/readyz', { schema: READYZ }, async (_req, reply) => {
      const checks: Record<string, string> = { store: 'ok', migrations: 'ok', runner: 'ok' };
      try {
        const pending = (await withTimeout(d.store.migrationStatus(), STORE_CHECK_MS)).filter((m) => m.appliedAt === null);
        if (pending.length) checks.migrations = `pending: ${pending.map((m) => m.name).join(', ')}`;
      } catch {
        // The driver's message can name hosts and users: the log has it, the probe says only this.
        checks.store = 'unreachable';
        checks.migrations = 'unknown';
      }
      if (!d.runner.isAlive()) checks.runner = 'stopped';
      const ready = Object.values(checks).every((c) => c === 'ok');
      reply.code(ready ? 200 : 503);
      return { status: ready ? 'ok' : 'unavailable', checks };
    });

    app.get('/metrics', { schema: METRICS }, async (req, reply) => {
      const a = d.metricsAccess;
      if (a.mode === 'off') return reply.callNotFound();
      if (a.mode === 'token' && !sameSecret(bearer(req.headers.authorization), a.token)) {
        reply.code(401).header('WWW-Authenticate', 'Bearer realm="metrics"');
        return new CountersignError('Unauthenticated', 'The metrics endpoint needs Authorization: Bearer <the COUNTERSIGN_METRICS token>.').toJSON();
      }
      reply.header('Content-Type', d.metrics.registry.contentType);
      return d.metrics.render(d.store);
    });
  };

const bearer = (h: string | undefined): string => (h && /^Bearer\s+/i.test(h) ? h.replace(/^Bearer\s+/i, '').trim() : '');

/** Compares digests so neither the length nor the content leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return given !== '' && timingSafeEqual(digest(given), digest(expected));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), ms)))]).finally(() => clearTimeout(timer));
}

const PROBES = ['Probes'];

const HEALTHZ = extension({
  summary: 'Liveness: the process answers',
  tags: PROBES,
  response: { 200: Type.Object({ status: Type.Literal('ok') }) },
});

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Object({ store: Type.String(), migrations: Type.String(), runner: Type.String() }),
});

const READYZ = extension({
  summary: 'Readiness: store reachable, migrations applied, job runner alive',
  tags: PROBES,
  response: { 200: Readiness, 503: Readiness },
});

const METRICS = extension({
  summary: 'Prometheus metrics (text exposition format)',
  description: 'Open, behind a bearer token, or off, as COUNTERSIGN_METRICS says (docs/operations.md).',
  tags: PROBES,
  produces: ['text/plain'],
  response: { 200: Type.String({ description: 'Prometheus text format' }) },
});
