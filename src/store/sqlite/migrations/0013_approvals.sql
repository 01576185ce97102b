-- Idempotency-Key: the first answer to a keyed request, replayed to its retries (docs/approvals.md).
-- scope: the identity that sent it (a key never replays another caller's answer).
CREATE TABLE idempotency_keys (
  scope        INTEGER NOT NULL,
  key          TEXT NOT NULL,
  fingerprint  TEXT NOT NULL,
  state        TEXT NOT NULL,
  status       INTEGER,
  headers      TEXT,
  body         TEXT,
  locked_until TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The audit log: append-only, each entry chained to the one before by a hash (src/domain/audit.ts).
-- Text columns keep the exact bytes the hash covers.
CREATE TABLE audit_log (
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
  data                 TEXT NOT NULL,
  hash                 TEXT NOT NULL,
  signature            TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);

-- Delegation: an identity's approvals may be made by another for a time window (docs/approvals.md).
CREATE TABLE delegations (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  delegator_id INTEGER NOT NULL,
  delegate_id  INTEGER NOT NULL,
  starts_at    TEXT NOT NULL,
  ends_at      TEXT NOT NULL,
  comment      TEXT,
  created_at   TEXT NOT NULL,
  created_by   TEXT NOT NULL,
  revoked_at   TEXT,
  revoked_by   TEXT
);
CREATE INDEX delegations_delegate ON delegations (delegate_id, ends_at);
CREATE INDEX delegations_delegator ON delegations (delegator_id, ends_at);
