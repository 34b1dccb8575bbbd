-- 0001_init: the first schema of the collector store.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC (the zero Go time
-- is stored as its own microsecond value, so it reads back as zero).
-- Strings are never NULL: an unknown value is ''.

-- Enrolled agents. Only the SHA-256 hash of a device token is kept.
CREATE TABLE devices (
    id                   TEXT    PRIMARY KEY,
    token_hash           BLOB    NOT NULL UNIQUE,
    hostname             TEXT    NOT NULL,
    os                   TEXT    NOT NULL,
    os_version           TEXT    NOT NULL,
    arch                 TEXT    NOT NULL,
    agent_version        TEXT    NOT NULL,
    owner_email          TEXT    NOT NULL,
    last_user            TEXT    NOT NULL,
    enroll_secret        TEXT    NOT NULL,
    enrolled_at          INTEGER NOT NULL,
    last_seen_at         INTEGER NOT NULL,
    revoked              INTEGER NOT NULL DEFAULT 0,
    capture_state        TEXT    NOT NULL DEFAULT '',
    packets_seen         INTEGER NOT NULL DEFAULT 0, -- a uint64 stored bit for bit
    drops                INTEGER NOT NULL DEFAULT 0, -- a uint64 stored bit for bit
    spool_depth          INTEGER NOT NULL DEFAULT 0,
    health_agent_version TEXT    NOT NULL DEFAULT '',
    last_error           TEXT    NOT NULL DEFAULT '',
    health_reported_at   INTEGER NOT NULL
) STRICT;

-- One row per agent upload, so a replayed batch is recognised. A rowid
-- table: purge walks it in rowid windows.
CREATE TABLE batches (
    id            INTEGER PRIMARY KEY,
    device_id     TEXT    NOT NULL REFERENCES devices (id),
    batch_id      TEXT    NOT NULL,
    agent_version TEXT    NOT NULL,
    received_at   INTEGER NOT NULL,
    rows          INTEGER NOT NULL,
    UNIQUE (device_id, batch_id)
) STRICT;

-- Every observation. Agent rows are daily aggregates that merge by
-- dedupe_key; a merge changes only count, first_seen, last_seen and
-- amount_cents, none of which is indexed, so merging never touches an index.
CREATE TABLE evidence (
    id           INTEGER PRIMARY KEY,
    dedupe_key   TEXT    NOT NULL UNIQUE,
    app_id       TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    person       TEXT    NOT NULL,
    device_id    TEXT    NOT NULL,
    day          TEXT    NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    domain       TEXT    NOT NULL,
    tenant       TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    amount_cents INTEGER NOT NULL,
    currency     TEXT    NOT NULL
) STRICT;
CREATE INDEX evidence_by_app ON evidence (app_id, day);
CREATE INDEX evidence_by_person ON evidence (person, day) WHERE person <> '';
CREATE INDEX evidence_by_device ON evidence (device_id, day) WHERE device_id <> '';

-- Summary tables, maintained in the transaction that writes the evidence
-- they summarise, so the inventory never scans evidence. first_seen and
-- last_seen widen; purge drops a summary row once its last_seen is older
-- than the cut-off.

-- Evidence per app and source: count is the sum of the evidence counts.
CREATE TABLE app_sources (
    app_id     TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    count      INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (app_id, source)
) STRICT, WITHOUT ROWID;

-- People with usage evidence, keyed person first: a batch comes from one
-- person, so its rows land next to each other.
CREATE TABLE app_people (
    person     TEXT    NOT NULL,
    app_id     TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (person, app_id)
) STRICT, WITHOUT ROWID;

-- Devices with usage evidence, keyed device first for the same reason.
CREATE TABLE app_devices (
    device_id  TEXT    NOT NULL,
    app_id     TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (device_id, app_id)
) STRICT, WITHOUT ROWID;

-- Which devices a person used apps on.
CREATE TABLE person_devices (
    person     TEXT    NOT NULL,
    device_id  TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (person, device_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE app_tenants (
    app_id     TEXT    NOT NULL,
    tenant     TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (app_id, tenant)
) STRICT, WITHOUT ROWID;

-- Spend per app, month (YYYY-MM) and currency.
CREATE TABLE app_spend (
    app_id   TEXT    NOT NULL,
    month    TEXT    NOT NULL,
    currency TEXT    NOT NULL,
    cents    INTEGER NOT NULL,
    PRIMARY KEY (app_id, month, currency)
) STRICT, WITHOUT ROWID;

-- Distinct people and devices per app, kept by triggers as rows come and
-- go in app_people and app_devices, so AppUsage counts nothing. An upsert
-- that updates an existing row fires no INSERT trigger.
CREATE TABLE app_counts (
    app_id  TEXT    PRIMARY KEY,
    people  INTEGER NOT NULL DEFAULT 0,
    devices INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TRIGGER app_people_counted AFTER INSERT ON app_people BEGIN
    INSERT INTO app_counts (app_id, people) VALUES (NEW.app_id, 1)
        ON CONFLICT (app_id) DO UPDATE SET people = people + 1;
END;
CREATE TRIGGER app_people_uncounted AFTER DELETE ON app_people BEGIN
    UPDATE app_counts SET people = people - 1 WHERE app_id = OLD.app_id;
END;
CREATE TRIGGER app_devices_counted AFTER INSERT ON app_devices BEGIN
    INSERT INTO app_counts (app_id, devices) VALUES (NEW.app_id, 1)
        ON CONFLICT (app_id) DO UPDATE SET devices = devices + 1;
END;
CREATE TRIGGER app_devices_uncounted AFTER DELETE ON app_devices BEGIN
    UPDATE app_counts SET devices = devices - 1 WHERE app_id = OLD.app_id;
END;

-- IT's decisions. decided_at is the zero time while nobody has decided
-- (a row made only to record inside_idp).
CREATE TABLE app_states (
    app_id     TEXT    PRIMARY KEY,
    status     TEXT    NOT NULL,
    decided_by TEXT    NOT NULL,
    why        TEXT    NOT NULL,
    decided_at INTEGER NOT NULL,
    inside_idp TEXT    NOT NULL
) STRICT;

CREATE TABLE status_history (
    id          INTEGER PRIMARY KEY,
    app_id      TEXT    NOT NULL,
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    decided_by  TEXT    NOT NULL,
    why         TEXT    NOT NULL,
    decided_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX status_history_by_app ON status_history (app_id, id);
