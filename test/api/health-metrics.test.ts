import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { connectTo, dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { basic, startTestApp, type TestApp } from '../support/server.ts';
import { json, startHttp, type HttpStandIn } from '../support/stand-ins/http.ts';
import { startSmtp } from '../support/stand-ins/smtp.ts';

/*
 * Probes and metrics over real HTTP, on SQLite or (COUNTERSIGN_TEST_STORE=postgres) PostgreSQL.
 */
let t: TestApp;
let api: HttpStandIn;
const get = (path: string, headers: Record<string, string> = {}) => fetch(`${t.url}${path}`, { headers });

/** `name{labels} value` lines of the Prometheus text format -> value for an exact series. */
async function scrape(app: TestApp = t, headers: Record<string, string> = {}): Promise<(series: string) => number> {
  const res = await fetch(`${app.url}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m && !line.startsWith('#')) values.set(m[1], Number(m[2]));
  }
  return (series) => values.get(series) ?? 0;
}

beforeAll(async () => {
  api = await startHttp();
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
  await api.close();
});

describe('health probes', () => {
  it('/healthz and /readyz answer without the Keyfactor header or credentials', async () => {
    const live = await get('/healthz');
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { store: 'ok', migrations: 'ok', runner: 'ok' } });
  });

  it("Keyfactor's Status/HealthCheck answers 204 with no body, behind its header and authentication", async () => {
    const ok = await t.call('GET', '/KeyfactorAPI/Status/HealthCheck');
    expect(ok.status).toBe(204);
    expect(ok.text).toBe('');
    expect((await t.call('GET', '/KeyfactorAPI/Status/HealthCheck', { auth: null })).status).toBe(401);
    expect((await get('/KeyfactorAPI/Status/HealthCheck', { authorization: t.adminAuth })).status).toBe(400);
  });
});

describe('readiness failures name the check that failed', () => {
  it('a pending migration, a stopped runner and an unreachable store each make /readyz 503, while /healthz stays 200', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-ready-'));
    const url = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(dir, 'r.db')}`;
    const app = await startTestApp({ databaseUrl: url });
    const ready = async () => {
      const r = await fetch(`${app.url}/readyz`);
      return { status: r.status, body: await r.json() };
    };
    try {
      // Forget the last migration behind the server's back, as if an upgrade had not run it.
      const forget = "DELETE FROM schema_migrations WHERE name = '0003_history_rowid.sql'";
      if (usePostgres()) {
        const c = await connectTo(url);
        await c.query(forget);
        await c.end();
      } else {
        const db = new Database(join(dir, 'r.db'));
        db.prepare(forget).run();
        db.close();
      }
      expect(await ready()).toEqual({ status: 503, body: { status: 'unavailable', checks: { store: 'ok', migrations: 'pending: 0003_history_rowid.sql', runner: 'ok' } } });

      await app.server.runner.stop();
      expect((await ready()).body.checks.runner).toBe('stopped');

      await app.server.services.store.close();
      const down = await ready();
      expect(down.status).toBe(503);
      expect(down.body.checks.store).toBe('unreachable');
      expect(JSON.stringify(down.body)).not.toMatch(/postgres:|\.db|password/i);
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
      const hc = await app.call('GET', '/KeyfactorAPI/Status/HealthCheck', { auth: null, unchecked: true });
      // Authentication needs the store too: refused either way, never a 500.
      expect([401, 503]).toContain(hc.status);
    } finally {
      await app.server.app.close();
      if (usePostgres()) await dropTestDatabase(url);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('/metrics', () => {
  it('counters move with the traffic sent: requests by route and status, log-in failures, signals, step runs, instances by status', async () => {
    const store = t.server.services.store;
    const alice = await createUser(store, 'CORP\\alice');
    const approvers = await createRole(store, 'Approvers', [P.instancesReadPending], [alice.id]);
    const approvalDef = await publishedDefinition(t, [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [approvers]), noop('EndNOOP')]);
    let healthy = true;
    api.handler = (_req, res) => (healthy ? json(res, 200, { ok: true }) : json(res, 400, { error: 'no' }));
    const restDef = await publishedDefinition(
      t,
      [
        noop('StartNOOP', 'Call'),
        {
          ExtensionName: 'RESTRequest',
          UniqueName: 'Call',
          DisplayName: 'Call',
          Enabled: true,
          ConfigurationParameters: { Verb: 'GET', Headers: {}, ContentType: 'application/json', RequestContent: '', DataBucketProperty: 'Answer', URL: `${api.url}/x` },
          Signals: [],
          Conditions: [],
          Outputs: { continue: 'EndNOOP' },
        },
        noop('EndNOOP'),
      ],
      { type: 'Expiration' },
    );

    const before = await scrape();
    const route = (r: string, status: number, method = 'GET') => `countersign_http_requests_total{method="${method}",route="${r}",status="${status}"}`;
    const defsRoute = '/KeyfactorAPI/Workflow/Definitions';
    for (let i = 0; i < 3; i++) expect((await t.call('GET', defsRoute)).status).toBe(200);
    expect((await t.call('GET', defsRoute, { auth: basic('admin', 'wrong-password') })).status).toBe(401);
    expect((await t.call('GET', defsRoute, { auth: null })).status).toBe(401);

    const first = await startInstance(t, approvalDef);
    const second = await startInstance(t, approvalDef);
    const signal = (id: string) =>
      t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { body: { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: 'True' } }, auth: alice.auth });
    expect((await signal(first)).status).toBe(204);
    expect((await signal(first)).status).toBeGreaterThanOrEqual(400);

    const done = async (id: string) => {
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50)))
        if ([3, 5].includes((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body.Status)) return;
      throw new Error(`instance ${id} did not finish`);
    };
    await done(await startInstance(t, restDef));
    healthy = false;
    await done(await startInstance(t, restDef));

    const scraped = await scrape();
    const moved = (series: string) => scraped(series) - before(series);
    expect(moved(route(defsRoute, 200))).toBe(3);
    expect(moved(route(defsRoute, 401))).toBe(2);
    expect(moved('countersign_login_failures_total')).toBe(1);
    expect(moved('countersign_signals_total{outcome="accepted"}')).toBe(1);
    expect(moved('countersign_signals_total{outcome="rejected"}')).toBe(1);
    expect(moved('countersign_step_runs_total{type="RESTRequest",outcome="ok"}')).toBe(1);
    expect(moved('countersign_step_runs_total{type="RESTRequest",outcome="failed"}')).toBeGreaterThanOrEqual(1);
    expect(moved('countersign_http_request_duration_seconds_count{method="GET",route="/KeyfactorAPI/Workflow/Definitions"}')).toBe(5);
    // Gauges read from the store on the scrape.
    expect(scraped('countersign_instances{status="Suspended"}')).toBe(1);
    expect(scraped('countersign_instances{status="Complete"}')).toBe(2);
    expect(scraped('countersign_instances{status="Failed"}')).toBe(1);
    expect(scraped('countersign_jobs{state="running"}')).toBe(0);
    expect(scraped('countersign_job_queue_lag_seconds')).toBeGreaterThanOrEqual(0);
    if (usePostgres()) expect(scraped('countersign_store_pool_connections{state="max"}')).toBeGreaterThan(0);
    // Raw URLs never become labels: an instance id appears in no series.
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(text).not.toContain(first);
    expect(text).not.toContain(second);
    expect(text).toContain('process_cpu_seconds_total');
  }, 60_000);

  it('approval emails count as sent when the mail server takes them and as failed when it cannot be reached', async () => {
    const smtp = await startSmtp();
    const dead = await startSmtp();
    const deadPort = dead.port;
    await dead.close();
    const smtpTo = (port: number) => ({
      host: '127.0.0.1',
      port,
      security: 'none' as const,
      rejectUnauthorized: true,
      user: null,
      password: null,
      from: 'Countersign <pki@example.test>',
      timeoutMs: 2_000,
    });
    const working = await startTestApp({ steps: { smtp: smtpTo(smtp.port) } });
    const broken = await startTestApp({ steps: { smtp: smtpTo(deadPort) }, stepMaxAttempts: 1 });
    try {
      const emailed = async (app: TestApp, outcome: 'sent' | 'failed', expected: number) => {
        const store = app.server.services.store;
        const approver = await store.createIdentity({
          accountName: 'CORP\\erin',
          identityType: 'User',
          sid: null,
          email: 'erin@corp.example',
          passwordHash: null,
          createdAt: new Date().toISOString(),
        });
        const role = await createRole(store, 'Approvers', [P.instancesReadPending], [approver.id]);
        const def = await publishedDefinition(app, [
          noop('StartNOOP', 'RequireApproval1'),
          approval('RequireApproval1', 'EndNOOP', [role], { RequestSubject: 'Approve $(cn)', RequestMessage: '<p>$(cn)</p>' }),
          noop('EndNOOP'),
        ]);
        const before = (await scrape(app))(`countersign_notifications_total{outcome="${outcome}"}`);
        await startInstance(app, def);
        for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100)))
          if ((await scrape(app))(`countersign_notifications_total{outcome="${outcome}"}`) - before === expected) return;
        throw new Error(`countersign_notifications_total{outcome="${outcome}"} did not move by ${expected}`);
      };
      await emailed(working, 'sent', 1);
      expect(smtp.messages.filter((m) => m.rcptTo.includes('erin@corp.example'))).toHaveLength(1);
      await emailed(broken, 'failed', 1);
      expect((await scrape(broken))('countersign_notifications_total{outcome="sent"}')).toBe(0);
    } finally {
      await working.close();
      await broken.close();
      await smtp.close();
    }
  }, 60_000);

  it('COUNTERSIGN_METRICS=token:<value> requires the bearer token (401 otherwise); off answers 404', async () => {
    const token = 'scrape-token-0123456789';
    const guarded = await startTestApp({ metrics: { mode: 'token', token } });
    const off = await startTestApp({ metrics: { mode: 'off' } });
    try {
      const none = await fetch(`${guarded.url}/metrics`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await none.json()).toMatchObject({ ErrorCode: expect.any(String), Message: expect.stringContaining('Bearer') });
      expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
      expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: guarded.adminAuth } })).status).toBe(401);
      const ok = await scrape(guarded, { authorization: `Bearer ${token}` });
      expect(ok('countersign_metrics_store_errors_total')).toBe(0);
      const gone = await fetch(`${off.url}/metrics`);
      expect(gone.status).toBe(404);
      expect((await gone.json()).ErrorCode).toBeDefined();
      expect((await fetch(`${off.url}/healthz`)).status).toBe(200);
    } finally {
      await guarded.close();
      await off.close();
    }
  }, 60_000);
});
