import type pg from 'pg';
import { createLogger } from '../../observability/logger.ts';
import type { Transition } from '../../domain/engine.ts';
import { CountersignError, fail } from '../../domain/errors.ts';
import { compileSql } from '../query-sql.ts';
import { InstanceStatus } from '../../domain/status.ts';
import type { Definition, DefinitionVersion, HistoryEntry, Instance } from '../../domain/types.ts';
import type {
  AlertClaim,
  DefinitionChange,
  InstanceChange,
  InstanceQuery,
  IdempotencyClaim,
  IdempotencyClaimRequest,
  Job,
  ListQuery,
  QueuedJob,
  Store,
  StoredAnswer,
} from '../store.ts';
import { actingIdempotencyKey, idempotencyState } from '../idempotency-rows.ts';
import { AUDIT_COLUMNS, AUDIT_CONTENT_COLUMNS, auditContentValues, toAuditContent, toAuditEntry } from '../audit-rows.ts';
import { DELEGATION_COLUMNS, type Delegation, type NewDelegation, toDelegation } from '../delegation-rows.ts';
import type { AuditContent, AuditEntry } from '../../domain/audit.ts';
import { beginAndLock, createPool, inTransaction, filtered, listQuery, parseUrl, type PoolOptions, type Q, type Row } from './pg-db.ts';
import { INSTANCE_SELECT, outboxStatement, toInstance, transitionStatement } from './pg-instances.ts';
import { PgListener } from './pg-listener.ts';
import { leftWaitingStep } from '../jobs.ts';
import { keysetClause, NOT_NULL_INSTANCE_COLUMNS } from '../keyset.ts';
import { pendingRows } from '../pending-approvals.ts';
import { migrate } from './pg-migrate.ts';
import { PostgresSecurityStore } from './postgres-security.ts';
import { PgCertificateStore } from './pg-certificates.ts';
import { PgAlertStore } from './pg-alerts.ts';
import { PgAcmeStore } from './pg-acme.ts';
import { type Durability, pgMigrationStatus, pgStats } from '../operations.ts';
import { CREATED_AT_PARAM, definitionParams, toDefinition } from './pg-definition-rows.ts';

export interface PostgresOptions {
  /** Overrides `?schema=` in the URL; default `public`. */
  schema?: string;
  /** Connections per node; overrides `?pool_size=` (default 10). */
  poolSize?: number;
  /** Server-side limit for one statement; overrides `?statement_timeout_ms=` (default 10 s; 0 = none). */
  statementTimeoutMs?: number;
  log?: (msg: string, err?: unknown) => void;
  /** Commit durability (operations.ts Durability); default full. */
  durability?: Durability;
}

/** Channel for "jobs were queued"; the payload is the schema, as several may share a database. */
export const JOBS_CHANNEL = 'countersign_jobs';

/**
 * The multi-node store. Every read-modify-write is one transaction that locks the row it changes
 * (SELECT ... FOR UPDATE), so concurrent requests on different nodes for the same instance run
 * one after another; different instances never wait on each other. Background work is claimed
 * with FOR UPDATE SKIP LOCKED under a lease, and the reconciler runs under an advisory lock.
 */
export class PostgresStore extends PostgresSecurityStore implements Store {
  private readonly listener: PgListener;
  readonly certificates: PgCertificateStore;
  readonly alerts: PgAlertStore;
  readonly acme: PgAcmeStore;
  /** Added to every write that queues jobs. */
  private readonly notify: { channel: string; payload: string };

  private constructor(
    pool: pg.Pool,
    readonly schema: string,
    connectionString: string,
    private readonly log: (msg: string, err?: unknown) => void,
  ) {
    super(pool);
    this.certificates = new PgCertificateStore(pool);
    this.alerts = new PgAlertStore(pool);
    this.acme = new PgAcmeStore(pool);
    this.listener = new PgListener(connectionString, JOBS_CHANNEL, schema, log);
    this.notify = { channel: JOBS_CHANNEL, payload: schema };
  }

  /** Connects, creates the schema if needed and applies pending migrations. */
  static async open(url: string, opts: PostgresOptions = {}): Promise<PostgresStore> {
    const parsed = parseUrl(url, opts.schema);
    const { connectionString, schema } = parsed;
    const fallback = opts.log ? null : createLogger('warn');
    const log = opts.log ?? ((msg: string, err?: unknown) => fallback!.warn({ err }, msg));
    const poolOpts: PoolOptions = {
      poolSize: opts.poolSize ?? parsed.poolSize,
      statementTimeoutMs: opts.statementTimeoutMs ?? parsed.statementTimeoutMs,
      log,
      durability: opts.durability,
    };
    const pool = createPool(connectionString, schema, poolOpts);
    const store = new PostgresStore(pool, schema, connectionString, log);
    try {
      await store.migrate();
    } catch (e) {
      await pool.end().catch(() => {});
      throw e;
    }
    return store;
  }

  async migrate(): Promise<void> {
    await migrate(this.pool, this.schema);
  }

  stats = () => pgStats(this.pool);
  migrationStatus = () => pgMigrationStatus(this.pool, this.schema);

  /** Call after the HTTP server and the runner have stopped: in-flight transactions finish first. */
  async close(): Promise<void> {
    await this.listener.close();
    await this.pool.end();
  }

  /** Calls listener whenever any node commits a transaction that queued jobs. Returns unsubscribe. */
  onJobsQueued(listener: () => void): () => void {
    return this.listener.subscribe(listener);
  }

  /**
   * Runs fn only if no other node is running the same named task, holding a session advisory lock
   * on one pooled connection for the duration. Returns false (without running fn) if another
   * node holds it.
   */
  async tryExclusive(name: string, fn: () => Promise<void>): Promise<boolean> {
    const key = `countersign:${this.schema}:${name}`;
    const c = await this.pool.connect();
    let broken: Error | undefined;
    // Held while fn runs, idle between queries: a connection dying meanwhile must not be an uncaught 'error'.
    const onError = (err: Error) => (broken = err);
    c.on('error', onError);
    try {
      const got = (await c.query('SELECT pg_try_advisory_lock(hashtext($1)) AS got', [key])).rows[0].got as boolean;
      if (!got) return false;
      try {
        await fn();
      } finally {
        // If unlocking fails the connection is dropped, which releases the lock as well.
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch((err: Error) => (broken = err));
      }
      return true;
    } finally {
      c.off('error', onError);
      c.release(broken);
    }
  }

  // Definitions -----------------------------------------------------------------------------------

  async listDefinitions(q: ListQuery): Promise<Definition[]> {
    const where = compileSql(q.filter, 'postgres', 1);
    const n = where.params.length;
    const sql = `SELECT * FROM definitions WHERE ${where.sql} ORDER BY ${q.sortColumn} ${dir(q.ascending)}, id ${dir(q.ascending)} LIMIT $${n + 1} OFFSET $${n + 2}`;
    return (await listQuery(this.pool, sql, [...where.params, q.limit, q.offset])).map(toDefinition);
  }

  async getDefinition(id: string): Promise<Definition | null> {
    const row = (await this.pool.query('SELECT * FROM definitions WHERE id = $1', [id])).rows[0];
    return row ? toDefinition(row) : null;
  }

  async getVersion(definitionId: string, version: number): Promise<DefinitionVersion | null> {
    const row = (await this.pool.query('SELECT steps, frozen FROM definition_versions WHERE definition_id = $1 AND version = $2', [definitionId, version])).rows[0];
    return row ? { definitionId, version, steps: row.steps, frozen: row.frozen } : null;
  }

  async listVersions(definitionId: string): Promise<number[]> {
    const res = await this.pool.query('SELECT version FROM definition_versions WHERE definition_id = $1 ORDER BY version', [definitionId]);
    return res.rows.map((r: Row) => r.version as number);
  }

  async insertDefinition(def: Definition, first: DefinitionVersion): Promise<void> {
    await this.tx(async (c) => {
      await c.query(
        `INSERT INTO definitions (id, display_name, description, workflow_type, keys, key_text, enabled, draft_version, published_version, created_at, last_modified)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11)`,
        definitionParams(def),
      );
      await this.writeBindings(c, def);
      await upsertVersion(c, first, def.lastModified);
    });
  }

  async updateDefinition<R>(id: string, fn: (def: Definition, latest: DefinitionVersion) => DefinitionChange<R>): Promise<R> {
    return this.tx(async (c) => {
      const row = (await c.query('SELECT * FROM definitions WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!row) fail('NotFound', `No workflow definition has Id ${id}.`);
      const def = toDefinition(row);
      const latestRow = (await c.query('SELECT steps, frozen FROM definition_versions WHERE definition_id = $1 AND version = $2', [id, def.draftVersion])).rows[0];
      const change = fn(def, { definitionId: id, version: def.draftVersion, steps: latestRow.steps, frozen: latestRow.frozen });
      await c.query(
        `UPDATE definitions SET display_name=$2, description=$3, workflow_type=$4, keys=$5::jsonb, key_text=$6, enabled=$7,
           draft_version=$8, published_version=$9, last_modified=$10 WHERE id=$1`,
        definitionParams(change.definition).filter((_, i) => i !== CREATED_AT_PARAM),
      );
      await this.writeBindings(c, change.definition);
      if (change.version) await upsertVersion(c, change.version, change.definition.lastModified);
      return change.result;
    });
  }

  async deleteDefinition(id: string, guard: (activeInstances: number) => void): Promise<void> {
    await this.tx(async (c) => {
      if (!(await c.query('SELECT 1 FROM definitions WHERE id = $1 FOR UPDATE', [id])).rowCount) fail('NotFound', `No workflow definition has Id ${id}.`);
      const active = (
        await c.query(`SELECT COUNT(*)::int AS n FROM instances WHERE definition_id = $1 AND status IN (${InstanceStatus.Running}, ${InstanceStatus.Suspended})`, [id])
      ).rows[0].n as number;
      guard(active);
      await c.query('DELETE FROM definitions WHERE id = $1', [id]);
    });
  }

  async findBoundDefinition(workflowType: string, key: string | null): Promise<Definition | null> {
    const row = (
      await this.pool.query(
        `SELECT d.* FROM definition_bindings b JOIN definitions d ON d.id = b.definition_id
         WHERE b.workflow_type = $1 AND b.key_value = $2 AND d.enabled AND d.published_version IS NOT NULL`,
        [workflowType.toLowerCase(), key ?? ''],
      )
    ).rows[0];
    return row ? toDefinition(row) : null;
  }

  /**
   * Bindings exist only for enabled definitions; the primary key turns a clash into an error.
   * ON CONFLICT DO NOTHING instead of catching 23505 keeps the transaction usable, so the owner
   * of the binding can be named. A concurrent insert of the same key waits for the other
   * transaction and then sees its row.
   */
  private async writeBindings(c: Q, def: Definition): Promise<void> {
    await c.query('DELETE FROM definition_bindings WHERE definition_id = $1', [def.id]);
    if (!def.enabled) return;
    const type = def.workflowType.toLowerCase();
    const keys = def.keys.length ? def.keys.map((k) => k.value) : [''];
    for (const key of keys) {
      const owner = await bindingOwner(c, type, key, def.id);
      if (owner === null) continue;
      throw new CountersignError(
        'DefinitionBindingTaken',
        `The enabled definition ${owner} already handles WorkflowType '${def.workflowType}'${key ? ` with Key '${key}'` : ' without a key'}; disable it first, or create this one disabled.`,
      );
    }
  }

  // Instances -------------------------------------------------------------------------------------

  /**
   * The reference id comes first (a sequence, outside any transaction); then one statement
   * writes the instance, its history and its jobs: atomic without BEGIN/COMMIT.
   */
  async createInstance(build: (referenceId: number) => Transition, audit?: AuditContent[]): Promise<Instance> {
    const acting = actingIdempotencyKey();
    const { instance, write } = this.newInstance(await this.nextReference(this.pool), build, audit, acting);
    await this.pool.query(write);
    return instance;
  }

  /** The claim's primary key serialises nodes: a second INSERT waits for the first to commit, then does nothing. */
  async startInstanceOnce(claim: AlertClaim, build: (referenceId: number) => Transition, audit?: AuditContent[]): Promise<Instance | null> {
    return inTransaction(this.pool, async (c) => {
      const claimed = await c.query('INSERT INTO expiration_alerted (alert_id, certificate_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        claim.alertId,
        claim.certificateId,
        claim.at,
      ]);
      if (!claimed.rowCount) return null;
      const { instance, write } = this.newInstance(await this.nextReference(c), build, audit);
      await c.query(write);
      await c.query('UPDATE expiration_alerted SET instance_id = $1 WHERE alert_id = $2 AND certificate_id = $3', [instance.id, claim.alertId, claim.certificateId]);
      return instance;
    });
  }

  private async nextReference(c: Q): Promise<number> {
    return (await c.query(named('cs_next_reference', `SELECT nextval('reference_ids') AS ref`, []))).rows[0].ref as number;
  }

  private newInstance(
    ref: number,
    build: (referenceId: number) => Transition,
    audit?: AuditContent[],
    acted?: { scope: number; key: string } | null,
  ): { instance: Instance; write: pg.QueryConfig } {
    const t = build(ref);
    const instance = { ...t.instance, rev: 1 };
    return { instance, write: transitionStatement({ insert: instance, transition: t, audit, notify: this.notify, acted })! };
  }

  async getInstance(id: string): Promise<Instance | null> {
    const row = (await this.pool.query(named('cs_get_instance', `SELECT ${INSTANCE_SELECT} FROM instances WHERE id = $1`, [id]))).rows[0];
    return row ? toInstance(row) : null;
  }

  async getHistory(id: string): Promise<HistoryEntry[]> {
    const res = await this.pool.query('SELECT at, kind, step, actor, message, data FROM instance_history WHERE instance_id = $1 ORDER BY id', [id]);
    return res.rows.map((r: Row) => ({ at: r.at, kind: r.kind, step: r.step ?? null, actor: r.actor ?? null, message: r.message, data: r.data ?? null }));
  }

  /**
   * Three round trips: BEGIN with SELECT ... FOR UPDATE (the lock that serialises writers of this
   * instance on every node), one statement writing everything fn decided, COMMIT.
   */
  async mutateInstance<R>(id: string, fn: (instance: Instance) => InstanceChange<R>): Promise<R> {
    const acting = actingIdempotencyKey();
    return this.tx(
      async (c) => {
        const row = (await beginAndLock(c, 'instances', INSTANCE_SELECT, id)) ?? fail('NotFound', `No workflow instance has Id ${id}.`);
        const current = toInstance(row);
        const change = fn(current);
        const update = change.transition ? { ...change.transition.instance, rev: current.rev + 1 } : undefined;
        const write = transitionStatement({
          update,
          transition: change.transition ?? undefined,
          completeJob: change.completeJob,
          pendingBefore: pendingRows(current),
          dropWaitingTimers: update !== undefined && leftWaitingStep(current, update),
          audit: change.audit,
          notify: this.notify,
          // Only a change that writes acted: a round that merely looked (transition null) did not.
          acted: change.transition || change.spawn ? acting : null,
        });
        const done = write ? ((await c.query(write)).rows[0].done as number) : 1;
        if (change.completeJob && !done) fail('Conflict', `Job ${change.completeJob.id} is no longer held by ${change.completeJob.owner}.`);
        if (change.spawn) await c.query(this.newInstance(await this.nextReference(c), change.spawn).write);
        return change.result;
      },
      { selfBegin: true },
    );
  }

  async queryInstances(q: InstanceQuery): Promise<Instance[]> {
    const { sql, params } = pgInstanceListSql(q);
    return (await listQuery(this.pool, sql, params)).map(toInstance);
  }

  async deleteInstance(id: string, guard: (instance: Instance) => void, audit?: AuditContent[]): Promise<void> {
    await this.tx(async (c) => {
      const row = (await c.query('SELECT * FROM instances WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!row) fail('NotFound', `No workflow instance has Id ${id}.`);
      guard(toInstance(row));
      await c.query('DELETE FROM instance_history WHERE instance_id = $1', [id]);
      await c.query('DELETE FROM jobs WHERE instance_id = $1', [id]);
      await c.query('DELETE FROM pending_roles WHERE instance_id = $1', [id]);
      await c.query('DELETE FROM pending_barred WHERE instance_id = $1', [id]);
      await c.query('DELETE FROM instances WHERE id = $1', [id]);
      if (audit?.length) await c.query(outboxStatement(audit));
    });
  }

  async listReconcileCandidates(limit: number): Promise<string[]> {
    const res = await this.pool.query(RECONCILE_SQL, [limit]);
    return res.rows.map((r: Row) => r.id as string);
  }

  // Jobs ------------------------------------------------------------------------------------------

  /**
   * One statement: due, unleased (or lease-expired) jobs, skipping rows another node is claiming
   * right now, so nodes never wait on each other nor claim the same job. Lease times use the
   * database clock, so node clocks need not agree.
   */
  async claimJobs(owner: string, limit: number, leaseMs: number): Promise<Job[]> {
    const res = await this.pool.query(named('cs_claim_jobs', CLAIM_JOBS_SQL, [owner, leaseMs, limit]));
    return res.rows
      .sort((a: Row, b: Row) => a.id - b.id)
      .map((r: Row) => ({ id: r.id, instanceId: r.instance_id, effect: r.payload, attempts: r.attempts, lastError: r.last_error ?? null }));
  }

  async releaseJob(id: number, owner: string, runAt: string, error: string): Promise<boolean> {
    const res = await this.pool.query('UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = $1, last_error = $2 WHERE id = $3 AND locked_by = $4', [
      runAt,
      error,
      id,
      owner,
    ]);
    // Another node's runner may be sleeping longer than this job's new due time.
    if (res.rowCount) await this.pool.query('SELECT pg_notify($1, $2)', [JOBS_CHANNEL, this.schema]).catch(() => {});
    return (res.rowCount ?? 0) > 0;
  }

  async dropJob(id: number, owner: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM jobs WHERE id = $1 AND locked_by = $2', [id, owner])).rowCount ?? 0) > 0;
  }

  async jobsOf(instanceId: string): Promise<QueuedJob[]> {
    const { rows } = await this.pool.query('SELECT id, instance_id, payload, attempts, last_error, run_at FROM jobs WHERE instance_id = $1 ORDER BY run_at, id', [instanceId]);
    return rows.map((r: Row) => ({
      id: Number(r.id),
      instanceId: r.instance_id as string,
      effect: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
      attempts: Number(r.attempts),
      lastError: (r.last_error as string | null) ?? null,
      runAt: r.run_at instanceof Date ? r.run_at.toISOString() : String(r.run_at),
    }));
  }

  async nextJobDelay(): Promise<number | null> {
    const row = (await this.pool.query(named('cs_next_job_delay', NEXT_JOB_DELAY_SQL, []))).rows[0];
    return row.ms === null ? null : Math.max(0, row.ms as number);
  }

  // Settings --------------------------------------------------------------------------------------

  /** The first node to ask stores its value; every node then reads that one. */
  async claimIdempotencyKey(c: IdempotencyClaimRequest): Promise<IdempotencyClaim> {
    const won = await this.pool.query(
      `INSERT INTO idempotency_keys (scope, key, fingerprint, state, locked_until, expires_at, created_at)
       VALUES ($1, $2, $3, 'in-flight', $4, $5, $6)
       ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'in-flight', status = NULL, headers = NULL, body = NULL,
         locked_until = excluded.locked_until, expires_at = excluded.expires_at, created_at = excluded.created_at, acted_at = NULL
       WHERE idempotency_keys.expires_at < $6
          OR (idempotency_keys.state = 'in-flight' AND idempotency_keys.locked_until < $6 AND idempotency_keys.fingerprint = excluded.fingerprint
              AND idempotency_keys.acted_at IS NULL)
       RETURNING scope`,
      [c.scope, c.key, c.fingerprint, c.leaseUntil, c.expiresAt, c.now],
    );
    if ((won.rowCount ?? 0) > 0) return { state: 'claimed' };
    const { rows } = await this.pool.query(
      'SELECT fingerprint, state, status, headers, body, (acted_at IS NOT NULL AND locked_until < $3) AS lost FROM idempotency_keys WHERE scope = $1 AND key = $2',
      [c.scope, c.key, c.now],
    );
    return idempotencyState(rows[0], c.fingerprint);
  }

  async finishIdempotencyKey(scope: number, key: string, answer: StoredAnswer | null): Promise<void> {
    if (!answer) {
      // Nothing acted: the request may be sent again. Acted: keep the key, its lease ending now.
      await this.pool.query(
        `WITH released AS (DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'in-flight' AND acted_at IS NULL)
         UPDATE idempotency_keys SET locked_until = created_at WHERE scope = $1 AND key = $2 AND state = 'in-flight' AND acted_at IS NOT NULL`,
        [scope, key],
      );
    } else
      await this.pool.query("UPDATE idempotency_keys SET state = 'done', status = $1, headers = $2, body = $3 WHERE scope = $4 AND key = $5", [
        answer.status,
        JSON.stringify(answer.headers),
        answer.body,
        scope,
        key,
      ]);
  }

  async sweepIdempotencyKeys(now: string, limit: number): Promise<number> {
    const r = await this.pool.query('DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < $1 LIMIT $2)', [now, limit]);
    return r.rowCount ?? 0;
  }

  async appendAudit(contents: AuditContent[], seal: (prevHash: string | null, content: AuditContent) => { hash: string; signature: string }): Promise<AuditEntry[]> {
    return this.tx(async (c) => {
      // One appender at a time across nodes: the chain has a single head.
      await c.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
      return chainAudit(c, contents, seal);
    });
  }

  async sealAuditOutbox(limit: number, seal: (prevHash: string | null, content: AuditContent) => { hash: string; signature: string }): Promise<AuditEntry[]> {
    return this.tx(async (c) => {
      // The appenders' lock: one sealer or appender at a time, on every node. Read after taking it,
      // so a sealer that waited sees the rows the one before it deleted as gone.
      await c.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
      const { rows } = await c.query(`SELECT id, ${AUDIT_CONTENT_COLUMNS} FROM audit_outbox ORDER BY id LIMIT $1`, [limit]);
      if (!rows.length) return [];
      const entries = await chainAudit(c, rows.map(toAuditContent), seal);
      // By id, never by range: a smaller id may belong to a transaction still open, sealed next time.
      await c.query('DELETE FROM audit_outbox WHERE id = ANY($1::bigint[])', [rows.map((r: Row) => r.id)]);
      return entries;
    });
  }

  async countAuditOutbox(): Promise<number> {
    return Number((await this.pool.query('SELECT count(*) AS n FROM audit_outbox')).rows[0].n);
  }

  async getAuditEntry(id: number): Promise<AuditEntry | null> {
    const r = (await this.pool.query(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE id = $1`, [id])).rows[0];
    return r ? toAuditEntry(r) : null;
  }

  async previousAuditEntry(id: number): Promise<AuditEntry | null> {
    const r = (await this.pool.query(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT 1`, [id])).rows[0];
    return r ? toAuditEntry(r) : null;
  }

  async auditEntriesAfter(afterId: number, limit: number): Promise<AuditEntry[]> {
    return (await this.pool.query(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit])).rows.map(toAuditEntry);
  }

  async queryAudit(q: ListQuery): Promise<AuditEntry[]> {
    const { clauses, params, bind: p } = filtered(q.filter);
    const d = q.ascending ? 'ASC' : 'DESC';
    const sql = `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE ${
      clauses
        .filter(Boolean)
        .map((cl) => `(${cl})`)
        .join(' AND ') || 'TRUE'
    } ORDER BY ${q.sortColumn} ${d}, id ${d} LIMIT ${p(q.limit)} OFFSET ${p(q.offset)}`;
    return (await listQuery(this.pool, sql, params)).map(toAuditEntry);
  }

  async createDelegation(d: NewDelegation): Promise<Delegation> {
    const { rows } = await this.pool.query(
      `INSERT INTO delegations (delegator_id, delegate_id, starts_at, ends_at, comment, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${DELEGATION_COLUMNS}`,
      [d.delegatorId, d.delegateId, d.startsAt, d.endsAt, d.comment, d.createdAt, d.createdBy],
    );
    return toDelegation(rows[0]);
  }

  async getDelegation(id: number): Promise<Delegation | null> {
    const r = (await this.pool.query(`SELECT ${DELEGATION_COLUMNS} FROM delegations WHERE id = $1`, [id])).rows[0];
    return r ? toDelegation(r) : null;
  }

  async revokeDelegation(id: number, at: string, by: string): Promise<boolean> {
    return ((await this.pool.query('UPDATE delegations SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL', [at, by, id])).rowCount ?? 0) > 0;
  }

  async listDelegations(q: { identityId: number | null; now: string; includeEnded?: boolean }): Promise<Delegation[]> {
    const clauses = ['revoked_at IS NULL'];
    const params: unknown[] = [];
    if (!q.includeEnded) {
      params.push(q.now);
      clauses.push(`ends_at > $${params.length}`);
    }
    if (q.identityId !== null) {
      params.push(q.identityId);
      clauses.push(`(delegator_id = $${params.length} OR delegate_id = $${params.length})`);
    }
    return (await this.pool.query(`SELECT ${DELEGATION_COLUMNS} FROM delegations WHERE ${clauses.join(' AND ')} ORDER BY starts_at, id LIMIT 1000`, params)).rows.map(toDelegation);
  }

  async delegationsTo(delegateIds: number[], now: string): Promise<Delegation[]> {
    if (!delegateIds.length) return [];
    const { rows } = await this.pool.query(
      `SELECT ${DELEGATION_COLUMNS} FROM delegations WHERE delegate_id = ANY($1::bigint[]) AND revoked_at IS NULL AND ends_at > $2 AND starts_at <= $2 ORDER BY id`,
      [delegateIds, now],
    );
    return rows.map(toDelegation);
  }

  async getOrCreateSetting(name: string, value: string): Promise<string> {
    await this.pool.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, value]);
    return (await this.pool.query('SELECT value FROM settings WHERE name = $1', [name])).rows[0].value as string;
  }
}

// SQL (exported for the query-plan tests) -------------------------------------------------------------

export const CLAIM_JOBS_SQL = `UPDATE jobs SET locked_by = $1, locked_until = now() + $2 * interval '1 millisecond', attempts = attempts + 1
         WHERE id IN (SELECT id FROM jobs WHERE run_at <= now() AND (locked_until IS NULL OR locked_until < now())
                      ORDER BY run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, instance_id, payload, attempts, last_error`;

/**
 * Each half is one step down a partial index (jobs_due, jobs_lease). A claimed job's lease always
 * ends after its due time (it is claimed once due): its lease end is when it could next run.
 */
export const NEXT_JOB_DELAY_SQL = `SELECT (EXTRACT(EPOCH FROM LEAST((SELECT run_at FROM jobs WHERE locked_until IS NULL ORDER BY run_at LIMIT 1),
                                             (SELECT locked_until FROM jobs WHERE locked_until IS NOT NULL ORDER BY locked_until LIMIT 1)) - now()) * 1000)::float8 AS ms`;

/** Served by the partial index instances_reconcile. */
export const RECONCILE_SQL = `SELECT id FROM instances WHERE status = ${InstanceStatus.Suspended} AND signals <> '[]'::jsonb ORDER BY last_modified LIMIT $1`;

// Rows ---------------------------------------------------------------------------------------------

/**
 * A named (server-side prepared) statement for the hot paths: each connection parses and plans it
 * once instead of on every call, which is about a quarter of the cost of a signal's transaction.
 */
const named = (name: string, text: string, values: unknown[]): pg.QueryConfig => ({ name, text, values });

/** SQLite puts NULLs first when ascending; PostgreSQL's default is the reverse. */
const dir = (ascending: boolean): string => (ascending ? 'ASC NULLS FIRST' : 'DESC NULLS LAST');

/**
 * Instance columns that are never null sort plain ASC/DESC: an index on (col, reference_id) then
 * serves the ORDER BY in both directions (a NULLS clause that differs from the index's default
 * would force a sort). Nullable ones keep SQLite's order, and their indexes are NULLS FIRST.
 */
const instanceDir = (column: string, ascending: boolean): string => (NOT_NULL_INSTANCE_COLUMNS.has(column) ? (ascending ? 'ASC' : 'DESC') : dir(ascending));

const INSTANCE_COLUMN_CASTS: Record<string, string> = { reference_id: '::bigint', status: '::bigint', start_date: '::timestamptz', last_modified: '::timestamptz' };

/** The SQL of an instance list (exported for the query-plan tests). */
export function pgInstanceListSql(q: InstanceQuery): { sql: string; params: unknown[] } {
  const { clauses, params, bind: p } = filtered(q.filter);
  if (q.initiatorId !== undefined) clauses.push(`initiator_id = ${p(q.initiatorId)}`);
  if (q.assignedTo) {
    // Index look-ups by role and by identity (pending-approvals.ts), not a scan of Suspended instances.
    const roles = q.assignedTo.roleIds;
    clauses.push(`status = ${InstanceStatus.Suspended}`);
    clauses.push(roles.length ? `id IN (SELECT instance_id FROM pending_roles WHERE role_id = ANY(${p(roles, '::bigint[]')}))` : 'FALSE');
    clauses.push(`NOT EXISTS (SELECT 1 FROM pending_barred b WHERE b.instance_id = instances.id AND b.identity_id = ${p(q.assignedTo.identityId, '::bigint')})`);
  }
  if (q.after) {
    const cast = INSTANCE_COLUMN_CASTS[q.sortColumn] ?? '::text';
    const k = keysetClause(q.sortColumn, q.ascending, q.after, (value, column) => p(value, column === 'reference_id' ? '::bigint' : cast));
    clauses.push(k.sql);
  }
  const sql = `SELECT * FROM instances WHERE ${clauses.map((cl) => `(${cl})`).join(' AND ')} ORDER BY ${q.sortColumn} ${instanceDir(q.sortColumn, q.ascending)}, reference_id ${q.ascending ? 'ASC' : 'DESC'} LIMIT ${p(q.limit)} OFFSET ${p(q.offset)}`;
  return { sql, params };
}

/** Binds (type, key) to definitionId; returns null, or the id of the definition already bound. */
async function bindingOwner(c: Q, type: string, key: string, definitionId: string): Promise<string | null> {
  for (;;) {
    const ins = await c.query('INSERT INTO definition_bindings (workflow_type, key_value, definition_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [type, key, definitionId]);
    if (ins.rowCount) return null;
    const row = (await c.query('SELECT definition_id FROM definition_bindings WHERE workflow_type = $1 AND key_value = $2', [type, key])).rows[0];
    // The owner let go between our insert and our read: try again.
    if (row) return row.definition_id as string;
  }
}

async function upsertVersion(c: Q, v: DefinitionVersion, createdAt: string): Promise<void> {
  await c.query(
    `INSERT INTO definition_versions (definition_id, version, steps, frozen, created_at) VALUES ($1, $2, $3::jsonb, $4, $5)
     ON CONFLICT (definition_id, version) DO UPDATE SET steps = excluded.steps, frozen = excluded.frozen`,
    [v.definitionId, v.version, JSON.stringify(v.steps), v.frozen, createdAt],
  );
}
/** The advisory lock that serialises audit appends (any fixed number unique to this use). */
const AUDIT_LOCK = 0x4155_4454;

/** Appends contents to the chain inside the caller's transaction, which holds AUDIT_LOCK: one INSERT, ids in VALUES order. */
async function chainAudit(c: Q, contents: AuditContent[], seal: (prevHash: string | null, content: AuditContent) => { hash: string; signature: string }): Promise<AuditEntry[]> {
  if (!contents.length) return [];
  let prev = ((await c.query('SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1')).rows[0]?.hash as string | undefined) ?? null;
  const sealed = contents.map((content) => {
    const s = seal(prev, content);
    prev = s.hash;
    return { ...content, ...s };
  });
  const values: unknown[] = [];
  const tuples = sealed.map((e) => {
    const row = [...auditContentValues(e), e.hash, e.signature];
    const base = values.length;
    values.push(...row);
    return `(${row.map((_, k) => `$${base + k + 1}`).join(', ')})`;
  });
  const { rows } = await c.query(`INSERT INTO audit_log (${AUDIT_CONTENT_COLUMNS}, hash, signature) VALUES ${tuples.join(', ')} RETURNING id`, values);
  const ids = rows.map((r: Row) => Number(r.id)).sort((a: number, b: number) => a - b);
  return sealed.map((e, k) => ({ ...e, id: ids[k]! }));
}
