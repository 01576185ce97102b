-- Nothing to do on SQLite: its planner already walks instances_status_step_name for AssignedToMe
-- (test/store/query-plans.test.ts). PostgreSQL's 0014 adds a partial index its planner needs;
-- the two stores keep the same migration numbers.
SELECT 1;
