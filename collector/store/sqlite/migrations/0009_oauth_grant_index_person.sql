-- 0009_oauth_grant_index_person: OAuthGrantDetails skips a grant event
-- whose (app, person) an importer keeps current; with person in the index
-- that check reads the index alone instead of every grant row.
DROP INDEX evidence_oauth_grants;
CREATE INDEX evidence_oauth_grants ON evidence (app_id, detail, person)
    WHERE source = 'oauth_grant' AND detail <> '';
