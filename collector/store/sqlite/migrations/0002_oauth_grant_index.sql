-- OAuth grant details (the scopes granted) are read on every inventory
-- query to raise risky_oauth; this partial index keeps that read to the
-- grant rows instead of the whole evidence table.
CREATE INDEX evidence_oauth_grants ON evidence (app_id, detail)
    WHERE source = 'oauth_grant' AND detail <> '';
