-- Kept in step with SQLite's 0003 (which drops AUTOINCREMENT from instance_history).
-- PostgreSQL's identity column needs no change.
SELECT 1;
