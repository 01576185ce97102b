-- AssignedToMe's first page in the default order (CurrentStepDisplayName, then reference id) from
-- the waiting instances alone. With only (status, current_step_display_name, reference_id) the
-- planner walked (current_step_display_name, reference_id) from the start instead, pricing the
-- waiting rows as spread evenly when they come after every Complete one (whose step name is null,
-- first): 48 ms at 10k instances, 182 ms at 100k. A partial index on status = 2 (Suspended) is
-- what it then picks: under a millisecond.
CREATE INDEX instances_waiting_step_name ON instances (current_step_display_name NULLS FIRST, reference_id) WHERE status = 2;
