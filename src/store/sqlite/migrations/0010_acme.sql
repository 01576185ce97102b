-- ACME server (RFC 8555): nonces, accounts, orders, authorizations, EAB keys, profiles.
-- Bodies are JSON; rev is the optimistic-concurrency counter every save compares.
CREATE TABLE acme_nonces (
  nonce      TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX acme_nonces_expiry ON acme_nonces (expires_at);
CREATE TABLE acme_accounts (
  id         TEXT PRIMARY KEY,
  profile    TEXT NOT NULL,
  thumbprint TEXT NOT NULL,
  body       TEXT NOT NULL,
  rev        INTEGER NOT NULL,
  UNIQUE (profile, thumbprint)
);
CREATE TABLE acme_orders (
  id             TEXT PRIMARY KEY,
  account_id     TEXT NOT NULL,
  status         TEXT NOT NULL,
  expires        TEXT NOT NULL,
  certificate_id INTEGER,
  body           TEXT NOT NULL,
  rev            INTEGER NOT NULL
);
CREATE INDEX acme_orders_account ON acme_orders (account_id, status);
CREATE INDEX acme_orders_certificate ON acme_orders (certificate_id);
CREATE TABLE acme_authzs (
  id       TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  body     TEXT NOT NULL,
  rev      INTEGER NOT NULL
);
CREATE INDEX acme_authzs_order ON acme_authzs (order_id);
CREATE TABLE acme_eab_keys (
  kid  TEXT PRIMARY KEY,
  body TEXT NOT NULL
);
CREATE TABLE acme_profiles (
  name TEXT PRIMARY KEY COLLATE NOCASE,
  body TEXT NOT NULL
);
