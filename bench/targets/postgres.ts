import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { applySignal } from '../../src/domain/engine.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { makeServices } from '../../src/service/services.ts';
import { actorOf, WorkflowService } from '../../src/service/workflow.ts';
import { defaultRegistry } from '../../src/steps/index.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { ServerChild, type Usage } from '../child.ts';
import { timedBatches } from '../loop.ts';
import { SIGNAL_BODY, SIGNAL_KEY, THRESHOLD, approverName, prepareWorkload, startInstances } from '../setup.ts';
import type { LoopOptions, LoopResult, NodeUsage, Prepared, StartedTarget, StartOptions, Target } from './target.ts';

/*
 * PostgreSQL targets: one server node, and three server nodes on one database (clients spread
 * over them, no affinity). Each run gets a fresh schema in BENCH_POSTGRES_URL's database
 * (default postgres://postgres@127.0.0.1:5432/test), dropped afterwards. The raw line is the same
 * per-signal transaction the store runs, straight through pg, one connection, one at a time.
 */

const BASE_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BASE_URL, application_name: 'countersign-bench' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh schema and the DATABASE_URL that selects it; drop() removes it. */
export async function freshSchema(): Promise<{ url: string; schema: string; drop: () => Promise<void>; analyze: () => Promise<void> }> {
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  const u = new URL(BASE_URL);
  u.searchParams.set('schema', schema);
  return {
    url: u.toString(),
    schema,
    drop: () => admin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).then(() => undefined),
    // What autovacuum's autoanalyze does after a table grows; this machine's PostgreSQL runs with
    // autovacuum off, and without statistics the planner prices a 7,000-row set as 110 rows.
    analyze: () => admin(async (c) => void (await c.query(`SET search_path = ${schema}; ANALYZE`))),
  };
}

/**
 * Per signal one transaction: SELECT the instance FOR UPDATE, UPDATE it (signals grown by one
 * entry, status message, last_modified, rev + 1), INSERT one history row, COMMIT. Instances and
 * their start history are created by PostgresStore, so rows have the engine's shape.
 */
async function postgresRawBaseline(o: LoopOptions): Promise<LoopResult> {
  const db = await freshSchema();
  const store = await PostgresStore.open(db.url, { poolSize: 2 });
  const c = new pg.Client({ connectionString: BASE_URL, application_name: 'countersign-bench', options: `-c search_path=${db.schema}` });
  await c.connect();
  try {
    const msg = (n: number) => `Waiting for approval at Require Approval: ${n} of ${THRESHOLD} approvals received.`;
    const definitionId = randomUUID();
    const createBatch = async (count: number) => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) ids.push((await store.createInstance((ref) => benchInstance(ref, definitionId, msg(0)))).id);
      return ids;
    };
    const signal = async (id: string, p: number) => {
      await c.query('BEGIN');
      try {
        const now = new Date().toISOString();
        const row = (await c.query('SELECT * FROM instances WHERE id = $1 FOR UPDATE', [id])).rows[0];
        const accountName = approverName(p);
        const signals = [
          ...row.signals,
          { step: 'RequireApproval1', signal: 'ApprovalStatus', identityId: p + 2, accountName, data: { Approved: true, Comment: 'bench' }, at: now },
        ];
        await c.query('UPDATE instances SET signals = $1::jsonb, status_message = $2, last_modified = $3, rev = $4 WHERE id = $5', [
          JSON.stringify(signals),
          msg(signals.length),
          now,
          row.rev + 1,
          id,
        ]);
        await c.query('INSERT INTO instance_history (instance_id, at, kind, step, actor, message, data) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)', [
          id,
          now,
          'SignalReceived',
          'RequireApproval1',
          accountName,
          'Approved: bench',
          JSON.stringify({ Signal: 'ApprovalStatus', Approved: true, Comment: 'bench' }),
        ]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK');
        throw e;
      }
    };
    return await timedBatches(o, createBatch, signal, true);
  } finally {
    await c.end();
    await store.close();
    await db.drop();
  }
}

function benchInstance(ref: number, definitionId: string, message: string) {
  const now = new Date().toISOString();
  const id = randomUUID();
  const history = [
    { kind: 'Started' as const, step: null, actor: 'BENCH\\requester', message: 'Started on Bench 0123abcd version 1.' },
    { kind: 'StepEntered' as const, step: 'StartNOOP', actor: null, message: 'Entered StartNOOP (NOOPStep).' },
    { kind: 'StepCompleted' as const, step: 'StartNOOP', actor: null, message: 'Completed StartNOOP.' },
    { kind: 'StepEntered' as const, step: 'RequireApproval1', actor: null, message: 'Entered Require Approval (RequireApproval).' },
    { kind: 'Suspended' as const, step: 'RequireApproval1', actor: null, message },
  ].map((h) => ({ ...h, at: now, data: null }));
  return {
    instance: {
      id,
      referenceId: ref,
      definitionId,
      definitionVersion: 1,
      definitionName: 'Bench 0123abcd',
      workflowType: 'Enrollment',
      status: 'Suspended' as const,
      statusMessage: message,
      currentStep: 'RequireApproval1',
      currentStepId: randomUUID(),
      currentStepDisplayName: 'Require Approval',
      title: 'bench request',
      initiatorId: 34,
      initiatorName: 'BENCH\\requester',
      initialData: { cn: 'www.example.com' },
      stateData: { cn: 'www.example.com' },
      metadata: {},
      signals: [],
      pendingRoleIds: [2],
      pendingExcludedIds: [],
      trustedData: {},
      stepOutputs: { variables: {}, metadata: {} },
      startDate: now,
      lastModified: now,
      restartedFrom: null,
      restartedTo: null,
      rev: 0,
    },
    history,
    effects: [],
  };
}

/** store: PostgresStore.mutateInstance + applySignal; service: WorkflowService.signal. No HTTP. */
async function postgresEngineBaseline(o: LoopOptions, level: 'store' | 'service'): Promise<LoopResult> {
  const db = await freshSchema();
  const store = await PostgresStore.open(db.url);
  try {
    const services = makeServices(store, defaultRegistry(), { reconcileIntervalMs: 60_000, authCacheTtlMs: 60_000 });
    const wf = new WorkflowService(services);
    const w = await prepareWorkload(store, wf, { approvers: o.approvers, password: null });
    const version = await wf.version(w.definitionId, 1);
    const actors = w.approvers.map((a) => actorOf(a.principal));
    const data = (): JsonObject => (JSON.parse(SIGNAL_BODY) as { Data: JsonObject }).Data;
    const signal =
      level === 'store'
        ? (id: string, p: number) => {
            const ctx = { now: services.now(), registry: services.registry, maxWaitMs: services.config.maxWaitMs };
            return store.mutateInstance(id, (current) => {
              const r = applySignal(current, version, { key: SIGNAL_KEY, data: data(), actor: actors[p]! }, ctx);
              return { transition: r, result: r };
            });
          }
        : (id: string, p: number) => wf.signal(id, SIGNAL_KEY, data(), w.approvers[p]!.principal);
    return await timedBatches(o, (n) => startInstances(wf, w, n), signal, true);
  } finally {
    await store.close();
    await db.drop();
  }
}

/** CPU and event-loop use of one node between two usage snapshots. */
function nodeUsage(before: Usage, after: Usage): NodeUsage {
  const cpuMs = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000;
  const active = after.elu.active - before.elu.active;
  const idle = after.elu.idle - before.elu.idle;
  let breakdown: NodeUsage['breakdown'];
  if (after.breakdown) {
    breakdown = {};
    for (const [k, v] of Object.entries(after.breakdown)) {
      const b = before.breakdown?.[k] ?? { count: 0, ms: 0 };
      if (v.count > b.count) breakdown[k] = { count: v.count - b.count, ms: v.ms - b.ms };
    }
  }
  return { cpuMs, elu: active / (active + idle), breakdown };
}

async function startNodes(count: number, opts: StartOptions): Promise<StartedTarget> {
  const db = await freshSchema();
  const env = { BENCH_DATABASE_URL: db.url, ...(opts.breakdown ? { BENCH_BREAKDOWN: '1' } : {}) };
  const children: ServerChild[] = [];
  try {
    // The first node creates the administrator before the others start (a first start of several
    // nodes at the same instant is not safe yet: see docs/operations.md).
    children.push(await ServerChild.start({ env }));
    children.push(...(await Promise.all(Array.from({ length: count - 1 }, () => ServerChild.start({ env })))));
  } catch (e) {
    await Promise.all(children.map((c) => c.stop()));
    await db.drop();
    throw e;
  }
  let before: Usage[] = [];
  let profiled = false;
  return {
    urls: children.map((c) => c.url),
    async prepare(spec): Promise<Prepared> {
      const r = await children[0]!.request({ cmd: 'prepare', ...spec }, 'prepared', 120_000);
      return { approvers: r.approvers, instanceIds: r.instanceIds, ms: r.ms };
    },
    async markStart() {
      if (opts.profileDir) {
        await Promise.all(children.map((c) => c.request({ cmd: 'profile-start' }, 'profile-started')));
        profiled = true;
      }
      before = await Promise.all(children.map((c) => c.usage()));
    },
    async markEnd(): Promise<NodeUsage[]> {
      const after = await Promise.all(children.map((c) => c.usage()));
      if (profiled) {
        const name = count === 1 ? 'postgres' : `postgres-${count}nodes`;
        await Promise.all(children.map((c, i) => c.request({ cmd: 'profile-stop', path: `${opts.profileDir}/${name}-node${i}-${Date.now()}.cpuprofile` }, 'profile-stopped')));
      }
      return before.length ? after.map((a, i) => nodeUsage(before[i]!, a)) : [];
    },
    async stop() {
      await Promise.all(children.map((c) => c.stop()));
      await db.drop();
    },
  };
}

async function info(): Promise<Record<string, unknown>> {
  return admin(async (c) => {
    const v = (await c.query('SHOW server_version')).rows[0].server_version;
    const settings = (await c.query(`SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers', 'max_connections')`)).rows;
    return { postgresVersion: v, settings: Object.fromEntries(settings.map((r) => [r.name, r.setting])), poolSize: 10 };
  });
}

export const postgresTarget: Target = {
  name: 'postgres',
  description: 'one server process on PostgreSQL (pool 10, same machine)',
  start: (opts) => startNodes(1, opts),
  rawBaseline: postgresRawBaseline,
  engineBaseline: postgresEngineBaseline,
  info,
};

export const postgres3Target: Target = {
  name: 'postgres3',
  description: 'three server processes on one PostgreSQL database, clients spread over them',
  start: (opts) => startNodes(3, opts),
  rawBaseline: postgresRawBaseline,
  info,
};
