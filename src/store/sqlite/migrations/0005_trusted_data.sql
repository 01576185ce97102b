-- Trust (docs/security/trust.md): what the server set at start and what steps wrote are kept apart
-- from the requester's InitialData; role tokens and approval conditions read only these. Instances
-- from before this migration have no trusted values: their later role tokens resolve to nothing.
-- pending_excluded_ids: identities barred from the current step (the initiator), for AssignedToMe.
ALTER TABLE instances ADD COLUMN trusted_data TEXT NOT NULL DEFAULT '{}';
ALTER TABLE instances ADD COLUMN step_outputs TEXT NOT NULL DEFAULT '{"variables":{},"metadata":{}}';
ALTER TABLE instances ADD COLUMN pending_excluded_ids TEXT NOT NULL DEFAULT '[]';
