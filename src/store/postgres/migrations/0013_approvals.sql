-- Idempotency-Key: the first answer to a keyed request, replayed to its retries (docs/approvals.md).
-- scope: the identity that sent it (a key never replays another caller's answer).
CREATE TABLE idempotency_keys (
  scope        bigint NOT NULL,
  key          text COLLATE "C" NOT NULL,
  fingerprint  text COLLATE "C" NOT NULL,
  state        text COLLATE "C" NOT NULL,
  status       integer,
  headers      jsonb,
  body         text,
  locked_until timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The audit log: append-only, each entry chained to the one before by a hash (src/domain/audit.ts).
-- Text columns (also the timestamp) keep the exact bytes the hash covers.
CREATE TABLE audit_log (
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
  data                 text NOT NULL,
  hash                 text COLLATE "C" NOT NULL,
  signature            text COLLATE "C" NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);

-- Delegation: an identity's approvals may be made by another for a time window (docs/approvals.md).
CREATE TABLE delegations (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delegator_id bigint NOT NULL,
  delegate_id  bigint NOT NULL,
  starts_at    text COLLATE "C" NOT NULL,
  ends_at      text COLLATE "C" NOT NULL,
  comment      text,
  created_at   text COLLATE "C" NOT NULL,
  created_by   text NOT NULL,
  revoked_at   text COLLATE "C",
  revoked_by   text
);
CREATE INDEX delegations_delegate ON delegations (delegate_id, ends_at);
CREATE INDEX delegations_delegator ON delegations (delegator_id, ends_at);
