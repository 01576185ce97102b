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
