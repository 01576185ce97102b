-- ACME server (RFC 8555): nonces, accounts, orders, authorizations, EAB keys, profiles.
-- Bodies are JSON; rev is the optimistic-concurrency counter every save compares.
CREATE TABLE acme_nonces (
  nonce      text PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX acme_nonces_expiry ON acme_nonces (expires_at);
CREATE TABLE acme_accounts (
  id         text PRIMARY KEY,
  profile    text NOT NULL,
  thumbprint text NOT NULL,
  body       text NOT NULL,
  rev        integer NOT NULL,
  UNIQUE (profile, thumbprint)
);
CREATE TABLE acme_orders (
  id             text PRIMARY KEY,
  created_seq    bigserial,
  account_id     text NOT NULL,
  status         text NOT NULL,
  expires        text NOT NULL,
  certificate_id bigint,
  body           text NOT NULL,
  rev            integer NOT NULL
);
CREATE INDEX acme_orders_account ON acme_orders (account_id, status);
CREATE INDEX acme_orders_certificate ON acme_orders (certificate_id);
CREATE TABLE acme_authzs (
  id       text PRIMARY KEY,
  order_id text NOT NULL,
  body     text NOT NULL,
  rev      integer NOT NULL
);
CREATE INDEX acme_authzs_order ON acme_authzs (order_id);
CREATE TABLE acme_eab_keys (
  kid  text PRIMARY KEY,
  body text NOT NULL
);
CREATE TABLE acme_profiles (
  name text PRIMARY KEY,
  body text NOT NULL
);
