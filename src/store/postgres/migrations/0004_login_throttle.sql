-- The name part of DOMAIN\name, lowercased as the account-name index is, so a log-in with a bare
-- name finds its identity through an index instead of reading every identity.
ALTER TABLE identities ADD COLUMN name_part text COLLATE "C";
UPDATE identities SET name_part = lower(split_part(account_name, E'\\', 2))
 WHERE strpos(account_name, E'\\') > 0;
CREATE INDEX identities_name_part ON identities (name_part);

-- Failed log-ins per account name (lowercased; names that exist and names that do not alike),
-- shared by every node: `failures` counts attempts not yet known to have succeeded, a lock-out
-- sets `locked_until` (ms since epoch) and counts in `lockouts`, which doubles the next one.
CREATE TABLE login_throttle (
  account_key  text COLLATE "C" PRIMARY KEY,
  failures     integer NOT NULL,
  lockouts     integer NOT NULL,
  locked_until bigint,
  updated_at   bigint NOT NULL
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);
