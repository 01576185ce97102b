import type pg from 'pg';
import type { Effect, Transition } from '../../domain/engine.ts';
import type { AuditContent } from '../../domain/audit.ts';
import type { Instance } from '../../domain/types.ts';
import { AUDIT_CONTENT_COLUMNS, auditContentValues } from '../audit-rows.ts';
import { CHANGED_COLUMNS, INSTANCE_COLUMNS, instanceFromRow, instanceRow } from '../instance-row.ts';
import { pendingChanged, pendingRows, type PendingRows } from '../pending-approvals.ts';
import type { Row } from './pg-db.ts';

/*
 * Instance rows and the statements that write them. A transition (instance row, history, jobs,
 * the completed job, the wake-up) is written by ONE statement of data-modifying CTEs: on a local
 * network a signal's cost is mostly round trips, and one statement instead of four is most of
 * the difference between PostgreSQL and SQLite here.
 */

const COLUMNS = INSTANCE_COLUMNS;

/** Named columns, never `*`: a prepared statement's result shape must not change when a later migration adds a column. */
export const INSTANCE_SELECT = COLUMNS.join(', ');

const JSON_COLUMNS = new Set(['initial_data', 'state_data', 'metadata', 'trusted_data', 'step_outputs', 'signals', 'pending_role_ids', 'pending_excluded_ids']);
const castOf = (col: string): string => (JSON_COLUMNS.has(col) ? 'jsonb' : col === 'start_date' || col === 'last_modified' ? 'timestamptz' : '');

const MUTABLE = CHANGED_COLUMNS;

const instanceValues = instanceRow;

/** jsonb columns arrive parsed. */
export const toInstance = (r: Row): Instance => instanceFromRow(r, (v) => v);

// The write statement ------------------------------------------------------------------------------

export interface TransitionWrite {
  /** A new instance row (createInstance, a restart's spawn) ... */
  insert?: Instance;
  /** ... or the new state of an existing one. */
  update?: Instance;
  /** History and effects to append (for `insert` or `update`). */
  transition?: Transition;
  /** A claimed job to delete, only if `owner` still holds it; the result's `done` says whether it did. */
  completeJob?: { id: number; owner: string };
  /** The instance's AssignedToMe rows before an update (pending-approvals.ts); rewritten when they change. */
  pendingBefore?: PendingRows;
  /** Delete the instance's unclaimed timers (it left the step they were set for), before queueing new jobs. */
  dropWaitingTimers?: boolean;
  /** Audit entries for the audit outbox (in this order), written by the same statement. */
  audit?: AuditContent[];
  /** Sent when the statement queued jobs; delivered on commit. */
  notify?: { channel: string; payload: string };
  /** The Idempotency-Key the write acts under: its row is marked acted by the same statement (idempotency-rows.ts). */
  acted?: { scope: number; key: string } | null;
}

/** Collects parameters and hands out their `$n` placeholders. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown, cast = ''): string {
    this.values.push(v);
    return `$${this.values.length}${cast ? `::${cast}` : ''}`;
  }
}

/**
 * One statement for a whole transition; null when there is nothing to write. Its single result
 * row has `done`: 1, or, with completeJob, how many jobs it deleted (0: the lease was lost, and
 * the caller must roll back).
 */
export function transitionStatement(w: TransitionWrite): pg.QueryConfig | null {
  const p = new Params();
  const ctes: [string, string][] = [];
  const id = w.insert?.id ?? w.update?.id;
  if (w.completeJob) ctes.push(['d', `DELETE FROM jobs WHERE id = ${p.add(w.completeJob.id)} AND locked_by = ${p.add(w.completeJob.owner)} RETURNING 1`]);
  if (w.insert) ctes.push(['i', insertInstance(p, w.insert)]);
  if (w.update) ctes.push(['u', updateInstance(p, w.update)]);
  // The statement's snapshot does not see the jobs it inserts, so new timers survive this delete.
  if (w.dropWaitingTimers && id) ctes.push(['t', `DELETE FROM jobs WHERE instance_id = ${p.add(id)} AND kind = 'timer' AND locked_by IS NULL`]);
  const row = w.insert ?? w.update;
  if (row && id) ctes.push(...pendingWrites(p, id, w.insert ? { roleIds: [], barredIds: [] } : (w.pendingBefore ?? { roleIds: [], barredIds: [] }), pendingRows(row)));
  const history = w.transition?.history ?? [];
  if (history.length && id) ctes.push(['h', insertHistory(p, id, history)]);
  const effects = w.transition?.effects ?? [];
  if (effects.length && id) ctes.push(['j', insertJobs(p, id, effects)]);
  if (w.audit?.length) ctes.push(['a', insertOutbox(p, w.audit)]);
  if (!ctes.length) return null;
  // Only with something else to write: a change that wrote nothing did not act.
  if (w.acted)
    ctes.push([
      'ik',
      `UPDATE idempotency_keys SET acted_at = now() WHERE scope = ${p.add(w.acted.scope, 'bigint')} AND key = ${p.add(w.acted.key, 'text')} AND state = 'in-flight' AND acted_at IS NULL`,
    ]);
  const done = w.completeJob ? '(SELECT COUNT(*) FROM d)::int' : '1';
  const notify = effects.length && w.notify ? `, pg_notify(${p.add(w.notify.channel)}, ${p.add(w.notify.payload)})` : '';
  const text = `WITH ${ctes.map(([name, body]) => `${name} AS (${body})`).join(', ')} SELECT ${done} AS done${notify}`;
  return { name: statementName(text), text, values: p.values };
}

/**
 * Removes the rows no longer wanted and adds the new ones (ON CONFLICT: kept rows stay). Never a
 * delete and an insert of the same row: the order of a statement's CTEs is not defined.
 */
function pendingWrites(p: Params, id: string, before: PendingRows, after: PendingRows): [string, string][] {
  if (!pendingChanged(before, after)) return [];
  const out: [string, string][] = [];
  const idParam = p.add(id);
  if (before.roleIds.length) out.push(['prd', `DELETE FROM pending_roles WHERE instance_id = ${idParam} AND role_id <> ALL(${p.add(after.roleIds, 'bigint[]')})`]);
  if (after.roleIds.length)
    out.push(['pri', `INSERT INTO pending_roles (role_id, instance_id) SELECT unnest(${p.add(after.roleIds, 'bigint[]')}), ${idParam} ON CONFLICT DO NOTHING`]);
  if (before.barredIds.length) out.push(['pbd', `DELETE FROM pending_barred WHERE instance_id = ${idParam} AND identity_id <> ALL(${p.add(after.barredIds, 'bigint[]')})`]);
  if (after.barredIds.length)
    out.push(['pbi', `INSERT INTO pending_barred (instance_id, identity_id) SELECT ${idParam}, unnest(${p.add(after.barredIds, 'bigint[]')}) ON CONFLICT DO NOTHING`]);
  return out;
}

function insertInstance(p: Params, i: Instance): string {
  const v = instanceValues(i);
  return `INSERT INTO instances (${INSTANCE_SELECT}) VALUES (${COLUMNS.map((c) => p.add(v[c], castOf(c))).join(', ')})`;
}

function updateInstance(p: Params, i: Instance): string {
  const v = instanceValues(i);
  const idParam = p.add(i.id);
  return `UPDATE instances SET ${MUTABLE.map((c) => `${c} = ${p.add(v[c], castOf(c))}`).join(', ')} WHERE id = ${idParam}`;
}

function insertHistory(p: Params, instanceId: string, history: Transition['history']): string {
  const idParam = p.add(instanceId);
  const rows = history.map(
    (h) =>
      `(${idParam}, ${p.add(h.at, 'timestamptz')}, ${p.add(h.kind)}, ${p.add(h.step)}, ${p.add(h.actor)}, ${p.add(h.message)}, ${p.add(h.data ? JSON.stringify(h.data) : null, 'jsonb')})`,
  );
  // Rows are numbered in VALUES order, and getHistory reads them back by that number.
  return `INSERT INTO instance_history (instance_id, at, kind, step, actor, message, data) VALUES ${rows.join(', ')}`;
}

/** An action's audit outbox rows as a statement of their own (deleteInstance: nothing else goes through transitionStatement). */
export function outboxStatement(audit: AuditContent[]): pg.QueryConfig {
  const p = new Params();
  return { text: insertOutbox(p, audit), values: p.values };
}

/** Numbered in VALUES order, as history rows are: the sealer takes them in id order. */
function insertOutbox(p: Params, audit: AuditContent[]): string {
  const rows = audit.map(
    (c) =>
      `(${auditContentValues(c)
        .map((v, k) => p.add(v, k === 1 || k === 2 || k === 3 ? 'integer' : 'text'))
        .join(', ')})`,
  );
  return `INSERT INTO audit_outbox (${AUDIT_CONTENT_COLUMNS}) VALUES ${rows.join(', ')}`;
}

/** Due now by the database clock, which is the clock leases are measured with; timers at their time. */
function insertJobs(p: Params, instanceId: string, effects: Effect[]): string {
  const rows = effects.map(
    (e) => `(${p.add(e.instanceId ?? instanceId, 'text')}, ${p.add(e.type, 'text')}, ${p.add(JSON.stringify(e), 'jsonb')}, ${p.add('at' in e ? e.at : null, 'timestamptz')})`,
  );
  return `INSERT INTO jobs (instance_id, kind, payload, run_at, created_at) SELECT v.i, v.k, v.p, COALESCE(v.r, now()), now() FROM (VALUES ${rows.join(', ')}) v (i, k, p, r)`;
}

/**
 * Statements with the same shape share a name, so each connection parses and plans each shape
 * once. Shapes are few (they vary with the number of history rows and jobs); past a bound,
 * statements simply go unnamed.
 */
const NAMES = new Map<string, string>();
function statementName(text: string): string | undefined {
  let name = NAMES.get(text);
  if (!name && NAMES.size < 500) {
    name = `cs_write_${NAMES.size}`;
    NAMES.set(text, name);
  }
  return name;
}
