-- What an identity provider or directory last vouched for about an identity (its groups, OAuth
-- roles, subject, client id), one row per claim and provider scheme, written at sign-in. Read only
-- to find the people in a role for notifications; authorization uses the live token or bind.
CREATE TABLE identity_external_claims (
  identity_id     bigint NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  claim_type      bigint NOT NULL,
  claim_value     text COLLATE "C" NOT NULL,
  provider_scheme text COLLATE "C" NOT NULL,
  PRIMARY KEY (identity_id, claim_type, claim_value, provider_scheme)
);
CREATE INDEX identity_external_claims_value ON identity_external_claims (lower(claim_value));
