-- Certificates, part 1: CAs, templates, metadata fields, enrollment requests, issued certificates.
CREATE TABLE cert_authorities (
  id              INTEGER PRIMARY KEY,
  logical_name    TEXT NOT NULL UNIQUE,
  host_name       TEXT NOT NULL,
  chain_pem       TEXT NOT NULL,
  sealed_key      TEXT NOT NULL,
  sealed_root_key TEXT,
  imported        INTEGER NOT NULL,
  created_at      TEXT NOT NULL
);
CREATE TABLE cert_templates (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  common_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  body        TEXT NOT NULL
);
CREATE TABLE cert_metadata_fields (
  id   INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  body TEXT NOT NULL
);
-- AUTOINCREMENT: request and certificate ids are never reused after a delete.
CREATE TABLE cert_requests (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  kind           TEXT NOT NULL,
  requester_id   INTEGER NOT NULL,
  requester_name TEXT NOT NULL,
  template_id    INTEGER NOT NULL,
  ca_id          INTEGER NOT NULL,
  instance_id    TEXT,
  data           TEXT NOT NULL,
  sealed_key     TEXT,
  created_at     TEXT NOT NULL
);
CREATE INDEX cert_requests_instance ON cert_requests (instance_id);
CREATE TABLE certificates (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  -- One certificate per request, whatever retries and nodes do: issuance is recorded once.
  request_id     INTEGER UNIQUE,
  thumbprint     TEXT NOT NULL,
  serial_number  TEXT NOT NULL,
  issuer_dn      TEXT NOT NULL,
  issued_dn      TEXT NOT NULL,
  issued_cn      TEXT,
  not_before     TEXT NOT NULL,
  not_after      TEXT NOT NULL,
  import_date    TEXT NOT NULL,
  template_id    INTEGER,
  ca_id          INTEGER,
  requester_id   INTEGER,
  requester_name TEXT,
  key_type       TEXT NOT NULL,
  key_size       INTEGER NOT NULL,
  der            BLOB NOT NULL,
  metadata       TEXT NOT NULL,
  sealed_key     TEXT
);
CREATE INDEX certificates_thumbprint ON certificates (thumbprint);
CREATE INDEX certificates_serial ON certificates (serial_number);
CREATE INDEX certificates_requester ON certificates (requester_id);
CREATE TABLE certificate_history (
  id             INTEGER PRIMARY KEY,
  certificate_id INTEGER NOT NULL,
  at             TEXT NOT NULL,
  username       TEXT,
  action         TEXT NOT NULL,
  comment        TEXT
);
CREATE INDEX certificate_history_cert ON certificate_history (certificate_id, id);
