-- The name part of DOMAIN\name, lowercased as the account-name index is, so a log-in with a bare
-- name finds its identity through an index instead of reading every identity.
ALTER TABLE identities ADD COLUMN name_part TEXT;
UPDATE identities SET name_part = lower(substr(account_name, instr(account_name, '\') + 1))
 WHERE instr(account_name, '\') > 0;
CREATE INDEX identities_name_part ON identities (name_part);

-- Failed log-ins per account name (lowercased; names that exist and names that do not alike),
-- shared by every node: `failures` counts attempts not yet known to have succeeded, a lock-out
-- sets `locked_until` (ms since epoch) and counts in `lockouts`, which doubles the next one.
CREATE TABLE login_throttle (
  account_key  TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL,
  lockouts     INTEGER NOT NULL,
  locked_until INTEGER,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);
