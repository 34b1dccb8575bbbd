-- 0003_unknown_domains: the agents' opt-in unknown-domain telemetry.
--
-- One row per day, registrable domain and device, with the lookups
-- counted; a batch's rows are written in the transaction that records the
-- batch, so a replayed batch adds nothing. The device is kept only to
-- count distinct devices per domain (the k-devices threshold); no query
-- returns it. Keyed day first: the one query reads the days since a date,
-- and retention deletes the days before one.
CREATE TABLE unknown_domains (
    day       TEXT    NOT NULL,
    domain    TEXT    NOT NULL,
    device_id TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (day, domain, device_id)
) STRICT, WITHOUT ROWID;
