-- Migration 8: other devices' files put into or taken out of a tag, a label or favorites through this device's
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
