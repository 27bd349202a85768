-- Migration 9: a counter of changes to `entries`, bumped once by each writer transaction that changed a row of it
-- (src/library/writer.rs watches the rows it changes). It tells a changed library from the snapshot published of it
-- (`Reader::entries_stamp`) without reading every entry. A later migration that changes rows of `entries` bumps it.
CREATE TABLE entries_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO entries_version (id, version) VALUES (1, 0);
