-- Migration 8: other devices' folders in the flat views too (foreign_members gets a kind; its rows are rebuilt at
-- the next exchange), and other devices' files put into or taken out of a tag, a label or favorites through this device's
-- mount, waiting for the next exchange to record them in the shared document (src/sync), in the order made.
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
DROP TRIGGER foreign_members_tag_deleted;
DROP TRIGGER foreign_members_label_deleted;
DROP TABLE foreign_members;
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
