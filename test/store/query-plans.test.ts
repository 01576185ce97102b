import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Effect } from '../../src/domain/engine.ts';
import { INSTANCE_FIELDS } from '../../src/store/query-fields.ts';
import { CLAIM_JOBS_SQL, NEXT_JOB_DELAY_SQL, PostgresStore, pgInstanceListSql, RECONCILE_SQL } from '../../src/store/postgres/postgres-store.ts';
import { instanceListSql, SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { InstanceQuery, Store } from '../../src/store/store.ts';
import { connectTo, dropTestDatabase, testDatabaseUrl } from '../support/database.ts';
import { STORE_KINDS } from '../support/stores.ts';
import { bound, createIn, query } from './store-fixtures.ts';

/*
 * Issue 16: no query on the request path or in a periodic task reads a number of rows that grows
 * with history. Asserted on the plans (SQLite EXPLAIN QUERY PLAN; PostgreSQL EXPLAIN with
 * sequential scans priced out, so a plan that needs a scan or a sort still shows one).
 */

const COUNT = 600;

const timer = (instanceId: string, inMs: number): Effect => ({ type: 'timer', instanceId, step: 'Approve', kind: 'timeout', at: new Date(Date.now() + inMs).toISOString() });

/** The lists the API offers, as the routes build them (listing.ts): default sort CurrentStepDisplayName ascending. */
const LISTS: [string, InstanceQuery][] = [
  ['default sort, first page', query({ sortColumn: 'current_step_display_name', limit: 50 })],
  ['default sort descending, deep page', query({ sortColumn: 'current_step_display_name', ascending: false, offset: 500, limit: 50 })],
  ['StartDate descending', query({ sortColumn: 'start_date', ascending: false, limit: 50 })],
  ['LastModified', query({ sortColumn: 'last_modified', limit: 50 })],
  ['Title descending', query({ sortColumn: 'title', ascending: false, limit: 50 })],
  ['WorkflowType', query({ sortColumn: 'workflow_type', limit: 50 })],
  ['InitiatingUserName', query({ sortColumn: 'initiator_name', limit: 50 })],
  ['ReferenceId descending', query({ sortColumn: 'reference_id', ascending: false, limit: 50 })],
  ['Status = Suspended, StartDate descending', query({ filter: bound('Status -eq "Suspended"', INSTANCE_FIELDS), sortColumn: 'start_date', ascending: false, limit: 50 })],
  ['Status = Suspended, default sort', query({ filter: bound('Status -eq "Suspended"', INSTANCE_FIELDS), sortColumn: 'current_step_display_name', limit: 50 })],
  ['/My, default sort', query({ initiatorId: 3, sortColumn: 'current_step_display_name', limit: 50 })],
  ['keyset: default sort after a row', query({ sortColumn: 'current_step_display_name', after: { value: 'Approve', referenceId: 300 }, limit: 50 })],
  ['keyset: StartDate descending after a row', query({ sortColumn: 'start_date', ascending: false, after: { value: '2025-01-01T05:00:00.000Z', referenceId: 300 }, limit: 50 })],
  [
    'keyset: Status = Suspended, StartDate descending after a row',
    query({
      filter: bound('Status -eq "Suspended"', INSTANCE_FIELDS),
      sortColumn: 'start_date',
      ascending: false,
      after: { value: '2025-01-01T05:00:00.000Z', referenceId: 300 },
      limit: 50,
    }),
  ],
  ['/My, StartDate descending', query({ initiatorId: 3, sortColumn: 'start_date', ascending: false, limit: 50 })],
];

const ASSIGNED = query({ assignedTo: { identityId: 2, roleIds: [7, 8] }, sortColumn: 'current_step_display_name', limit: 50 });

for (const kind of STORE_KINDS) {
  describe(`query plans with ${COUNT} instances: ${kind}`, () => {
    let store: Store;
    let plan: (sql: string, params: unknown[], allowSort?: boolean, bitmapOnly?: boolean) => Promise<string>;
    let listSql: (q: InstanceQuery) => { sql: string; params: unknown[] };
    let sql: { nextJob: string; claim: string; claimParams: unknown[]; reconcile: string; jobsOf: string };
    let cleanup: () => Promise<void> = async () => {};
    let url = '';

    beforeAll(async () => {
      if (kind === 'sqlite') {
        const dir = mkdtempSync(join(tmpdir(), 'countersign-plans-'));
        store = SqliteStore.open(join(dir, 'plans.db'));
        const db = new Database(join(dir, 'plans.db'));
        // The statements the store prepared (their text is private to it).
        const wf = (store as unknown as { wf: Record<string, { source: string }> }).wf;
        sql = {
          nextJob: wf.nextJob!.source,
          claim: wf.claimJobs!.source,
          claimParams: ['x', 'y', 'z', 'z', 5],
          reconcile: wf.reconcileCandidates!.source,
          jobsOf: wf.deleteJobsOf!.source,
        };
        listSql = instanceListSql;
        plan = async (text, params) => (db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('\n');
        cleanup = async () => {
          db.close();
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        };
      } else {
        url = await testDatabaseUrl();
        store = await PostgresStore.open(url, { poolSize: 4 });
        const c: pg.Client = await connectTo(url);
        sql = { nextJob: NEXT_JOB_DELAY_SQL, claim: CLAIM_JOBS_SQL, claimParams: ['x', 1000, 5], reconcile: RECONCILE_SQL, jobsOf: 'DELETE FROM jobs WHERE instance_id = $1' };
        listSql = pgInstanceListSql;
        plan = async (text, params, allowSort = false, bitmapOnly = false) => {
          // Priced out, not forbidden: a plan that cannot avoid a scan or a sort still shows it.
          await c.query('SET enable_seqscan = off');
          await c.query(`SET enable_sort = ${allowSort ? 'on' : 'off'}`);
          // A text index is a bitmap scan; at this size an index walk in list order is cheaper, so price that out.
          await c.query(`SET enable_indexscan = ${bitmapOnly ? 'off' : 'on'}`);
          return ((await c.query(`EXPLAIN ${text}`, params)).rows as { 'QUERY PLAN': string }[]).map((r) => r['QUERY PLAN']).join('\n');
        };
        cleanup = async () => {
          await c.end();
          await store.close();
          await dropTestDatabase(url);
        };
      }
      for (let i = 0; i < COUNT; i++) {
        const done = i % 10 !== 0;
        await createIn(
          store,
          {
            status: done ? 'Complete' : 'Suspended',
            initiatorId: i % 7,
            title: i % 5 ? `Request ${i}` : null,
            pendingRoleIds: done ? [] : [7 + (i % 3)],
            startDate: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
          },
          (id) => (done ? [] : [timer(id, 3_600_000 + i)]),
        );
      }
      if (kind === 'postgres') {
        const c = await connectTo(url);
        await c.query('ANALYZE');
        await c.end();
      }
    }, 120_000);

    afterAll(() => cleanup());

    const noScan = (p: string) => {
      if (kind === 'sqlite') {
        expect(p).not.toMatch(/SCAN (instances|jobs|pending_\w+)(?! USING (COVERING )?INDEX)/);
        expect(p).not.toMatch(/TEMP B-TREE/);
      } else {
        expect(p).not.toMatch(/Seq Scan/);
        expect(p).not.toMatch(/Sort/);
      }
    };

    it('the runner finds its next due time, and due jobs, through indexes', async () => {
      const next = await plan(sql.nextJob, []);
      noScan(next);
      expect(next).toMatch(kind === 'sqlite' ? /jobs_due[\s\S]*jobs_lease/ : /jobs_due[\s\S]*jobs_lease/);
      noScan(await plan(sql.claim, sql.claimParams));
    });

    it("an instance's jobs, the reconciler's candidates", async () => {
      expect(await plan(sql.jobsOf, ['x'])).toMatch(/jobs_instance/);
      const rec = await plan(sql.reconcile, [500]);
      noScan(rec);
      expect(rec).toMatch(/instances_reconcile/);
    });

    it('AssignedToMe starts from the pending roles of the caller', async () => {
      const { sql: text, params } = listSql(ASSIGNED);
      // The matches are sorted (a join cannot come out in list order); what matters is where it starts.
      const p = await plan(text, params, true);
      expect(p).toMatch(/pending_roles/);
      expect(p).toMatch(kind === 'sqlite' ? /SEARCH pending_roles USING PRIMARY KEY \(role_id=\?\)/ : /Index Cond: \(role_id = ANY/);
      expect(p).not.toMatch(/json_each|jsonb_array_elements/);
      expect(p).not.toMatch(kind === 'sqlite' ? /SCAN instances/ : /Seq Scan/);
    });

    it('-contains (SQLite) tries the first rows in list order, then the trigram index: the same answers either way', async () => {
      if (kind !== 'sqlite') return;
      const db = (store as unknown as { conn: Database.Database }).conn;
      for (const [needle, offset] of [
        ['Request', 0], // in most titles: the window fills the page
        ['Request', 400], // deep: past the window's matches, so the index answers
        ['quest 12', 0], // rare: the index answers
      ] as const) {
        const q = query({ filter: bound(`Title -contains "${needle}"`, INSTANCE_FIELDS), limit: 50, offset });
        const indexed = instanceListSql(q);
        const windowed = instanceListSql(q, 'sparse', 100);
        expect(await plan(windowed.sql, windowed.params)).not.toMatch(/instances_text|TEMP B-TREE/);
        const want = (db.prepare(indexed.sql).all(...indexed.params) as { title: string }[]).map((r) => r.title);
        expect((await store.queryInstances(q)).map((i) => i.title)).toEqual(want);
        const fromWindow = (db.prepare(windowed.sql).all(...windowed.params) as { title: string }[]).map((r) => r.title);
        // A full page from the window is the answer; a short one is only a prefix of it.
        if (fromWindow.length === 50) expect(fromWindow).toEqual(want);
        else expect(want.slice(0, fromWindow.length)).toEqual(fromWindow);
      }
    });

    it("AssignedToMe, when most of what waits is the caller's (SQLite: dense plan), walks the list order and stops at the page", async () => {
      if (kind !== 'sqlite') return;
      const { sql: text, params } = instanceListSql(ASSIGNED, 'dense');
      const p = await plan(text, params);
      noScan(p);
      expect(p).toMatch(/SEARCH instances USING INDEX instances_status_step_name \(status=\?\)/);
      expect(p).toMatch(/SEARCH p USING (PRIMARY KEY \(role_id=\? AND instance_id=\?\)|COVERING INDEX pending_roles_instance \(instance_id=\? AND role_id=\?\))/);
      // Both plans answer the same.
      const sparse = instanceListSql(ASSIGNED, 'sparse');
      const db = (store as unknown as { conn: Database.Database }).conn;
      expect(db.prepare(text).all(...params)).toEqual(db.prepare(sparse.sql).all(...sparse.params));
      expect((db.prepare(text).all(...params) as unknown[]).length).toBe(40);
    });

    it('-contains on a text field starts from the trigram index, and finds the same rows as a scan', async () => {
      const q = query({ filter: bound('Title -contains "quest 12"', INSTANCE_FIELDS), sortColumn: 'reference_id', limit: 1000 });
      const { sql: text, params } = listSql(q);
      const p = await plan(text, params, true, true);
      expect(p).toMatch(kind === 'sqlite' ? /instances_text VIRTUAL TABLE/ : /Bitmap Index Scan on instances_title_trgm/);
      const found = (await store.queryInstances(q)).map((i) => i.title);
      // Request 12, 120..129 (those not made NULL-titled: every fifth is).
      expect(found).toEqual(['Request 12', 'Request 121', 'Request 122', 'Request 123', 'Request 124', 'Request 126', 'Request 127', 'Request 128', 'Request 129']);
    });

    for (const [name, q] of LISTS)
      it(`list: ${name} is read in index order`, async () => {
        const { sql: text, params } = listSql(q);
        const p = await plan(text, params);
        noScan(p);
        // A keyset page starts inside the index (a range), not at its beginning.
        if (q.after)
          expect(p).toMatch(kind === 'sqlite' ? /SEARCH instances USING INDEX \S+ \(.*\((start_date|current_step_display_name),reference_id\)[<>]/ : /Index Cond: .*ROW\(/);
      });
  });
}
