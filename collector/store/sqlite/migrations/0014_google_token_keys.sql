-- 0014_google_token_keys: Google OAuth grant evidence from the Reports API
-- and from the Admin console's token audit CSV used to be keyed by what
-- each source had (the API's event id, a hash of the CSV row), so one grant
-- imported both ways was stored twice. Both now key it by what both carry:
--   oauth_grant:google-token:authorize:<app>:<UTC time, whole seconds>:<person>
-- (collector/sources/google tokenEvidenceKey). This rewrites the keys
-- stored before to that form, so importing the same events again after the
-- upgrade stores nothing new. Only authorize events were ever evidence.
--
-- OR IGNORE: where one grant is already stored twice (API and CSV), the
-- first row takes the new key and the other keeps its old one; merging
-- them would also mean recounting the summary tables, so they are left
-- as they are.
UPDATE OR IGNORE evidence
SET dedupe_key = 'oauth_grant:google-token:authorize:' || app_id || ':'
    || strftime('%Y-%m-%dT%H:%M:%SZ', first_seen / 1000000, 'unixepoch') || ':' || person
WHERE source = 'oauth_grant'
  AND person <> ''
  AND (dedupe_key GLOB 'oauth_grant:google:*' OR dedupe_key GLOB 'oauth_grant:google-csv:*');
