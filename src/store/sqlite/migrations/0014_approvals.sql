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
