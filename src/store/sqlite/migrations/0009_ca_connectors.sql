-- CA connector kinds (issue 11): 'embedded' (keys sealed in the store, or in a PKCS#11 token),
-- 'acme' (an external ACME CA). config: the connector's own settings as JSON (no secrets).
ALTER TABLE cert_authorities ADD COLUMN connector TEXT NOT NULL DEFAULT 'embedded';
ALTER TABLE cert_authorities ADD COLUMN config TEXT;
