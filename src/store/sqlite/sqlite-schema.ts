import type Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InstanceStatus } from '../../domain/status.ts';

/* The SQLite store's schema (its migrations, applied in name order) and the workflow tables' prepared statements. */

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

type Row = Record<string, unknown>;

/** Applies the migrations not yet recorded in schema_migrations. */
export function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT name FROM schema_migrations').all() as Row[]).map((r) => r.name as string));
  for (const file of readdirSync(MIGRATIONS)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    if (applied.has(file)) continue;
    // The row goes in first: a second process migrating at the same moment fails on the key and stops.
    db.transaction(() => {
      db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(file, new Date().toISOString());
      db.exec(readFileSync(join(MIGRATIONS, file), 'utf8'));
    }).immediate();
  }
}

export function prepare(db: Database.Database) {
  return {
    getDefinition: db.prepare('SELECT * FROM definitions WHERE id = ?'),
    getVersion: db.prepare('SELECT steps, frozen FROM definition_versions WHERE definition_id = ? AND version = ?'),
    listVersions: db.prepare('SELECT version FROM definition_versions WHERE definition_id = ? ORDER BY version'),
    insertDefinition: db.prepare(
      `INSERT INTO definitions (id, display_name, description, workflow_type, keys, key_text, enabled, draft_version, published_version, created_at, last_modified)
       VALUES (@id, @display_name, @description, @workflow_type, @keys, @key_text, @enabled, @draft_version, @published_version, @created_at, @last_modified)`,
    ),
    updateDefinition: db.prepare(
      `UPDATE definitions SET display_name=@display_name, description=@description, workflow_type=@workflow_type, keys=@keys, key_text=@key_text,
       enabled=@enabled, draft_version=@draft_version, published_version=@published_version, last_modified=@last_modified WHERE id=@id`,
    ),
    upsertVersion: db.prepare(
      `INSERT INTO definition_versions (definition_id, version, steps, frozen, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (definition_id, version) DO UPDATE SET steps = excluded.steps, frozen = excluded.frozen`,
    ),
    deleteDefinition: db.prepare('DELETE FROM definitions WHERE id = ?'),
    countActive: db.prepare(`SELECT COUNT(*) AS n FROM instances WHERE definition_id = ? AND status IN (${InstanceStatus.Running}, ${InstanceStatus.Suspended})`),
    deleteBindings: db.prepare('DELETE FROM definition_bindings WHERE definition_id = ?'),
    insertBinding: db.prepare('INSERT INTO definition_bindings (workflow_type, key_value, definition_id) VALUES (?, ?, ?)'),
    bindingOwner: db.prepare('SELECT definition_id FROM definition_bindings WHERE workflow_type = ? AND key_value = ?'),
    findBound: db.prepare(
      `SELECT d.* FROM definition_bindings b JOIN definitions d ON d.id = b.definition_id
       WHERE b.workflow_type = ? AND b.key_value = ? AND d.enabled = 1 AND d.published_version IS NOT NULL`,
    ),
    nextReference: db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'reference_id' RETURNING value"),
    insertInstance: db.prepare(
      `INSERT INTO instances (id, reference_id, definition_id, definition_version, definition_name, workflow_type, status, status_message,
        current_step, current_step_id, current_step_display_name, title, initiator_id, initiator_name, initial_data, state_data, metadata,
        trusted_data, step_outputs, signals, pending_role_ids, pending_excluded_ids, start_date, last_modified, restarted_from, restarted_to, rev)
       VALUES (@id, @reference_id, @definition_id, @definition_version, @definition_name, @workflow_type, @status, @status_message,
        @current_step, @current_step_id, @current_step_display_name, @title, @initiator_id, @initiator_name, @initial_data, @state_data, @metadata,
        @trusted_data, @step_outputs, @signals, @pending_role_ids, @pending_excluded_ids, @start_date, @last_modified, @restarted_from, @restarted_to, @rev)`,
    ),
    getInstance: db.prepare('SELECT * FROM instances WHERE id = ?'),
    deleteInstance: db.prepare('DELETE FROM instances WHERE id = ?'),
    deleteHistory: db.prepare('DELETE FROM instance_history WHERE instance_id = ?'),
    history: db.prepare('SELECT * FROM instance_history WHERE instance_id = ? ORDER BY id'),
    insertHistory: db.prepare('INSERT INTO instance_history (instance_id, at, kind, step, actor, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    insertJob: db.prepare('INSERT INTO jobs (instance_id, kind, payload, run_at, created_at) VALUES (?, ?, ?, ?, ?)'),
    claimJobs: db.prepare(
      `UPDATE jobs SET locked_by = ?, locked_until = ?, attempts = attempts + 1
       WHERE id IN (SELECT id FROM jobs WHERE run_at <= ? AND (locked_until IS NULL OR locked_until < ?) ORDER BY run_at, id LIMIT ?)
       RETURNING id, instance_id, payload, attempts, last_error`,
    ),
    releaseJob: db.prepare('UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = ?, last_error = ? WHERE id = ? AND locked_by = ?'),
    deleteJob: db.prepare('DELETE FROM jobs WHERE id = ? AND locked_by = ?'),
    deleteJobsOf: db.prepare('DELETE FROM jobs WHERE instance_id = ?'),
    // Each half is one step down a partial index (jobs_due, jobs_lease), whatever the queue's size.
    // A claimed job's lease always ends after its due time (it is claimed once due), so its lease
    // end is when it could next run.
    nextJob: db.prepare(
      `SELECT MIN(due) AS due FROM (SELECT * FROM (SELECT run_at AS due FROM jobs WHERE locked_until IS NULL ORDER BY run_at LIMIT 1)
        UNION ALL SELECT * FROM (SELECT locked_until AS due FROM jobs WHERE locked_until IS NOT NULL ORDER BY locked_until LIMIT 1))`,
    ),
    deleteWaitingTimers: db.prepare("DELETE FROM jobs WHERE instance_id = ? AND kind = 'timer' AND locked_by IS NULL"),
    deletePendingRoles: db.prepare('DELETE FROM pending_roles WHERE instance_id = ?'),
    deletePendingBarred: db.prepare('DELETE FROM pending_barred WHERE instance_id = ?'),
    insertPendingRole: db.prepare('INSERT OR IGNORE INTO pending_roles (role_id, instance_id) VALUES (?, ?)'),
    insertPendingBarred: db.prepare('INSERT OR IGNORE INTO pending_barred (instance_id, identity_id) VALUES (?, ?)'),
    // The partial index holds only Suspended instances with signals (few); without INDEXED BY the
    // planner may prefer walking every Suspended instance by status.
    reconcileCandidates: db.prepare(
      `SELECT id FROM instances INDEXED BY instances_reconcile WHERE status = ${InstanceStatus.Suspended} AND signals <> '[]' ORDER BY last_modified LIMIT ?`,
    ),
  };
}
