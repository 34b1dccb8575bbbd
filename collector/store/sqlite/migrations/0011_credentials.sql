-- 0011_credentials: importer credentials set in the web view. Only where
-- each value is kept (a 0600 file under the data directory), who set it
-- and when: never the value, so the database and its backups hold no IdP
-- or mail secret.
CREATE TABLE credential_overrides (
    key    TEXT    PRIMARY KEY,
    file   TEXT    NOT NULL,
    set_by TEXT    NOT NULL,
    set_at INTEGER NOT NULL
) STRICT;
