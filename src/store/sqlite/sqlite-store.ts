import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Transition } from '../../domain/engine.ts';
import { CountersignError, fail } from '../../domain/errors.ts';
import { compileSql, type TextIndex } from '../query-sql.ts';
import { InstanceStatus } from '../../domain/status.ts';
import type { Definition, DefinitionVersion, HistoryEntry, Instance } from '../../domain/types.ts';
import { CHANGED_COLUMNS, changedRow, instanceFromRow, instanceRow } from '../instance-row.ts';
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
import { actingIdempotencyKey, idempotencyState, MARK_ACTED_SQLITE } from '../idempotency-rows.ts';
import { AUDIT_COLUMNS, AUDIT_CONTENT_COLUMNS, auditContentValues, toAuditContent, toAuditEntry } from '../audit-rows.ts';
import { DELEGATION_COLUMNS, type Delegation, type NewDelegation, toDelegation } from '../delegation-rows.ts';
import type { AuditContent, AuditEntry } from '../../domain/audit.ts';
import { createRequire } from 'node:module';
import { Checkpointer, JOURNAL_SIZE_LIMIT } from './checkpointer.ts';
import { WalSync } from './wal-sync.ts';
import { GroupCommit } from './group-commit.ts';
import { type Durability, sqliteDurability, sqliteMigrationStatus, sqliteStats } from '../operations.ts';
import { SqliteSecurityStore } from './sqlite-security.ts';
import { leftWaitingStep } from '../jobs.ts';
import { keysetClause } from '../keyset.ts';
import { pendingChanged, pendingRows, type PendingRows } from '../pending-approvals.ts';
import { SqliteCertificateStore } from './sqlite-certificates.ts';
import { SqliteAlertStore } from './sqlite-alerts.ts';
import { SqliteAcmeStore } from './sqlite-acme.ts';
import { migrate, prepare } from './sqlite-schema.ts';
import { sqliteParam } from './sqlite-sql.ts';

const require = createRequire(import.meta.url);

type Row = Record<string, unknown>;

/**
 * The embedded store. better-sqlite3 is synchronous, so a read-modify-write runs start to end
 * inside one IMMEDIATE transaction with no await in between: in one process nothing interleaves,
 * and across processes SQLite's write lock (with busy_timeout) serialises writers.
 */
export class SqliteStore extends SqliteSecurityStore implements Store {
  private readonly wf: ReturnType<typeof prepare>;
  readonly certificates: SqliteCertificateStore;
  readonly alerts: SqliteAlertStore;

  /** Instance writes that arrive together commit together (group-commit.ts). */
  readonly group: GroupCommit;
  private readonly updateStatements = new Map<string, Database.Statement>();
  readonly acme: SqliteAcmeStore;

  private constructor(
    private readonly conn: Database.Database,
    private readonly checkpointer: Checkpointer | null,
    private readonly wal: WalSync | null = null,
  ) {
    super(conn);
    this.wf = prepare(conn);
    this.certificates = new SqliteCertificateStore(conn);
    this.group = new GroupCommit(conn, wal);
    this.alerts = new SqliteAlertStore(conn);
    this.acme = new SqliteAcmeStore(conn);
  }

  /** Opens (creating if needed) the database file and applies pending migrations. */
  static open(file: string, opts: { durability?: Durability } = {}): SqliteStore {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file);
    const wal = db.pragma('journal_mode = WAL', { simple: true }) === 'wal';
    // FULL: the WAL is synced at every COMMIT, so an acknowledged write survives power loss;
    // group commit pays that sync once per batch. NORMAL ("relaxed") survives a process crash
    // only: an OS crash or power loss can lose the last commits (docs/operations.md).
    const full = (opts.durability ?? 'full') === 'full';
    db.pragma(`synchronous = ${full ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    migrate(db);
    if (file === ':memory:') return new SqliteStore(db, null);
    // Checkpoints happen in a worker thread instead of inside a request's COMMIT (checkpointer.ts).
    db.pragma('wal_autocheckpoint = 0');
    // Group commits flush the WAL in the thread pool instead of inside COMMIT (wal-sync.ts); a
    // file system without WAL support keeps the rollback journal and FULL's in-line sync.
    return new SqliteStore(db, new Checkpointer(file, require.resolve('better-sqlite3')), full && wal ? new WalSync(`${file}-wal`) : null);
  }

  async migrate(): Promise<void> {
    migrate(this.conn);
  }

  async close(): Promise<void> {
    await this.group.drain();
    await this.checkpointer?.stop();
    this.conn.close();
    this.wal?.close();
  }

  /** The counts scan the tables: on a file database they run in the worker thread, off the event loop. */
  stats = async () => ({
    ...(await sqliteStats((sql, params) => (this.checkpointer ? this.checkpointer.all(sql, params) : this.conn.prepare(sql).all(...params)))),
    durability: sqliteDurability(this.conn),
  });
  migrationStatus = async () => sqliteMigrationStatus(this.conn);
  async backupTo(file: string): Promise<void> {
    await this.conn.backup(file);
  }

  // Definitions -----------------------------------------------------------------------------------

  async listDefinitions(q: ListQuery): Promise<Definition[]> {
    const where = compileSql(q.filter, 'sqlite');
    const sql = `SELECT * FROM definitions WHERE ${where.sql || '1=1'} ORDER BY ${q.sortColumn} ${q.ascending ? 'ASC' : 'DESC'}, id LIMIT ? OFFSET ?`;
    return (this.conn.prepare(sql).all(...where.params.map(sqliteParam), q.limit, q.offset) as Row[]).map(toDefinition);
  }

  async getDefinition(id: string): Promise<Definition | null> {
    const row = this.wf.getDefinition.get(id) as Row | undefined;
    return row ? toDefinition(row) : null;
  }

  async getVersion(definitionId: string, version: number): Promise<DefinitionVersion | null> {
    const row = this.wf.getVersion.get(definitionId, version) as Row | undefined;
    return row ? { definitionId, version, steps: JSON.parse(row.steps as string), frozen: row.frozen === 1 } : null;
  }

  async listVersions(definitionId: string): Promise<number[]> {
    return (this.wf.listVersions.all(definitionId) as Row[]).map((r) => r.version as number);
  }

  async insertDefinition(def: Definition, first: DefinitionVersion): Promise<void> {
    this.conn
      .transaction(() => {
        this.wf.insertDefinition.run(definitionRow(def));
        this.writeBindings(def);
        this.wf.upsertVersion.run(first.definitionId, first.version, JSON.stringify(first.steps), first.frozen ? 1 : 0, def.lastModified);
      })
      .immediate();
  }

  async updateDefinition<R>(id: string, fn: (def: Definition, latest: DefinitionVersion) => DefinitionChange<R>): Promise<R> {
    return this.conn
      .transaction(() => {
        const row = this.wf.getDefinition.get(id) as Row | undefined;
        if (!row) fail('NotFound', `No workflow definition has Id ${id}.`);
        const def = toDefinition(row!);
        const latestRow = this.wf.getVersion.get(id, def.draftVersion) as Row;
        const latest = { definitionId: id, version: def.draftVersion, steps: JSON.parse(latestRow.steps as string), frozen: latestRow.frozen === 1 };
        const change = fn(def, latest);
        this.wf.updateDefinition.run(definitionRow(change.definition));
        this.writeBindings(change.definition);
        if (change.version) {
          const v = change.version;
          this.wf.upsertVersion.run(id, v.version, JSON.stringify(v.steps), v.frozen ? 1 : 0, change.definition.lastModified);
        }
        return change.result;
      })
      .immediate();
  }

  async deleteDefinition(id: string, guard: (activeInstances: number) => void): Promise<void> {
    this.conn
      .transaction(() => {
        if (!this.wf.getDefinition.get(id)) fail('NotFound', `No workflow definition has Id ${id}.`);
        const active = (this.wf.countActive.get(id) as Row).n as number;
        guard(active);
        this.wf.deleteDefinition.run(id);
      })
      .immediate();
  }

  async findBoundDefinition(workflowType: string, key: string | null): Promise<Definition | null> {
    const row = this.wf.findBound.get(workflowType.toLowerCase(), key ?? '') as Row | undefined;
    return row ? toDefinition(row) : null;
  }

  /** Bindings exist only for enabled definitions; the primary key turns a clash into an error. */
  private writeBindings(def: Definition): void {
    this.wf.deleteBindings.run(def.id);
    if (!def.enabled) return;
    const keys = def.keys.length ? def.keys.map((k) => k.value) : [''];
    for (const key of keys) {
      try {
        this.wf.insertBinding.run(def.workflowType.toLowerCase(), key, def.id);
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw e;
        const other = this.wf.bindingOwner.get(def.workflowType.toLowerCase(), key) as Row;
        throw new CountersignError(
          'DefinitionBindingTaken',
          `The enabled definition ${other.definition_id} already handles WorkflowType '${def.workflowType}'${key ? ` with Key '${key}'` : ' without a key'}; disable it first, or create this one disabled.`,
        );
      }
    }
  }

  // Instances -------------------------------------------------------------------------------------

  async createInstance(build: (referenceId: number) => Transition, audit?: AuditContent[]): Promise<Instance> {
    // Read when the work is submitted: the group's batch runs in whichever request's context came first.
    const acting = actingIdempotencyKey();
    return this.group.run(() => {
      // Under this request's savepoint: undone with the instance if its insert fails.
      this.markActed(acting);
      const inst = this.insertNew(build);
      this.writeOutbox(audit);
      return inst;
    });
  }

  private markActedStatement: Database.Statement | null = null;

  /** Marks the Idempotency-Key the work acts under, in the work's own transaction (its savepoint in a group). */
  private markActed(acting: { scope: number; key: string } | null): void {
    if (!acting) return;
    this.markActedStatement ??= this.conn.prepare(MARK_ACTED_SQLITE);
    this.markActedStatement.run(new Date().toISOString(), acting.scope, acting.key);
  }

  async startInstanceOnce(claim: AlertClaim, build: (referenceId: number) => Transition, audit?: AuditContent[]): Promise<Instance | null> {
    return this.conn
      .transaction(() => {
        const claimed = this.conn
          .prepare('INSERT INTO expiration_alerted (alert_id, certificate_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
          .run(claim.alertId, claim.certificateId, claim.at);
        if (!claimed.changes) return null;
        const inst = this.insertNew(build);
        this.conn.prepare('UPDATE expiration_alerted SET instance_id = ? WHERE alert_id = ? AND certificate_id = ?').run(inst.id, claim.alertId, claim.certificateId);
        this.writeOutbox(audit);
        return inst;
      })
      .immediate();
  }

  private insertNew(build: (referenceId: number) => Transition): Instance {
    const ref = (this.wf.nextReference.get() as Row).value as number;
    const t = build(ref);
    const inst = { ...t.instance, rev: 1 };
    this.wf.insertInstance.run(instanceRow(inst));
    this.writeHistory(inst.id, t);
    this.writePending(inst.id, EMPTY_PENDING, pendingRows(inst));
    return inst;
  }

  async getInstance(id: string): Promise<Instance | null> {
    const row = this.wf.getInstance.get(id) as Row | undefined;
    return row ? toInstance(row) : null;
  }

  async getHistory(id: string): Promise<HistoryEntry[]> {
    return (this.wf.history.all(id) as Row[]).map((r) => ({
      at: r.at as string,
      kind: r.kind as HistoryEntry['kind'],
      step: (r.step as string | null) ?? null,
      actor: (r.actor as string | null) ?? null,
      message: r.message as string,
      data: r.data ? JSON.parse(r.data as string) : null,
    }));
  }

  async mutateInstance<R>(id: string, fn: (instance: Instance) => InstanceChange<R>): Promise<R> {
    const acting = actingIdempotencyKey();
    return this.group.run(() => {
      const row = this.wf.getInstance.get(id) as Row | undefined;
      if (!row) fail('NotFound', `No workflow instance has Id ${id}.`);
      const current = toInstance(row!);
      const change = fn(current);
      if (change.completeJob) {
        const done = this.wf.deleteJob.run(change.completeJob.id, change.completeJob.owner);
        if (done.changes === 0) fail('Conflict', `Job ${change.completeJob.id} is no longer held by ${change.completeJob.owner}.`);
      }
      if (change.transition) {
        const next = { ...change.transition.instance, rev: current.rev + 1 };
        this.updateChanged(row!, next);
        // Before the transition's own jobs go in: its new timers belong to the step it entered.
        if (leftWaitingStep(current, next)) this.wf.deleteWaitingTimers.run(id);
        this.writeHistory(id, change.transition);
        this.writePending(id, pendingRows(current), pendingRows(next));
      }
      if (change.spawn) this.insertNew(change.spawn);
      // Only a change that writes acted: a round that merely looked (transition null) did not.
      if (change.transition || change.spawn) this.markActed(acting);
      this.writeOutbox(change.audit);
      return change.result;
    });
  }

  /** The audit statements, prepared once (the sealer runs once per group commit on a busy server). */
  private auditStatements: ReturnType<typeof prepareAudit> | null = null;
  private get audit(): ReturnType<typeof prepareAudit> {
    this.auditStatements ??= prepareAudit(this.conn);
    return this.auditStatements;
  }

  /** An action's audit entries, unsealed, in its own transaction (sealAuditOutbox chains them). */
  private writeOutbox(audit: AuditContent[] | undefined): void {
    if (!audit?.length) return;
    for (const c of audit) this.audit.outboxInsert.run(...auditContentValues(c));
  }

  /**
   * UPDATE of only the columns whose stored value changes: SQLite rewrites the entries of every
   * index on a column named in SET, changed or not, and a signal that records a decision changes
   * four of the instance's sixteen indexed columns. One statement per column set, prepared once.
   */
  private updateChanged(stored: Row, next: Instance): void {
    const row = changedRow(next);
    const columns = CHANGED_COLUMNS.filter((c) => c === 'rev' || row[c] !== stored[c]);
    const key = columns.join(',');
    let statement = this.updateStatements.get(key);
    if (!statement) {
      statement = this.conn.prepare(`UPDATE instances SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`);
      if (this.updateStatements.size < 256) this.updateStatements.set(key, statement);
    }
    statement.run(Object.fromEntries([['id', row.id], ...columns.map((c) => [c, row[c]])]));
  }

  async queryInstances(q: InstanceQuery): Promise<Instance[]> {
    let plan: AssignedPlan = 'sparse';
    const roles = q.assignedTo?.roleIds ?? [];
    if (roles.length) {
      // How many items wait on the caller's roles, counted no further than the threshold (an index range).
      const n = this.conn
        .prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM pending_roles WHERE role_id IN (${roles.map(() => '?').join(',')}) LIMIT ${DENSE_ASSIGNED})`)
        .get(...roles) as Row;
      if ((n.n as number) >= DENSE_ASSIGNED) plan = 'dense';
    }
    const indexed = instanceListSql(q, plan);
    if (indexed.usesTextIndex) {
      // -contains through the trigram index costs what the needle matches: little for a rare one,
      // seconds for one in every title ('example' at a million). A common one fills the page from
      // the first rows in list order, so those are tried first: a full page there is the answer.
      const { sql, params } = instanceListSql(q, plan, TEXT_WINDOW);
      const rows = this.conn.prepare(sql).all(...params) as Row[];
      if (rows.length === q.limit) return rows.map(toInstance);
    }
    return (this.conn.prepare(indexed.sql).all(...indexed.params) as Row[]).map(toInstance);
  }

  async deleteInstance(id: string, guard: (instance: Instance) => void, audit?: AuditContent[]): Promise<void> {
    await this.group.run(() => {
      const row = this.wf.getInstance.get(id) as Row | undefined;
      if (!row) fail('NotFound', `No workflow instance has Id ${id}.`);
      guard(toInstance(row!));
      this.wf.deleteHistory.run(id);
      this.wf.deleteJobsOf.run(id);
      this.wf.deletePendingRoles.run(id);
      this.wf.deletePendingBarred.run(id);
      this.wf.deleteInstance.run(id);
      this.writeOutbox(audit);
    });
  }

  async listReconcileCandidates(limit: number): Promise<string[]> {
    return (this.wf.reconcileCandidates.all(limit) as Row[]).map((r) => r.id as string);
  }

  async claimJobs(owner: string, limit: number, leaseMs: number): Promise<Job[]> {
    const now = new Date();
    const until = new Date(now.getTime() + leaseMs).toISOString();
    return this.conn
      .transaction(() =>
        (this.wf.claimJobs.all(owner, until, now.toISOString(), now.toISOString(), limit) as Row[]).map((r) => ({
          id: r.id as number,
          instanceId: r.instance_id as string,
          effect: JSON.parse(r.payload as string),
          attempts: r.attempts as number,
          lastError: (r.last_error as string | null) ?? null,
        })),
      )
      .immediate();
  }

  async releaseJob(id: number, owner: string, runAt: string, error: string): Promise<boolean> {
    return this.wf.releaseJob.run(runAt, error, id, owner).changes > 0;
  }

  async dropJob(id: number, owner: string): Promise<boolean> {
    return this.wf.deleteJob.run(id, owner).changes > 0;
  }

  async jobsOf(instanceId: string): Promise<QueuedJob[]> {
    const rows = this.conn.prepare('SELECT id, instance_id, payload, attempts, last_error, run_at FROM jobs WHERE instance_id = ? ORDER BY run_at, id').all(instanceId) as Row[];
    return rows.map((r) => ({
      id: r.id as number,
      instanceId: r.instance_id as string,
      effect: JSON.parse(r.payload as string),
      attempts: r.attempts as number,
      lastError: (r.last_error as string | null) ?? null,
      runAt: r.run_at as string,
    }));
  }

  async nextJobDelay(): Promise<number | null> {
    const row = this.wf.nextJob.get() as Row | undefined;
    if (!row || row.due === null) return null;
    return Math.max(0, new Date(row.due as string).getTime() - Date.now());
  }

  async claimIdempotencyKey(c: IdempotencyClaimRequest): Promise<IdempotencyClaim> {
    const { scope, key, fingerprint, now, leaseUntil, expiresAt } = c;
    return this.conn
      .transaction((): IdempotencyClaim => {
        const won = this.conn
          .prepare(
            `INSERT INTO idempotency_keys (scope, key, fingerprint, state, locked_until, expires_at, created_at)
       VALUES (@scope, @key, @fingerprint, 'in-flight', @leaseUntil, @expiresAt, @now)
       ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'in-flight', status = NULL, headers = NULL, body = NULL,
         locked_until = excluded.locked_until, expires_at = excluded.expires_at, created_at = excluded.created_at, acted_at = NULL
       WHERE idempotency_keys.expires_at < @now
          OR (idempotency_keys.state = 'in-flight' AND idempotency_keys.locked_until < @now AND idempotency_keys.fingerprint = excluded.fingerprint
              AND idempotency_keys.acted_at IS NULL)
       RETURNING scope`,
          )
          .get({ scope, key, fingerprint, now, leaseUntil, expiresAt });
        if (won) return { state: 'claimed' };
        const row = this.conn
          .prepare('SELECT fingerprint, state, status, headers, body, (acted_at IS NOT NULL AND locked_until < ?) AS lost FROM idempotency_keys WHERE scope = ? AND key = ?')
          .get(now, scope, key) as Row;
        return idempotencyState(row, fingerprint);
      })
      .immediate();
  }

  async finishIdempotencyKey(scope: number, key: string, answer: StoredAnswer | null): Promise<void> {
    if (!answer) {
      // Nothing acted: the request may be sent again. Acted: keep the key, its lease ending now.
      this.conn.prepare("DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND state = 'in-flight' AND acted_at IS NULL").run(scope, key);
      this.conn.prepare("UPDATE idempotency_keys SET locked_until = created_at WHERE scope = ? AND key = ? AND state = 'in-flight' AND acted_at IS NOT NULL").run(scope, key);
    } else
      this.conn
        .prepare("UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?, body = ? WHERE scope = ? AND key = ?")
        .run(answer.status, JSON.stringify(answer.headers), answer.body, scope, key);
  }

  async sweepIdempotencyKeys(now: string, limit: number): Promise<number> {
    return this.conn.prepare('DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at < ? LIMIT ?)').run(now, limit).changes;
  }

  async appendAudit(contents: AuditContent[], seal: (prevHash: string | null, content: AuditContent) => { hash: string; signature: string }): Promise<AuditEntry[]> {
    // Lazily in the group transaction: the entries share the commit of the next requests.
    return this.group.run((): AuditEntry[] => this.chain(contents, seal), { lazy: true });
  }

  async sealAuditOutbox(limit: number, seal: (prevHash: string | null, content: AuditContent) => { hash: string; signature: string }): Promise<AuditEntry[]> {
    // Nothing waiting (a read, which never waits for the writer): no transaction at all.
    if (!this.audit.outboxAny.get()) return [];
    // Lazily in the group transaction, like appendAudit: the actions whose rows these are committed
    // already (or commit in this same transaction, in a savepoint before this one).
    return this.group.run(
      (): AuditEntry[] => {
        const rows = this.audit.outboxFirst.all(limit) as Row[];
        if (!rows.length) return [];
        const entries = this.chain(rows.map(toAuditContent), seal);
        // Writers are serialised (one write transaction at a time): no row below the last one read is still to come.
        this.audit.outboxDeleteTo.run(rows[rows.length - 1]!.id);
        return entries;
      },
      { lazy: true },
    );
  }

  async countAuditOutbox(): Promise<number> {
    return (this.conn.prepare('SELECT count(*) AS n FROM audit_outbox').get() as Row).n as number;
  }

  /** Appends contents to the chain, inside the caller's write transaction. */
  private chain(contents: AuditContent[], seal: (prevHash: string | null, content: AuditContent) => { hash: string; signature: string }): AuditEntry[] {
    let prev = ((this.audit.head.get() as Row | undefined)?.hash as string | undefined) ?? null;
    const insert = this.audit.append;
    return contents.map((content) => {
      const sealed = seal(prev, content);
      prev = sealed.hash;
      const row = insert.get({ ...content, ...sealed }) as Row;
      return { ...content, ...sealed, id: row.id as number };
    });
  }

  async getAuditEntry(id: number): Promise<AuditEntry | null> {
    const r = this.conn.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE id = ?`).get(id) as Row | undefined;
    return r ? toAuditEntry(r) : null;
  }

  async previousAuditEntry(id: number): Promise<AuditEntry | null> {
    const r = this.conn.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT 1`).get(id) as Row | undefined;
    return r ? toAuditEntry(r) : null;
  }

  async auditEntriesAfter(afterId: number, limit: number): Promise<AuditEntry[]> {
    return (this.conn.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE id > ? ORDER BY id LIMIT ?`).all(afterId, limit) as Row[]).map(toAuditEntry);
  }

  async queryAudit(q: ListQuery): Promise<AuditEntry[]> {
    const where = compileSql(q.filter, 'sqlite');
    const d = q.ascending ? 'ASC' : 'DESC';
    const sql = `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE ${where.sql || '1=1'} ORDER BY ${q.sortColumn} ${d}, id ${d} LIMIT ? OFFSET ?`;
    return (this.conn.prepare(sql).all(...where.params.map(sqliteParam), q.limit, q.offset) as Row[]).map(toAuditEntry);
  }

  async createDelegation(d: NewDelegation): Promise<Delegation> {
    const row = this.conn
      .prepare(
        `INSERT INTO delegations (delegator_id, delegate_id, starts_at, ends_at, comment, created_at, created_by)
         VALUES (@delegatorId, @delegateId, @startsAt, @endsAt, @comment, @createdAt, @createdBy) RETURNING ${DELEGATION_COLUMNS}`,
      )
      .get(d) as Row;
    return toDelegation(row);
  }

  async getDelegation(id: number): Promise<Delegation | null> {
    const r = this.conn.prepare(`SELECT ${DELEGATION_COLUMNS} FROM delegations WHERE id = ?`).get(id) as Row | undefined;
    return r ? toDelegation(r) : null;
  }

  async revokeDelegation(id: number, at: string, by: string): Promise<boolean> {
    return this.conn.prepare('UPDATE delegations SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(at, by, id).changes > 0;
  }

  async listDelegations(q: { identityId: number | null; now: string; includeEnded?: boolean }): Promise<Delegation[]> {
    const clauses = ['revoked_at IS NULL'];
    const params: unknown[] = [];
    if (!q.includeEnded) {
      clauses.push('ends_at > ?');
      params.push(q.now);
    }
    if (q.identityId !== null) {
      clauses.push('(delegator_id = ? OR delegate_id = ?)');
      params.push(q.identityId, q.identityId);
    }
    return (this.conn.prepare(`SELECT ${DELEGATION_COLUMNS} FROM delegations WHERE ${clauses.join(' AND ')} ORDER BY starts_at, id LIMIT 1000`).all(...params) as Row[]).map(
      toDelegation,
    );
  }

  async delegationsTo(delegateIds: number[], now: string): Promise<Delegation[]> {
    if (!delegateIds.length) return [];
    return (
      this.conn
        .prepare(
          `SELECT ${DELEGATION_COLUMNS} FROM delegations WHERE delegate_id IN (${delegateIds.map(() => '?').join(',')}) AND revoked_at IS NULL AND ends_at > ? AND starts_at <= ? ORDER BY id`,
        )
        .all(...delegateIds, now, now) as Row[]
    ).map(toDelegation);
  }

  async getOrCreateSetting(name: string, value: string): Promise<string> {
    this.conn.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(name, value);
    return (this.conn.prepare('SELECT value FROM settings WHERE name = ?').get(name) as Row).value as string;
  }

  /** Rewrites the instance's AssignedToMe rows when they change (pending-approvals.ts). */
  private writePending(instanceId: string, before: PendingRows, after: PendingRows): void {
    if (!pendingChanged(before, after)) return;
    if (before.roleIds.length) this.wf.deletePendingRoles.run(instanceId);
    if (before.barredIds.length) this.wf.deletePendingBarred.run(instanceId);
    for (const r of after.roleIds) this.wf.insertPendingRole.run(r, instanceId);
    for (const b of after.barredIds) this.wf.insertPendingBarred.run(instanceId, b);
  }

  private writeHistory(instanceId: string, t: Transition): void {
    for (const h of t.history) {
      this.wf.insertHistory.run(instanceId, h.at, h.kind, h.step, h.actor, h.message, h.data ? JSON.stringify(h.data) : null);
    }
    for (const e of t.effects) {
      // Timers are due later; everything else is due now.
      const due = 'at' in e ? e.at : t.instance.lastModified;
      this.wf.insertJob.run(e.instanceId, e.type, JSON.stringify(e), due, t.instance.lastModified);
    }
  }
}

// -------------------------------------------------------------------------------------------------

/** The FTS5 trigram table over the instances' text fields (migration 0012). */
const INSTANCE_TEXT_INDEX: TextIndex = {
  columns: new Set(['title', 'initiator_name', 'workflow_type', 'current_step_display_name', 'current_step']),
  filter: (column, pattern) => `reference_id IN (SELECT rowid FROM instances_text WHERE instances_text.${column} LIKE ${pattern})`,
};

/**
 * AssignedToMe has two plans. `sparse`: from the caller's pending items (pending_roles), then sort
 * them: costs what waits on the caller's roles. `dense`: walk the waiting instances in list order
 * (an index) and keep those the caller's roles may act on, until the page is full: costs the
 * page, when most of what waits is the caller's. The store picks dense from DENSE_ASSIGNED items on.
 */
export type AssignedPlan = 'sparse' | 'dense';
const DENSE_ASSIGNED = 2000;

/** Rows in list order a -contains filter is first tried on (see queryInstances). */
const TEXT_WINDOW = 5_000;

/** The SQL of an instance list (exported for the query-plan tests). */
export function instanceListSql(q: InstanceQuery, plan: AssignedPlan = 'sparse', window?: number): { sql: string; params: unknown[]; usesTextIndex: boolean } {
  // In a window the text filter is the plain test: the window is what bounds the work.
  const where = compileSql(q.filter, 'sqlite', 1, window ? undefined : INSTANCE_TEXT_INDEX);
  const clauses: string[] = [];
  const params: unknown[] = [];
  let from = 'instances';
  const fromParams: unknown[] = [];
  if (q.initiatorId !== undefined) {
    clauses.push('initiator_id = ?');
    params.push(q.initiatorId);
  }
  if (q.assignedTo) {
    // Index look-ups by role and by identity (pending-approvals.ts), not a scan of Suspended instances.
    const roles = q.assignedTo.roleIds;
    clauses.push(`status = ${InstanceStatus.Suspended}`);
    const inRoles = `role_id IN (${roles.map(() => '?').join(',')})`;
    if (!roles.length) clauses.push('0');
    else if (plan === 'dense') clauses.push(`EXISTS (SELECT 1 FROM pending_roles p WHERE p.instance_id = instances.id AND p.${inRoles})`);
    else from = `(SELECT DISTINCT instance_id FROM pending_roles WHERE ${inRoles}) AS mine CROSS JOIN instances ON instances.id = mine.instance_id`;
    // The role ids come first: in the sparse plan they are in the FROM clause, before the WHERE's parameters.
    if (roles.length) (plan === 'dense' ? params : fromParams).push(...roles);
    clauses.push('NOT EXISTS (SELECT 1 FROM pending_barred b WHERE b.instance_id = instances.id AND b.identity_id = ?)');
    params.push(q.assignedTo.identityId);
  }
  if (q.after) {
    const k = keysetClause(q.sortColumn, q.ascending, q.after, () => '?');
    clauses.push(k.sql);
    params.push(...k.params);
  }
  const dir = q.ascending ? 'ASC' : 'DESC';
  const order = `ORDER BY ${q.sortColumn} ${dir}, reference_id ${dir}`;
  const and = (cs: string[]) => cs.map((c) => `(${c})`).join(' AND ') || '1=1';
  const filter = where.sql || '1=1';
  const filterParams = where.params.map(sqliteParam);
  if (window) {
    // The first `window` rows in list order (through the same indexes as the plain list), then the filter.
    const sql = `SELECT * FROM (SELECT instances.* FROM ${from} WHERE ${and(clauses)} ${order} LIMIT ${window}) AS instances WHERE ${filter} ${order} LIMIT ? OFFSET ?`;
    return { sql, params: [...fromParams, ...params, ...filterParams, q.limit, q.offset], usesTextIndex: false };
  }
  const sql = `SELECT instances.* FROM ${from} WHERE ${and([filter, ...clauses])} ${order} LIMIT ? OFFSET ?`;
  return { sql, params: [...fromParams, ...filterParams, ...params, q.limit, q.offset], usesTextIndex: where.usedTextIndex };
}

const EMPTY_PENDING: PendingRows = { roleIds: [], barredIds: [] };

function definitionRow(d: Definition): Row {
  return {
    id: d.id,
    display_name: d.displayName,
    description: d.description,
    workflow_type: d.workflowType,
    keys: JSON.stringify(d.keys),
    key_text: d.keys[0]?.value ?? null,
    enabled: d.enabled ? 1 : 0,
    draft_version: d.draftVersion,
    published_version: d.publishedVersion,
    created_at: d.createdAt,
    last_modified: d.lastModified,
  };
}

function toDefinition(r: Row): Definition {
  return {
    id: r.id as string,
    displayName: r.display_name as string,
    description: (r.description as string | null) ?? null,
    workflowType: r.workflow_type as string,
    keys: JSON.parse(r.keys as string),
    enabled: r.enabled === 1,
    draftVersion: r.draft_version as number,
    publishedVersion: (r.published_version as number | null) ?? null,
    createdAt: r.created_at as string,
    lastModified: r.last_modified as string,
  };
}

const toInstance = (r: Row): Instance => instanceFromRow(r, (v) => JSON.parse(v as string));

function prepareAudit(conn: Database.Database) {
  return {
    head: conn.prepare('SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1'),
    append: conn.prepare(
      `INSERT INTO audit_log (at, category, operation, level, actor, entity_type, audit_identifier, immutable_identifier, message, data, hash, signature)
         VALUES (@at, @category, @operation, @level, @actor, @entityType, @auditIdentifier, @immutableIdentifier, @message, @data, @hash, @signature) RETURNING id`,
    ),
    outboxInsert: conn.prepare(`INSERT INTO audit_outbox (${AUDIT_CONTENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    outboxAny: conn.prepare('SELECT 1 FROM audit_outbox LIMIT 1'),
    outboxFirst: conn.prepare(`SELECT id, ${AUDIT_CONTENT_COLUMNS} FROM audit_outbox ORDER BY id LIMIT ?`),
    outboxDeleteTo: conn.prepare('DELETE FROM audit_outbox WHERE id <= ?'),
  };
}
