-- Scale (issue 16): costs that do not grow with history.

-- Jobs: the instance's jobs (deleteInstance, leaving a step) through an index; the runner's next
-- due time from two partial indexes (unclaimed by due time, claimed by lease end) instead of a scan.
CREATE INDEX jobs_instance ON jobs (instance_id);
CREATE INDEX jobs_due ON jobs (run_at) WHERE locked_until IS NULL;
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE locked_until IS NOT NULL;
-- Timers queued before this migration stayed after their instance left the step: drop the stale ones.
DELETE FROM jobs
 WHERE kind = 'timer' AND locked_by IS NULL
   AND NOT EXISTS (SELECT 1 FROM instances i
                    WHERE i.id = jobs.instance_id AND i.status = 2 AND i.current_step = json_extract(jobs.payload, '$.step'));

-- The reconciler's sweep: only Suspended instances holding signals (status 2 is Suspended).
CREATE INDEX instances_reconcile ON instances (last_modified) WHERE status = 2 AND signals <> '[]';

-- AssignedToMe (src/store/pending-approvals.ts): who may act on a Suspended instance, by role, and
-- who may not, by identity. Written with the instance row, in the same transaction.
CREATE TABLE pending_roles (
  role_id     INTEGER NOT NULL,
  instance_id TEXT NOT NULL,
  PRIMARY KEY (role_id, instance_id)
) WITHOUT ROWID;
CREATE INDEX pending_roles_instance ON pending_roles (instance_id);
CREATE TABLE pending_barred (
  instance_id TEXT NOT NULL,
  identity_id INTEGER NOT NULL,
  PRIMARY KEY (instance_id, identity_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO pending_roles (role_id, instance_id)
  SELECT r.value, i.id FROM instances i, json_each(i.pending_role_ids) r WHERE i.status = 2;
INSERT OR IGNORE INTO pending_barred (instance_id, identity_id)
  SELECT i.id, json_extract(s.value, '$.identityId') FROM instances i, json_each(i.signals) s WHERE i.status = 2;
INSERT OR IGNORE INTO pending_barred (instance_id, identity_id)
  SELECT i.id, x.value FROM instances i, json_each(i.pending_excluded_ids) x WHERE i.status = 2;

-- Every sort the instance lists offer, each with the reference id as tie-breaker (the ORDER BY's
-- second key), alone and after the filters lists use most (status; the initiator for /My).
-- Deleting a definition counts its active instances: by (definition, status), not every instance it ever had.
DROP INDEX instances_definition;
CREATE INDEX instances_definition_status ON instances (definition_id, status);
DROP INDEX instances_status;
DROP INDEX instances_initiator;
DROP INDEX instances_start_date;
CREATE INDEX instances_by_start ON instances (start_date, reference_id);
CREATE INDEX instances_by_modified ON instances (last_modified, reference_id);
CREATE INDEX instances_by_title ON instances (title, reference_id);
CREATE INDEX instances_by_type ON instances (workflow_type, reference_id);
CREATE INDEX instances_by_initiator_name ON instances (initiator_name, reference_id);
CREATE INDEX instances_by_step ON instances (current_step, reference_id);
CREATE INDEX instances_by_step_name ON instances (current_step_display_name, reference_id);
CREATE INDEX instances_status_ref ON instances (status, reference_id);
CREATE INDEX instances_status_start ON instances (status, start_date, reference_id);
CREATE INDEX instances_status_modified ON instances (status, last_modified, reference_id);
CREATE INDEX instances_status_step_name ON instances (status, current_step_display_name, reference_id);
CREATE INDEX instances_initiator_step_name ON instances (initiator_id, current_step_display_name, reference_id);
CREATE INDEX instances_initiator_ref ON instances (initiator_id, reference_id);
CREATE INDEX instances_initiator_start ON instances (initiator_id, start_date, reference_id);
CREATE INDEX instances_initiator_modified ON instances (initiator_id, last_modified, reference_id);

-- `-contains` on the instances' text fields through a trigram index (FTS5, case-insensitive), keyed
-- by reference id (a rowid that VACUUM never renumbers). query-sql.ts uses it as a pre-filter and
-- keeps the exact LIKE test, so the answers are the same as a scan's.
CREATE VIRTUAL TABLE instances_text USING fts5(
  title, initiator_name, workflow_type, current_step_display_name, current_step,
  content = 'instances', content_rowid = 'reference_id', tokenize = 'trigram'
);
INSERT INTO instances_text (instances_text) VALUES ('rebuild');
CREATE TRIGGER instances_text_insert AFTER INSERT ON instances BEGIN
  INSERT INTO instances_text (rowid, title, initiator_name, workflow_type, current_step_display_name, current_step)
  VALUES (new.reference_id, new.title, new.initiator_name, new.workflow_type, new.current_step_display_name, new.current_step);
END;
CREATE TRIGGER instances_text_delete AFTER DELETE ON instances BEGIN
  INSERT INTO instances_text (instances_text, rowid, title, initiator_name, workflow_type, current_step_display_name, current_step)
  VALUES ('delete', old.reference_id, old.title, old.initiator_name, old.workflow_type, old.current_step_display_name, old.current_step);
END;
-- Most updates (a signal that does not decide) change none of these: no index write then.
CREATE TRIGGER instances_text_update AFTER UPDATE ON instances
WHEN old.title IS NOT new.title OR old.current_step_display_name IS NOT new.current_step_display_name OR old.current_step IS NOT new.current_step
  OR old.initiator_name IS NOT new.initiator_name OR old.workflow_type IS NOT new.workflow_type
BEGIN
  INSERT INTO instances_text (instances_text, rowid, title, initiator_name, workflow_type, current_step_display_name, current_step)
  VALUES ('delete', old.reference_id, old.title, old.initiator_name, old.workflow_type, old.current_step_display_name, old.current_step);
  INSERT INTO instances_text (rowid, title, initiator_name, workflow_type, current_step_display_name, current_step)
  VALUES (new.reference_id, new.title, new.initiator_name, new.workflow_type, new.current_step_display_name, new.current_step);
END;
