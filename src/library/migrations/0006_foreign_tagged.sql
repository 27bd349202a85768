-- Migration 6: other devices' files carrying a tag, so tags/<tag>/ lists them with this device's (src/sync
-- fills it at each exchange from the shared document and the devices' snapshots).
CREATE TABLE foreign_tagged (
    tag_id  INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    -- The other device's row in `devices`, and the entry's id in that device's snapshot.
    device  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    entry   INTEGER NOT NULL,
    name    BLOB    NOT NULL,
    PRIMARY KEY (tag_id, device, entry)
) WITHOUT ROWID;
CREATE INDEX foreign_tagged_name ON foreign_tagged (tag_id, name);
