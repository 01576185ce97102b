-- The audit outbox (docs/security/audit.md, "Appending"): an action writes the content of its
-- audit entry here in its own transaction; the sealer (Store.sealAuditOutbox) moves the rows, in
-- id order, into audit_log, chained and signed, and deletes them. Same columns as audit_log's content.
CREATE TABLE audit_outbox (
  id                   INTEGER PRIMARY KEY AUTOINCREMENT,
  at                   TEXT NOT NULL,
  category             INTEGER NOT NULL,
  operation            INTEGER NOT NULL,
  level                INTEGER NOT NULL,
  actor                TEXT,
  entity_type          TEXT,
  audit_identifier     TEXT,
  immutable_identifier TEXT,
  message              TEXT NOT NULL,
  data                 TEXT NOT NULL
);
