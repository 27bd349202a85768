-- Migration 2: queries saved as folders of query/ (mkdir) or with 'spacefs query save'.
CREATE TABLE saved_queries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    expression TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
