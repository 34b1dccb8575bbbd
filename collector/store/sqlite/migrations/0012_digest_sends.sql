-- 0012_digest_sends: the weekly digest's send log. One row per attempt,
-- sent or failed; the scheduler sends a week only while no row of that
-- week has status 'sent', so a restart never sends twice.
CREATE TABLE digest_sends (
    id         INTEGER PRIMARY KEY,
    week       TEXT    NOT NULL,
    recipients TEXT    NOT NULL, -- comma-separated addresses
    status     TEXT    NOT NULL CHECK (status IN ('sent', 'failed')),
    error      TEXT    NOT NULL,
    at         INTEGER NOT NULL
) STRICT;

CREATE INDEX digest_sends_week ON digest_sends (week, status);
