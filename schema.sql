-- spacefs library schema: the current state, for reading.
--
-- Follows the Spacedrive v2 design (devices, locations, entries with materialized paths, content_identity,
-- user_metadata, tags, labels, their junctions, jobs). Databases are built by the append-only migrations in
-- src/library/migrations/; a test checks that they produce exactly this schema.
--
-- Conventions:
-- * UUIDs are 16-byte BLOBs.
-- * File names and paths are BLOBs holding the exact bytes of the name on disk (Linux names need not be UTF-8).
-- * `entries.relative_path` is the path of the parent directory relative to the location root, without leading or
--   trailing '/', '' for entries directly in the root. The entry's own path is relative_path || '/' || name.
-- * Times are integer nanoseconds since the Unix epoch.
-- * Ids that become inode numbers (locations, content_identity, entries, tags, labels) are AUTOINCREMENT: a
--   number is never reused for something else.
-- * `entries.kind`: 0 = regular file, 1 = directory, 2 = symbolic link, 3 = other (fifo, socket, device).

CREATE TABLE devices (
    id          INTEGER PRIMARY KEY,
    uuid        BLOB    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    os          TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);

CREATE TABLE locations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         BLOB    NOT NULL UNIQUE,
    device_id    INTEGER NOT NULL REFERENCES devices(id),
    name         TEXT    NOT NULL UNIQUE,
    path         BLOB    NOT NULL UNIQUE,
    index_mode   TEXT    NOT NULL DEFAULT 'content' CHECK (index_mode IN ('metadata', 'content', 'deep')),
    scan_state   TEXT    NOT NULL DEFAULT 'pending' CHECK (scan_state IN ('pending', 'scanning', 'done', 'failed')),
    file_count   INTEGER NOT NULL DEFAULT 0,
    dir_count    INTEGER NOT NULL DEFAULT 0,
    total_bytes  INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_scan_at INTEGER
);

CREATE TABLE content_identity (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid          BLOB    NOT NULL UNIQUE,
    -- Spacedrive's sampled content id: 16 hex characters. 64 bits can collide, so it alone proves nothing.
    cas_id        TEXT    NOT NULL,
    -- BLAKE3 of the whole content, 64 hex characters; NULL until a second file with this cas_id (or deep mode)
    -- asks for it. Files whose full hashes differ get different rows with the same cas_id.
    full_hash     TEXT,
    kind          TEXT    NOT NULL DEFAULT 'other',
    size          INTEGER NOT NULL,
    first_seen_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX content_identity_unverified ON content_identity (cas_id) WHERE full_hash IS NULL;
CREATE UNIQUE INDEX content_identity_verified ON content_identity (cas_id, full_hash) WHERE full_hash IS NOT NULL;
CREATE INDEX content_identity_full_hash ON content_identity (full_hash) WHERE full_hash IS NOT NULL;

CREATE TABLE user_metadata (
    id          INTEGER PRIMARY KEY,
    uuid        BLOB    NOT NULL UNIQUE,
    notes       TEXT,
    favorite    INTEGER NOT NULL DEFAULT 0 CHECK (favorite IN (0, 1)),
    hidden      INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    custom_data TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- Set when the entry this metadata belonged to vanished from disk: the metadata (tags, labels, notes) is kept,
    -- with what is needed to re-link it to the file if it comes back.
    orphaned_at        INTEGER,
    orphan_location_id INTEGER REFERENCES locations(id) ON DELETE CASCADE,
    orphan_path        BLOB,
    orphan_inode       INTEGER,
    orphan_device      INTEGER,
    orphan_content_id  INTEGER REFERENCES content_identity(id) ON DELETE SET NULL
, rating INTEGER CHECK (rating BETWEEN 1 AND 10));
-- `rating` (added by migration 4, hence its place): KDE's user.baloo.rating, 1 to 10 (half stars); NULL = none.
CREATE INDEX user_metadata_favorite ON user_metadata (id) WHERE favorite = 1;
CREATE INDEX user_metadata_hidden ON user_metadata (id) WHERE hidden = 1;
CREATE INDEX user_metadata_orphans ON user_metadata (orphan_location_id, orphan_inode) WHERE orphaned_at IS NOT NULL;
CREATE INDEX user_metadata_orphan_content ON user_metadata (orphan_content_id) WHERE orphan_content_id IS NOT NULL;

CREATE TABLE entries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid           BLOB    NOT NULL UNIQUE,
    location_id    INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    relative_path  BLOB    NOT NULL,
    name           BLOB    NOT NULL,
    kind           INTEGER NOT NULL CHECK (kind IN (0, 1, 2, 3)),
    extension      TEXT,
    size           INTEGER NOT NULL DEFAULT 0,
    mode           INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER,
    modified_at    INTEGER NOT NULL DEFAULT 0,
    changed_at     INTEGER NOT NULL DEFAULT 0,
    accessed_at    INTEGER,
    inode          INTEGER NOT NULL DEFAULT 0,
    device         INTEGER NOT NULL DEFAULT 0,
    symlink_target BLOB,
    content_id     INTEGER REFERENCES content_identity(id) ON DELETE SET NULL,
    metadata_id    INTEGER REFERENCES user_metadata(id) ON DELETE SET NULL,
    indexed_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX entries_path ON entries (location_id, relative_path, name);
CREATE INDEX entries_content ON entries (content_id) WHERE content_id IS NOT NULL;
-- Most entries carry no metadata: a partial index keeps their inserts cheap.
CREATE UNIQUE INDEX entries_metadata ON entries (metadata_id) WHERE metadata_id IS NOT NULL;
CREATE INDEX entries_inode ON entries (device, inode);
-- Folder listings page through children by id (readdir cookies), without sorting a large folder per page.
CREATE INDEX entries_children ON entries (location_id, relative_path, id);
-- Flat views (tags/, favorites/, …) find entries by name and detect name collisions through this.
CREATE INDEX entries_name ON entries (name);

CREATE TABLE tags (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       BLOB    NOT NULL UNIQUE,
    name       TEXT    NOT NULL UNIQUE,
    color      TEXT,
    icon       TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE labels (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       BLOB    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    parent_id  INTEGER REFERENCES labels(id) ON DELETE CASCADE,
    color      TEXT,
    created_at INTEGER NOT NULL
);
-- Unique per parent; top-level labels (parent NULL) are unique among themselves too.
CREATE UNIQUE INDEX labels_parent_name ON labels (coalesce(parent_id, 0), name);
CREATE INDEX labels_parent ON labels (parent_id);

CREATE TABLE metadata_tag (
    metadata_id INTEGER NOT NULL REFERENCES user_metadata(id) ON DELETE CASCADE,
    tag_id      INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (metadata_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX metadata_tag_by_tag ON metadata_tag (tag_id, metadata_id);

CREATE TABLE metadata_label (
    metadata_id INTEGER NOT NULL REFERENCES user_metadata(id) ON DELETE CASCADE,
    label_id    INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (metadata_id, label_id)
) WITHOUT ROWID;
CREATE INDEX metadata_label_by_label ON metadata_label (label_id, metadata_id);

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    uuid        BLOB    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    location_id INTEGER REFERENCES locations(id) ON DELETE SET NULL,
    status      TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    items_done  INTEGER NOT NULL DEFAULT 0,
    items_total INTEGER,
    error       TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX jobs_started ON jobs (started_at);

-- Queries saved as folders of query/ (mkdir) or with 'spacefs query save'.
CREATE TABLE saved_queries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    expression TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- One library across devices (src/sync). The library's tie to a sync folder, the shared document as
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

-- Other devices' files and folders in every flat view that shows them (tags, labels, favorites); src/sync fills it at
-- each exchange from the shared document and the devices' snapshots.
CREATE TABLE foreign_members (
    -- The view (1 tags, 2 labels, 3 favorites) and its folder there (the tag's or label's id; 0 for favorites).
    view    INTEGER NOT NULL,
    folder  INTEGER NOT NULL,
    -- The other device's row in `devices`, and the entry's id in that device's snapshot.
    device  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    entry   INTEGER NOT NULL,
    name    BLOB    NOT NULL,
    -- Hidden in the shared document: listed only when the mount shows hidden entries.
    hidden  INTEGER NOT NULL DEFAULT 0,
    -- 1: a folder (shown as a link to it under devices/), 0: a file.
    is_dir  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (view, folder, device, entry)
) WITHOUT ROWID;
CREATE INDEX foreign_members_name ON foreign_members (view, folder, name);
-- A tag or label deleted here takes its other devices' files with it, as its own members go.
CREATE TRIGGER foreign_members_tag_deleted AFTER DELETE ON tags BEGIN
    DELETE FROM foreign_members WHERE view = 1 AND folder = old.id;
END;
CREATE TRIGGER foreign_members_label_deleted AFTER DELETE ON labels BEGIN
    DELETE FROM foreign_members WHERE view = 2 AND folder = old.id;
END;

-- Other devices' files put into or taken out of a tag, a label or favorites through this device's mount,
-- waiting for the next exchange to record them in the shared document (src/sync), in the order made.
CREATE TABLE foreign_edits (
    id      INTEGER PRIMARY KEY,
    -- The other device's entry, by its uuid (the shared document's key for it).
    entry   BLOB    NOT NULL,
    -- The folder as `foreign_members` names it: the view (1 tags, 2 labels, 3 favorites) and the tag's or
    -- label's id here (0 for favorites). A tag or label deleted before the exchange takes its edits with it.
    view    INTEGER NOT NULL,
    folder  INTEGER NOT NULL,
    -- 1: joined, 0: left.
    member  INTEGER NOT NULL
);
CREATE TRIGGER foreign_edits_tag_deleted AFTER DELETE ON tags BEGIN
    DELETE FROM foreign_edits WHERE view = 1 AND folder = old.id;
END;
CREATE TRIGGER foreign_edits_label_deleted AFTER DELETE ON labels BEGIN
    DELETE FROM foreign_edits WHERE view = 2 AND folder = old.id;
END;

-- Changes to `entries`, counted once per writer transaction that changed any of its rows: what tells a changed
-- library from the snapshot published of it (src/sync) without reading every entry.
CREATE TABLE entries_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
