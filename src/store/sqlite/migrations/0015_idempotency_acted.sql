-- Idempotency-Key: when the action of a keyed request committed (docs/approvals.md#idempotency-key).
-- Written in the action's own transaction: a key acted upon but never answered (the node died
-- between the commit and storing the answer) is never acted on again.
ALTER TABLE idempotency_keys ADD COLUMN acted_at TEXT;
