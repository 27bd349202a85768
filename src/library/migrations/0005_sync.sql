-- Migration 5: one library across devices (src/sync). The library's tie to a sync folder, the shared document as
-- last merged and applied here, and what was read of each other device's change files.
CREATE TABLE sync_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    folder          BLOB    NOT NULL,
    -- This library's id in the folder (random at join: machine ids are shared by copies of a disk image).
    device_uuid     BLOB    NOT NULL,
    device_name     TEXT    NOT NULL,
    -- The Automerge document of shared data, saved whole.
    doc             BLOB    NOT NULL,
    -- The change hashes (32 bytes each) the published change files cover.
    published_heads BLOB    NOT NULL,
    next_seq        INTEGER NOT NULL,
    joined_at       INTEGER NOT NULL,
    last_sync_at    INTEGER
);

CREATE TABLE sync_peers (
    device_uuid  BLOB    PRIMARY KEY,
    name         TEXT    NOT NULL,
    -- Change files 1..loaded_seq of this device are merged here.
    loaded_seq   INTEGER NOT NULL DEFAULT 0,
    last_seen_at INTEGER,
    -- Why its last file was refused (NULL when none was).
    refused      TEXT
) WITHOUT ROWID;
