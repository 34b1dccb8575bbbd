-- 0004_sources: what the importers keep besides evidence.

-- Each importer's place: an opaque value per (source, key), written after
-- the evidence it covers.
CREATE TABLE checkpoints (
    source     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source, key)
) STRICT, WITHOUT ROWID;

-- Importer runs, for source health. Old runs are purged with batches.
CREATE TABLE source_runs (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    imported    INTEGER NOT NULL,
    error       TEXT    NOT NULL
) STRICT;
CREATE INDEX source_runs_by_source ON source_runs (source, id);

-- The IdPs' app lists. mapped_by = 'manual' is IT's choice and survives
-- imports. urls is a JSON array of strings.
CREATE TABLE idp_apps (
    idp          TEXT    NOT NULL,
    external_id  TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    protocol     TEXT    NOT NULL,
    provisioning INTEGER NOT NULL,
    active       INTEGER NOT NULL,
    urls         TEXT    NOT NULL,
    app_id       TEXT    NOT NULL,
    mapped_by    TEXT    NOT NULL,
    seen_at      INTEGER NOT NULL,
    PRIMARY KEY (idp, external_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX idp_apps_by_app ON idp_apps (app_id) WHERE app_id <> '';

-- OAuth grants as they stand. scopes is space-separated and sorted;
-- revoked_at is 0 while the grant stands.
CREATE TABLE oauth_grants (
    provider   TEXT    NOT NULL,
    person     TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    app_id     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (provider, person, client_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX oauth_grants_by_app ON oauth_grants (app_id, person);
