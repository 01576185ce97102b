import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStoreUnavailable } from '../../src/store/postgres/pg-errors.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { dropTestDatabase, testDatabaseUrl } from '../support/database.ts';
import { noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/*
 * What a failover looks like from a node: every connection drops, new ones are refused for a
 * while, then the database is back. A TCP proxy between the server and PostgreSQL plays the
 * database going away. The node must answer with clean errors meanwhile (never crash, never
 * hang), and recover on its own.
 */

class FlakyProxy {
  private readonly sockets = new Set<net.Socket>();
  private server!: net.Server;
  down = false;
  port = 0;

  async start(target: { host: string; port: number }): Promise<void> {
    this.server = net.createServer((client) => {
      if (this.down) return void client.destroy();
      const upstream = net.connect(target.port, target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every open connection, as a crashed or failed-over primary does. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let url: string;
let proxy: FlakyProxy;
let t: TestApp;
let direct: PostgresStore;

beforeAll(async () => {
  url = await testDatabaseUrl();
  const u = new URL(url);
  proxy = new FlakyProxy();
  await proxy.start({ host: u.hostname, port: Number(u.port || 5432) });
  u.host = `127.0.0.1:${proxy.port}`;
  t = await startTestApp({ databaseUrl: u.toString() });
  direct = await PostgresStore.open(url, { poolSize: 2 });
});

afterAll(async () => {
  await t?.close();
  await direct?.close();
  await proxy?.stop();
  if (url) await dropTestDatabase(url);
});

describe('PostgreSQL failover, as seen by one node', () => {
  it('answers clean errors while the database is gone, and recovers by itself', async () => {
    const def = await publishedDefinition(t, [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP')]);
    const before = await startInstance(t, def);

    proxy.down = true;
    proxy.cut();
    // Store calls fail with errors the HTTP layer can recognise as "unavailable".
    const err = await t.server.services.store.getInstance(before).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(isStoreUnavailable(err), String(err)).toBe(true);
    // Requests get an error body in Keyfactor's shape, quickly; nothing crashes.
    const started = Date.now();
    const during = await Promise.all([
      t.call('GET', `/KeyfactorAPI/Workflow/Instances/${before}`),
      t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: def, Title: 'while down', InitialData: {} } }),
      t.call('GET', '/KeyfactorAPI/Workflow/Definitions'),
    ]);
    for (const res of during) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.body).toEqual({ ErrorCode: '0xA5C00070', Message: expect.stringMatching(/database is not reachable/) });
    }
    expect(Date.now() - started).toBeLessThan(10_000);

    proxy.down = false;
    // New connections work again at once; the pool threw the dead ones away.
    const after = await startInstance(t, def);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${after}`)).body.Status).toBe(3);

    // The LISTEN connection comes back too (it retries every second), and wakes the runner again.
    let woken = 0;
    const stop = (t.server.services.store as PostgresStore).onJobsQueued(() => woken++);
    await sleep(2_500);
    woken = 0;
    await direct.createInstance((ref) => ({
      instance: { ...instanceLike(ref), id: `x-${ref}` },
      history: [],
      effects: [{ type: 'runStep', instanceId: `x-${ref}`, step: 'S', stepId: 's' }],
    }));
    for (let i = 0; i < 50 && woken === 0; i++) await sleep(50);
    stop();
    expect(woken).toBeGreaterThan(0);
  }, 30_000);
});

function instanceLike(ref: number) {
  const now = new Date().toISOString();
  return {
    id: '',
    referenceId: ref,
    definitionId: 'none',
    definitionVersion: 1,
    definitionName: 'none',
    workflowType: 'Enrollment',
    status: 'Running' as const,
    statusMessage: null,
    currentStep: 'S',
    currentStepId: 's',
    currentStepDisplayName: 'S',
    title: null,
    initiatorId: null,
    initiatorName: null,
    initialData: {},
    stateData: {},
    metadata: {},
    signals: [],
    pendingRoleIds: [],
    pendingExcludedIds: [],
    trustedData: {},
    stepOutputs: { variables: {}, metadata: {} },
    startDate: now,
    lastModified: now,
    restartedFrom: null,
    restartedTo: null,
    rev: 0,
  };
}
