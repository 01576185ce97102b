-- Countersign schema, PostgreSQL. Same tables and meaning as the SQLite migration of the same
-- name (test/store/migrations.test.ts keeps the two sets in step). Dates are timestamptz, JSON is
-- jsonb, flags are boolean. Ids the API shows as GUIDs are text, not uuid: the query compiler
-- compares LOWER(column), which needs text. Text columns use the "C" collation so sorting matches
-- SQLite's byte order whatever the database's default collation is.

-- Reference ids come from a sequence so that starting instances on several nodes never waits on
-- one counter row. A rolled-back start leaves a gap, as Keyfactor's identity column does.
CREATE SEQUENCE reference_ids;

CREATE TABLE counters (
  name  text COLLATE "C" PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES ('security_generation', 1);

CREATE TABLE definitions (
  id                text COLLATE "C" PRIMARY KEY,
  display_name      text COLLATE "C" NOT NULL,
  description       text COLLATE "C",
  workflow_type     text COLLATE "C" NOT NULL,
  keys              jsonb NOT NULL DEFAULT '[]',
  key_text          text COLLATE "C",
  enabled           boolean NOT NULL,
  draft_version     bigint NOT NULL,
  published_version bigint,
  is_published      boolean GENERATED ALWAYS AS (published_version IS NOT NULL) STORED,
  created_at        timestamptz NOT NULL,
  last_modified     timestamptz NOT NULL
);

-- One row per (type, key) of each *enabled* definition: the primary key enforces the binding rule.
CREATE TABLE definition_bindings (
  workflow_type text COLLATE "C" NOT NULL,
  key_value     text COLLATE "C" NOT NULL,
  definition_id text COLLATE "C" NOT NULL REFERENCES definitions(id) ON DELETE CASCADE,
  PRIMARY KEY (workflow_type, key_value)
);
CREATE INDEX definition_bindings_definition ON definition_bindings (definition_id);

CREATE TABLE definition_versions (
  definition_id text COLLATE "C" NOT NULL REFERENCES definitions(id) ON DELETE CASCADE,
  version       bigint NOT NULL,
  steps         jsonb NOT NULL,
  frozen        boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL,
  PRIMARY KEY (definition_id, version)
);

CREATE TABLE instances (
  id                        text COLLATE "C" PRIMARY KEY,
  reference_id              bigint NOT NULL UNIQUE,
  definition_id             text COLLATE "C" NOT NULL,
  definition_version        bigint NOT NULL,
  definition_name           text COLLATE "C",
  workflow_type             text COLLATE "C",
  status                    bigint NOT NULL,
  status_message            text COLLATE "C",
  current_step              text COLLATE "C",
  current_step_id           text COLLATE "C",
  current_step_display_name text COLLATE "C",
  title                     text COLLATE "C",
  initiator_id              bigint,
  initiator_name            text COLLATE "C",
  initial_data              jsonb NOT NULL,
  state_data                jsonb NOT NULL,
  metadata                  jsonb NOT NULL,
  signals                   jsonb NOT NULL,
  pending_role_ids          jsonb NOT NULL,
  start_date                timestamptz NOT NULL,
  last_modified             timestamptz NOT NULL,
  restarted_from            text COLLATE "C",
  restarted_to              text COLLATE "C",
  rev                       integer NOT NULL
);
CREATE INDEX instances_status ON instances (status);
CREATE INDEX instances_definition ON instances (definition_id);
CREATE INDEX instances_initiator ON instances (initiator_id);
CREATE INDEX instances_start_date ON instances (start_date);
-- The reconciler's sweep: only Suspended instances holding signals (status 2 is Suspended).
CREATE INDEX instances_reconcile ON instances (last_modified) WHERE status = 2 AND signals <> '[]'::jsonb;

CREATE TABLE instance_history (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  instance_id text COLLATE "C" NOT NULL,
  at          timestamptz NOT NULL,
  kind        text COLLATE "C" NOT NULL,
  step        text COLLATE "C",
  actor       text COLLATE "C",
  message     text COLLATE "C" NOT NULL,
  data        jsonb
);
CREATE INDEX instance_history_instance ON instance_history (instance_id, id);

-- Durable queue of effects (automatic steps) recorded in the same transaction as the state change.
CREATE TABLE jobs (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  instance_id  text COLLATE "C" NOT NULL,
  kind         text COLLATE "C" NOT NULL,
  payload      jsonb NOT NULL,
  run_at       timestamptz NOT NULL,
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text COLLATE "C",
  locked_by    text COLLATE "C",
  locked_until timestamptz,
  created_at   timestamptz NOT NULL
);
CREATE INDEX jobs_run_at ON jobs (run_at, id);
CREATE INDEX jobs_instance ON jobs (instance_id);

CREATE TABLE identities (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_name  text COLLATE "C" NOT NULL,
  identity_type text COLLATE "C" NOT NULL,
  sid           text COLLATE "C",
  email         text COLLATE "C",
  password_hash text COLLATE "C",
  created_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX identities_account_name ON identities (lower(account_name));

CREATE TABLE roles (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name              text COLLATE "C" NOT NULL,
  description       text COLLATE "C" NOT NULL,
  email             text COLLATE "C",
  enabled           boolean NOT NULL,
  private           boolean NOT NULL,
  immutable         boolean NOT NULL,
  permissions       jsonb NOT NULL,
  permission_set_id text COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX roles_name ON roles (lower(name));

CREATE TABLE role_identities (
  role_id     bigint NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  identity_id bigint NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, identity_id)
);
CREATE INDEX role_identities_identity ON role_identities (identity_id);

CREATE TABLE role_claims (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  role_id         bigint NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  claim_type      bigint NOT NULL,
  claim_value     text COLLATE "C" NOT NULL,
  provider_scheme text COLLATE "C" NOT NULL,
  description     text COLLATE "C" NOT NULL
);
CREATE INDEX role_claims_role ON role_claims (role_id);
CREATE INDEX role_claims_value ON role_claims (lower(claim_value));
