-- 0010_settings: what IT changes in the web view at run time. Enroll
-- secrets made there (only the SHA-256 of each value), and small settings
-- kept as text by key (digest recipients, retention overrides).
CREATE TABLE enroll_secrets (
    name       TEXT    PRIMARY KEY,
    hash       BLOB    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    -- revoked_at is 0 while the secret is active.
    revoked_at INTEGER NOT NULL DEFAULT 0,
    revoked_by TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
