-- The audit outbox (docs/security/audit.md, "Appending"): an action writes the content of its
-- audit entry here in its own transaction; the sealer (Store.sealAuditOutbox) moves the rows, in
-- id order, into audit_log, chained and signed, and deletes them. Same columns as audit_log's content.
CREATE TABLE audit_outbox (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at                   text COLLATE "C" NOT NULL,
  category             integer NOT NULL,
  operation            integer NOT NULL,
  level                integer NOT NULL,
  actor                text COLLATE "C",
  entity_type          text COLLATE "C",
  audit_identifier     text COLLATE "C",
  immutable_identifier text COLLATE "C",
  message              text NOT NULL,
  data                 text NOT NULL
);
