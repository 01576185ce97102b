import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { AuditLog } from '../../src/service/audit.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { connectTo, dropTestDatabase, schemaOf, testDatabaseUrl } from '../support/database.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { fireTogether, sleep, startNode, stopNode, waitFor, type Node } from './cluster.ts';

/*
 * Three real server processes on different ports sharing one PostgreSQL schema: what one
 * machine's tests cannot show. Requests are spread over the nodes with no affinity, as behind a
 * load balancer without sticky sessions.
 */

const INSTANCES = 36;
/** Short, so the takeover test waits seconds, not the default 30 s; a step may run 80 % of it. */
const LEASE_MS = 5_000;

let url: string;
let nodes: Node[];
/** The test's own view of the database: setup, and checks behind the engine's back. */
let store: PostgresStore;
let db: pg.Client;
let approvers: { id: number; auth: string }[];
let role: number;

beforeAll(async () => {
  url = await testDatabaseUrl();
  const env = { COUNTERSIGN_TEST_STEP: '1', COUNTERSIGN_JOB_LEASE_MS: String(LEASE_MS), COUNTERSIGN_RECONCILE_INTERVAL_MS: '200' };
  // The first node creates the administrator before the others start: ensureAdministrator is
  // not yet safe for nodes that first start together on an empty database (two would crash).
  const first = await startNode(url, env);
  nodes = [first, ...(await Promise.all([startNode(url, env), startNode(url, env)]))];
  store = await PostgresStore.open(url, { poolSize: 4 });
  db = await connectTo(url);
  approvers = [];
  for (const name of ['CORP\\m1', 'CORP\\m2', 'CORP\\m3']) approvers.push(await createUser(store, name));
  role = await createRole(
    store,
    'Quorum',
    [P.instancesReadPending],
    approvers.map((a) => a.id),
  );
}, 90_000);

afterAll(async () => {
  const codes = await Promise.all((nodes ?? []).map(stopNode));
  await db?.end();
  await store?.close();
  if (url) await dropTestDatabase(url);
  // Every node that was not killed shut down cleanly on SIGTERM.
  expect(codes.filter((c) => c !== null && c !== 0)).toEqual([]);
}, 60_000);

const history = async (id: string) =>
  (await db.query('SELECT kind, step, actor FROM instance_history WHERE instance_id = $1 ORDER BY id', [id])).rows as { kind: string; step: string | null; actor: string | null }[];

const instanceRow = async (id: string) => (await db.query('SELECT status::int AS status, current_step, state_data FROM instances WHERE id = $1', [id])).rows[0];

/** Starts n instances, round-robin over the nodes. */
async function startMany(definitionId: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await startInstance(nodes[i % nodes.length]!.app, definitionId));
  return ids;
}

describe('three nodes, one database', () => {
  it(`signals for the same ${INSTANCES} instances spread over all three nodes at once: every input recorded, each advanced exactly once`, async () => {
    const def = await publishedDefinition(nodes[0]!.app, [
      noop('StartNOOP', 'Quorum'),
      approval('Quorum', 'Next', [role], { MinimumApprovals: 3 }),
      approval('Next', 'EndNOOP', [role]),
      noop('EndNOOP'),
    ]);
    const ids = await startMany(def, INSTANCES);
    // Approver k of every instance goes to node (i + k) mod 3: each instance hears from all three nodes.
    const shots = ids.flatMap((id, i) =>
      approvers.map((a, k) => ({
        node: nodes[(i + k) % 3]!,
        path: `/KeyfactorAPI/Workflow/Instances/${id}/Signals`,
        auth: a.auth,
        body: { SignalKey: 'Quorum.ApprovalStatus', Data: { Approved: true, Comment: 'at once' } },
      })),
    );
    const results = await fireTogether(shots);
    expect(results.filter((r) => r.status !== 204).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    for (const id of ids) {
      const row = await instanceRow(id);
      expect([row.status, row.current_step]).toEqual([2, 'Next']);
      const h = await history(id);
      const onQuorum = h.filter((e) => e.step === 'Quorum');
      expect(
        onQuorum
          .filter((e) => e.kind === 'SignalReceived')
          .map((e) => e.actor)
          .sort(),
      ).toEqual(['CORP\\m1', 'CORP\\m2', 'CORP\\m3']);
      expect(onQuorum.filter((e) => e.kind === 'Approved')).toHaveLength(1);
      expect(h.filter((e) => e.kind === 'StepEntered' && e.step === 'Next')).toHaveLength(1);
    }
    // Every node answers the same (no node-local state): the instance as seen from each.
    for (const node of nodes) {
      const res = await node.app.call('GET', `/KeyfactorAPI/Workflow/Instances/${ids[0]}`);
      expect(res.body.CurrentStepUniqueName).toBe('Next');
    }
  });

  it('timers fire once: with all three nodes sweeping every 200 ms, the reconciler runs on one node at a time', async () => {
    const def = await publishedDefinition(nodes[1]!.app, [
      noop('StartNOOP', 'Quorum'),
      approval('Quorum', 'Next', [role], { MinimumApprovals: 2 }),
      approval('Next', 'EndNOOP', [role]),
      noop('EndNOOP'),
    ]);
    const ids = await startMany(def, 24);
    // Hold the reconciler's lock from here, so that no node can sweep while the signals go in.
    const lockKey = `countersign:${schemaOf(url)}:reconciler`;
    const holder = await connectTo(url);
    await waitFor(async () => (await holder.query('SELECT pg_try_advisory_lock(hashtext($1)) AS got', [lockKey])).rows[0].got, 5_000, 'the reconciler lock');
    try {
      // Two approvals recorded behind the engine's back: decided, but not advanced.
      const signals = approvers.slice(0, 2).map((a, k) => ({
        step: 'Quorum',
        signal: 'ApprovalStatus',
        identityId: a.id,
        accountName: `CORP\\m${k + 1}`,
        data: { Approved: true, Comment: null },
        at: new Date().toISOString(),
      }));
      await db.query('UPDATE instances SET signals = $1::jsonb WHERE id = ANY($2::text[])', [JSON.stringify(signals), ids]);
      await sleep(1_000); // five sweep intervals on each node
      const early = await db.query(`SELECT COUNT(*)::int AS n FROM instance_history WHERE kind = 'Reconciled' AND instance_id = ANY($1::text[])`, [ids]);
      expect(early.rows[0].n).toBe(0);
    } finally {
      await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]);
      await holder.end();
    }
    await waitFor(
      async () => {
        const r = await db.query(`SELECT COUNT(*)::int AS n FROM instances WHERE id = ANY($1::text[]) AND current_step = 'Next'`, [ids]);
        return r.rows[0].n === ids.length;
      },
      10_000,
      'every instance to be reconciled',
    );
    await sleep(600); // more sweeps on every node: none may act again
    for (const id of ids) {
      const h = await history(id);
      expect(h.filter((e) => e.kind === 'Reconciled')).toHaveLength(1);
      expect(h.filter((e) => e.kind === 'StepEntered' && e.step === 'Next')).toHaveLength(1);
    }
  });

  it('a node killed with SIGKILL mid-work: the others take its jobs over once its leases expire, and finish its instances', async () => {
    const def = await publishedDefinition(nodes[2]!.app, [
      noop('StartNOOP', 'Sleep'),
      { ...noop('Sleep', 'EndNOOP'), ExtensionName: 'TestSleep', ConfigurationParameters: { Milliseconds: 2500 } },
      noop('EndNOOP'),
    ]);
    const victim = nodes[0]!;
    const ids = await startMany(def, 24);
    // The victim holds some of the jobs (it claims as soon as its own starts wake it).
    await waitFor(async () => (await db.query('SELECT COUNT(*)::int AS n FROM jobs WHERE locked_by = $1', [victim.owner])).rows[0].n > 0, 10_000, 'the victim to hold jobs');
    victim.child.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    // What it held when it died: nobody can complete these before the lease runs out.
    const held = (await db.query('SELECT instance_id FROM jobs WHERE locked_by = $1', [victim.owner])).rows.map((r) => r.instance_id as string);
    expect(held.length).toBeGreaterThan(0);
    await waitFor(
      async () => {
        const r = await db.query('SELECT COUNT(*)::int AS n FROM instances WHERE id = ANY($1::text[]) AND status = 3', [ids]);
        return r.rows[0].n === ids.length;
      },
      30_000,
      'every instance to complete',
    );
    const tookOver = Date.now() - killedAt;
    for (const id of held) {
      const row = await instanceRow(id);
      // Run again by a survivor, on a later attempt than the victim's.
      expect(row.state_data.RanBy).not.toBe(victim.pid);
      expect([nodes[1]!.pid, nodes[2]!.pid]).toContain(row.state_data.RanBy);
      expect(row.state_data.Attempt).toBeGreaterThanOrEqual(2);
    }
    for (const id of ids) {
      const h = await history(id);
      expect(h.filter((e) => e.kind === 'StepCompleted' && e.step === 'Sleep')).toHaveLength(1);
      expect(h.filter((e) => e.kind === 'Completed')).toHaveLength(1);
    }
    // No step run is left behind (approval timers, due in days, may remain).
    const left = (await db.query(`SELECT id, instance_id, attempts, last_error, locked_by FROM jobs WHERE kind = 'runStep'`)).rows;
    expect(left).toEqual([]);
    expect(tookOver).toBeLessThan(LEASE_MS + 10_000);
    nodes = nodes.slice(1);
  }, 60_000);

  it('a node stopped with SIGTERM mid-work finishes the jobs it holds before it exits', async () => {
    const def = await publishedDefinition(nodes[0]!.app, [
      noop('StartNOOP', 'Sleep'),
      { ...noop('Sleep', 'EndNOOP'), ExtensionName: 'TestSleep', ConfigurationParameters: { Milliseconds: 1500 } },
      noop('EndNOOP'),
    ]);
    const leaving = nodes[1]!;
    const ids = await startMany(def, 12);
    await waitFor(async () => (await db.query('SELECT COUNT(*)::int AS n FROM jobs WHERE locked_by = $1', [leaving.owner])).rows[0].n > 0, 10_000, 'the node to hold jobs');
    const held = (await db.query('SELECT instance_id FROM jobs WHERE locked_by = $1', [leaving.owner])).rows.map((r) => r.instance_id as string);
    const stoppedAt = Date.now();
    expect(await stopNode(leaving)).toBe(0);
    // It ran its jobs to the end (well within the lease), rather than leaving them to time out.
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_MS);
    for (const id of held) {
      const row = await instanceRow(id);
      expect(row.status).toBe(3);
      expect(row.state_data).toMatchObject({ RanBy: leaving.pid, Attempt: 1 });
    }
    nodes = nodes.filter((n) => n !== leaving);
    await waitFor(
      async () => {
        const r = await db.query('SELECT COUNT(*)::int AS n FROM instances WHERE id = ANY($1::text[]) AND status = 3', [ids]);
        return r.rows[0].n === ids.length;
      },
      20_000,
      'the remaining node to finish the rest',
    );
  }, 60_000);
  it('one Idempotency-Key sent to every node at once starts one instance; the audit chain written by all nodes holds', async () => {
    const def = await publishedDefinition(nodes[0]!.app, [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP')]);
    const title = `idempotent across nodes ${Date.now()}`;
    const answers = await Promise.all(
      [...nodes, ...nodes].map(async (n) => {
        const res = await fetch(`${n.url}/KeyfactorAPI/Workflow/Instances`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-keyfactor-requested-with': 'APIClient', authorization: n.app.adminAuth, 'Idempotency-Key': 'cross-node-1' },
          body: JSON.stringify({ DefinitionId: def, Title: title }),
        });
        return { status: res.status, body: (await res.json()) as { Id: string } };
      }),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
    expect(new Set(answers.map((a) => a.body.Id)).size).toBe(1);
    expect((await db.query('SELECT COUNT(*)::int AS n FROM instances WHERE title = $1', [title])).rows[0].n).toBe(1);

    // Every node appended security events to one chain, under the key they share through the store.
    const key = (await db.query("SELECT value FROM settings WHERE name = 'audit_hmac_key'")).rows[0].value as string;
    const report = await new AuditLog(store, key).verify();
    expect(report.firstBad).toBeNull();
    expect(report.checked).toBeGreaterThan(INSTANCES);
  }, 60_000);
});
