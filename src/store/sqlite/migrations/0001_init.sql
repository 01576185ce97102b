-- Countersign schema, SQLite. Dates are ISO-8601 UTC text (sortable); JSON is text.

CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('reference_id', 0), ('security_generation', 1);

CREATE TABLE definitions (
  id                TEXT PRIMARY KEY,
  display_name      TEXT NOT NULL,
  description       TEXT,
  workflow_type     TEXT NOT NULL,
  keys              TEXT NOT NULL DEFAULT '[]',
  key_text          TEXT,
  enabled           INTEGER NOT NULL,
  draft_version     INTEGER NOT NULL,
  published_version INTEGER,
  is_published      INTEGER GENERATED ALWAYS AS (published_version IS NOT NULL) VIRTUAL,
  created_at        TEXT NOT NULL,
  last_modified     TEXT NOT NULL
);

-- One row per (type, key) of each *enabled* definition: the primary key enforces the binding rule.
CREATE TABLE definition_bindings (
  workflow_type TEXT NOT NULL,
  key_value     TEXT NOT NULL,
  definition_id TEXT NOT NULL REFERENCES definitions(id) ON DELETE CASCADE,
  PRIMARY KEY (workflow_type, key_value)
);

CREATE TABLE definition_versions (
  definition_id TEXT NOT NULL REFERENCES definitions(id) ON DELETE CASCADE,
  version       INTEGER NOT NULL,
  steps         TEXT NOT NULL,
  frozen        INTEGER NOT NULL DEFAULT 0,
  created_at    TEXT NOT NULL,
  PRIMARY KEY (definition_id, version)
);

CREATE TABLE instances (
  id                        TEXT PRIMARY KEY,
  reference_id              INTEGER NOT NULL UNIQUE,
  definition_id             TEXT NOT NULL,
  definition_version        INTEGER NOT NULL,
  definition_name           TEXT,
  workflow_type             TEXT,
  status                    INTEGER NOT NULL,
  status_message            TEXT,
  current_step              TEXT,
  current_step_id           TEXT,
  current_step_display_name TEXT,
  title                     TEXT,
  initiator_id              INTEGER,
  initiator_name            TEXT,
  initial_data              TEXT NOT NULL,
  state_data                TEXT NOT NULL,
  metadata                  TEXT NOT NULL,
  signals                   TEXT NOT NULL,
  pending_role_ids          TEXT NOT NULL,
  start_date                TEXT NOT NULL,
  last_modified             TEXT NOT NULL,
  restarted_from            TEXT,
  restarted_to              TEXT,
  rev                       INTEGER NOT NULL
);
CREATE INDEX instances_status ON instances (status);
CREATE INDEX instances_definition ON instances (definition_id);
CREATE INDEX instances_initiator ON instances (initiator_id);
CREATE INDEX instances_start_date ON instances (start_date);

CREATE TABLE instance_history (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  at          TEXT NOT NULL,
  kind        TEXT NOT NULL,
  step        TEXT,
  actor       TEXT,
  message     TEXT NOT NULL,
  data        TEXT
);
CREATE INDEX instance_history_instance ON instance_history (instance_id, id);

-- Durable queue of effects (automatic steps) recorded in the same transaction as the state change.
CREATE TABLE jobs (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id  TEXT NOT NULL,
  kind         TEXT NOT NULL,
  payload      TEXT NOT NULL,
  run_at       TEXT NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT,
  locked_by    TEXT,
  locked_until TEXT,
  created_at   TEXT NOT NULL
);
CREATE INDEX jobs_run_at ON jobs (run_at);

CREATE TABLE identities (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  account_name  TEXT NOT NULL,
  identity_type TEXT NOT NULL,
  sid           TEXT,
  email         TEXT,
  password_hash TEXT,
  created_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX identities_account_name ON identities (lower(account_name));

CREATE TABLE roles (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  name              TEXT NOT NULL,
  description       TEXT NOT NULL,
  email             TEXT,
  enabled           INTEGER NOT NULL,
  private           INTEGER NOT NULL,
  immutable         INTEGER NOT NULL,
  permissions       TEXT NOT NULL,
  permission_set_id TEXT NOT NULL
);
CREATE UNIQUE INDEX roles_name ON roles (lower(name));

CREATE TABLE role_identities (
  role_id     INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, identity_id)
);

CREATE TABLE role_claims (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  role_id         INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  claim_type      INTEGER NOT NULL,
  claim_value     TEXT NOT NULL,
  provider_scheme TEXT NOT NULL,
  description     TEXT NOT NULL
);
CREATE INDEX role_claims_value ON role_claims (lower(claim_value));
