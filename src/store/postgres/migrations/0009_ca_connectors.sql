-- CA connector kinds (issue 11): 'embedded' (keys sealed in the store, or in a PKCS#11 token),
-- 'acme' (an external ACME CA). config: the connector's own settings as JSON (no secrets).
ALTER TABLE cert_authorities ADD COLUMN connector text NOT NULL DEFAULT 'embedded';
ALTER TABLE cert_authorities ADD COLUMN config jsonb;
-- http-01 answers of ACME orders in progress, readable by every node (the CA's validation request
-- may reach any node behind the load balancer). Public by design (RFC 8555 8.3); short-lived.
CREATE TABLE upstream_acme_challenges (
  token             text PRIMARY KEY,
  key_authorization text NOT NULL,
  expires_at        timestamptz NOT NULL
);
-- The ACME order placed for each request (idempotency key), so a retry resumes it instead of
-- ordering a second certificate.
CREATE TABLE upstream_acme_orders (
  ca_id           bigint NOT NULL,
  idempotency_key text NOT NULL,
  order_url       text NOT NULL,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (ca_id, idempotency_key)
);
