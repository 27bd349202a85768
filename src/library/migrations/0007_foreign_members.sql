-- Migration 7: other devices' files in every flat view that shows them (tags, labels, favorites), not only tags.
-- src/sync fills it at each exchange from the shared document and the devices' snapshots.
DROP TABLE foreign_tagged;
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
