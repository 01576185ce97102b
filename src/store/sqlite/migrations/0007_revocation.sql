-- Certificates, part 2: revocation (with hold), and what the embedded CA publishes about it.
ALTER TABLE certificates ADD COLUMN revocation_reason INTEGER;
ALTER TABLE certificates ADD COLUMN revocation_date TEXT;
ALTER TABLE certificates ADD COLUMN revocation_comment TEXT;
CREATE INDEX certificates_revoked ON certificates (ca_id, revocation_reason);
CREATE INDEX certificates_ca_serial ON certificates (ca_id, serial_number);
-- One row per CA: `revision` grows with every revocation change (OCSP caches on every node
-- compare it); the last CRL signed, its number and the revision it reflects.
CREATE TABLE ca_revocation_state (
  ca_id           INTEGER PRIMARY KEY,
  revision        INTEGER NOT NULL,
  crl_number      INTEGER NOT NULL DEFAULT 0,
  crl_revision    INTEGER,
  crl_this_update TEXT,
  crl_next_update TEXT,
  crl_der         BLOB
);
