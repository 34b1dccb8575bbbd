-- 0007_accounts: the web view's local admins, their sessions and the
-- one-time setup token. Secrets are never stored in the clear: password
-- hashes are argon2id PHC strings, tokens are kept as their SHA-256.

-- email is lowercase.
CREATE TABLE accounts (
    email         TEXT    PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    token_hash   BLOB    PRIMARY KEY,
    email        TEXT    NOT NULL REFERENCES accounts (email) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_by_email ON sessions (email);

-- At most one row: a new setup link replaces the last one.
CREATE TABLE setup_tokens (
    token_hash BLOB    PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
