-- 0013_digest_in_doubt: the digest send log also records an attempt as
-- 'sending' before the SMTP exchange, and settles an attempt cut off
-- mid-send as 'in_doubt' (sent at most once; IT is told). SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE digest_sends_new (
    id         INTEGER PRIMARY KEY,
    week       TEXT    NOT NULL,
    recipients TEXT    NOT NULL, -- comma-separated addresses
    status     TEXT    NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'in_doubt')),
    error      TEXT    NOT NULL,
    at         INTEGER NOT NULL
) STRICT;

INSERT INTO digest_sends_new (id, week, recipients, status, error, at)
    SELECT id, week, recipients, status, error, at FROM digest_sends;

DROP TABLE digest_sends;
ALTER TABLE digest_sends_new RENAME TO digest_sends;

CREATE INDEX digest_sends_week ON digest_sends (week, status);
