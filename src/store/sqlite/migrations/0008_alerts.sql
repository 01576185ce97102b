-- Certificates, part 2: certificate collections (saved queries), expiration alerts, the
-- exactly-once record of what each alert did per certificate, and renewals (old -> new).
CREATE TABLE cert_collections (
  id   INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  body TEXT NOT NULL
);
CREATE TABLE expiration_alerts (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  body        TEXT NOT NULL,
  -- When the alert was last evaluated by the schedule (null: never).
  last_run_at TEXT,
  -- When its schedule (or the global one) was last set: an Immediate schedule runs once after it.
  set_at      TEXT NOT NULL
);
-- One row per (alert, certificate): claimed in the transaction that starts the workflow instance
-- (or before the e-mail is sent), so an alert acts once per certificate across restarts and nodes.
CREATE TABLE expiration_alerted (
  alert_id       INTEGER NOT NULL,
  certificate_id INTEGER NOT NULL,
  at             TEXT NOT NULL,
  instance_id    TEXT,
  -- 1 once what the finished instance wrote to its metadata was copied to the certificate.
  synced         INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (alert_id, certificate_id)
);
CREATE INDEX expiration_alerted_unsynced ON expiration_alerted (synced, instance_id);
CREATE TABLE certificate_renewals (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  -- Who asked for it (an Expiration instance, an API call): retries find the first renewal.
  idempotency_key    TEXT NOT NULL UNIQUE,
  old_certificate_id INTEGER NOT NULL,
  request_id         INTEGER NOT NULL,
  new_certificate_id INTEGER,
  at                 TEXT NOT NULL
);
CREATE INDEX certificate_renewals_old ON certificate_renewals (old_certificate_id);
CREATE INDEX certificate_renewals_new ON certificate_renewals (new_certificate_id);
