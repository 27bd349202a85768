//! Helpers for the library's own tests: a new library file opened raw, a location row to hang entries on, and
//! query plans to check.

use rusqlite::Connection;
use std::path::PathBuf;

/// A migrated library in a temporary folder, and a plain connection to it (no spacefs pragmas).
pub struct RawLibrary {
    pub path: PathBuf,
    pub conn: Connection,
    _dir: tempfile::TempDir,
}

pub fn raw_library() -> RawLibrary {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("library.db");
    drop(crate::library::Library::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    RawLibrary { path, conn, _dir: dir }
}

/// SQL that adds device 1 and location 1 (path `/`), for entries inserted by hand.
pub const ONE_LOCATION: &str = "INSERT OR IGNORE INTO devices VALUES (1, x'01', 'd', 'linux', 0, 0); \
     INSERT INTO locations (uuid, device_id, name, path, created_at) VALUES (x'01', 1, 'l', x'2f', 0);";

/// The plan of `sql` (parameters unbound), one detail per line.
pub fn plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let unbound = vec![rusqlite::types::Null; stmt.parameter_count()];
    let rows = stmt.query_map(rusqlite::params_from_iter(unbound), |r| r.get::<_, String>(3));
    rows.unwrap().map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
}
