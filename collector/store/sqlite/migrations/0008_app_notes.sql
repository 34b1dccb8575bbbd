-- 0008_app_notes: IT's owner and notes per app, shown and edited on the
-- app page. One row per app; an app without a row has no note.
CREATE TABLE app_notes (
    app_id     TEXT    PRIMARY KEY,
    owner      TEXT    NOT NULL,
    notes      TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
