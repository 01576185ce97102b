-- Scale (issue 16): costs that do not grow with history.

-- Jobs: the runner's next due time from two partial indexes (unclaimed by due time, claimed by
-- lease end) instead of a scan of the queue.
CREATE INDEX jobs_due ON jobs (run_at) WHERE locked_until IS NULL;
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE locked_until IS NOT NULL;
-- Timers queued before this migration stayed after their instance left the step: drop the stale ones.
DELETE FROM jobs
 WHERE kind = 'timer' AND locked_by IS NULL
   AND NOT EXISTS (SELECT 1 FROM instances i
                    WHERE i.id = jobs.instance_id AND i.status = 2 AND i.current_step = jobs.payload->>'step');

-- AssignedToMe (src/store/pending-approvals.ts): who may act on a Suspended instance, by role, and
-- who may not, by identity. Written with the instance row, in the same statement.
CREATE TABLE pending_roles (
  role_id     bigint NOT NULL,
  instance_id text COLLATE "C" NOT NULL,
  PRIMARY KEY (role_id, instance_id)
);
CREATE INDEX pending_roles_instance ON pending_roles (instance_id);
CREATE TABLE pending_barred (
  instance_id text COLLATE "C" NOT NULL,
  identity_id bigint NOT NULL,
  PRIMARY KEY (instance_id, identity_id)
);
INSERT INTO pending_roles (role_id, instance_id)
  SELECT DISTINCT r::bigint, i.id FROM instances i, jsonb_array_elements_text(i.pending_role_ids) r WHERE i.status = 2
  ON CONFLICT DO NOTHING;
INSERT INTO pending_barred (instance_id, identity_id)
  SELECT DISTINCT i.id, (s->>'identityId')::bigint FROM instances i, jsonb_array_elements(i.signals) s WHERE i.status = 2
  ON CONFLICT DO NOTHING;
INSERT INTO pending_barred (instance_id, identity_id)
  SELECT DISTINCT i.id, x::bigint FROM instances i, jsonb_array_elements_text(i.pending_excluded_ids) x WHERE i.status = 2
  ON CONFLICT DO NOTHING;

-- Every sort the instance lists offer, each with the reference id as tie-breaker (the ORDER BY's
-- second key), alone and after the filters lists use most (status; the initiator for /My).
-- Nullable columns are sorted NULLS FIRST ascending (as SQLite does), so their indexes say so:
-- scanned backwards they serve DESC NULLS LAST. Not-null columns sort plain ASC/DESC.
-- Deleting a definition counts its active instances: by (definition, status), not every instance it ever had.
DROP INDEX instances_definition;
CREATE INDEX instances_definition_status ON instances (definition_id, status);
DROP INDEX instances_status;
DROP INDEX instances_initiator;
DROP INDEX instances_start_date;
CREATE INDEX instances_by_start ON instances (start_date, reference_id);
CREATE INDEX instances_by_modified ON instances (last_modified, reference_id);
CREATE INDEX instances_by_title ON instances (title NULLS FIRST, reference_id);
CREATE INDEX instances_by_type ON instances (workflow_type NULLS FIRST, reference_id);
CREATE INDEX instances_by_initiator_name ON instances (initiator_name NULLS FIRST, reference_id);
CREATE INDEX instances_by_step ON instances (current_step NULLS FIRST, reference_id);
CREATE INDEX instances_by_step_name ON instances (current_step_display_name NULLS FIRST, reference_id);
CREATE INDEX instances_status_ref ON instances (status, reference_id);
CREATE INDEX instances_status_start ON instances (status, start_date, reference_id);
CREATE INDEX instances_status_modified ON instances (status, last_modified, reference_id);
CREATE INDEX instances_status_step_name ON instances (status, current_step_display_name NULLS FIRST, reference_id);
CREATE INDEX instances_initiator_step_name ON instances (initiator_id, current_step_display_name NULLS FIRST, reference_id);
CREATE INDEX instances_initiator_ref ON instances (initiator_id, reference_id);
CREATE INDEX instances_initiator_start ON instances (initiator_id, start_date, reference_id);
CREATE INDEX instances_initiator_modified ON instances (initiator_id, last_modified, reference_id);

-- `-contains` on the instances' text fields through pg_trgm indexes on lower(column COLLATE "C"),
-- which serve query-sql.ts's LOWER(col COLLATE "C") LIKE LOWER(pattern COLLATE "C") as it is. pg_trgm is a trusted extension, created
-- once per database in its own schema `countersign_ext` (never a tenant schema, whose drop would
-- take the extension and every other schema's indexes with it), under a lock so that nodes and
-- schemas migrating at once do not race. Where it cannot be had (not installed, no privilege),
-- the migration goes on without these indexes and `-contains` scans, as before.
DO $$
DECLARE
  ext_schema text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('countersign:pg_trgm'));
  SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF ext_schema IS NULL THEN
    BEGIN
      CREATE SCHEMA IF NOT EXISTS countersign_ext;
      CREATE EXTENSION pg_trgm SCHEMA countersign_ext;
      ext_schema := 'countersign_ext';
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'pg_trgm is not available (%): -contains filters will scan', SQLERRM;
      RETURN;
    END;
  END IF;
  EXECUTE format('CREATE INDEX instances_title_trgm ON instances USING gin (lower(title COLLATE "C") %I.gin_trgm_ops)', ext_schema);
  EXECUTE format('CREATE INDEX instances_initiator_name_trgm ON instances USING gin (lower(initiator_name COLLATE "C") %I.gin_trgm_ops)', ext_schema);
  EXECUTE format('CREATE INDEX instances_workflow_type_trgm ON instances USING gin (lower(workflow_type COLLATE "C") %I.gin_trgm_ops)', ext_schema);
  EXECUTE format('CREATE INDEX instances_step_name_trgm ON instances USING gin (lower(current_step_display_name COLLATE "C") %I.gin_trgm_ops)', ext_schema);
  EXECUTE format('CREATE INDEX instances_step_trgm ON instances USING gin (lower(current_step COLLATE "C") %I.gin_trgm_ops)', ext_schema);
END
$$;
