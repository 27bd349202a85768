//! Another device's library as it published it (`crate::sync`): its locations and entries, read-only.
//!
//! A snapshot comes from another machine and is untrusted. Only regular files and folders are shown (a symlink
//! could lead anywhere here); a name that is not one path component (empty, `.`, `..`, with `/` or NUL) is
//! skipped, and so is a path whose components are not all such names; a location path must be absolute; a row whose
//! columns are not of the types spacefs writes is skipped.

use crate::error::{Error, Result};
use crate::library::EntryKind;
use rusqlite::{Connection, OpenFlags, params};
use std::path::{Path, PathBuf};

/// A snapshot file, opened read-only.
pub struct Snapshot {
    conn: Connection,
}

/// A location of the other device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignLocation {
    pub id: i64,
    pub name: String,
    pub path: PathBuf,
}

/// An entry of the other device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignEntry {
    pub id: i64,
    pub location: i64,
    pub relative_path: Vec<u8>,
    pub name: Vec<u8>,
    pub kind: EntryKind,
    pub size: i64,
    pub mode: u32,
    pub modified_at: i64,
    pub changed_at: i64,
}

impl ForeignEntry {
    /// `relative_path/name`.
    pub fn path(&self) -> Vec<u8> {
        if self.relative_path.is_empty() {
            self.name.clone()
        } else {
            [&self.relative_path[..], b"/", &self.name[..]].concat()
        }
    }
}

/// Whether `name` is one path component.
pub fn is_component(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

/// Whether `path` is empty (a location's top) or components joined by '/'.
pub fn is_relative_path(path: &[u8]) -> bool {
    path.is_empty() || path.split(|&b| b == b'/').all(is_component)
}

const ENTRY_COLUMNS: &str = "id, location_id, relative_path, name, kind, size, mode, modified_at, changed_at";

fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ForeignEntry> {
    Ok(ForeignEntry {
        id: r.get(0)?,
        location: r.get(1)?,
        relative_path: r.get(2)?,
        name: r.get(3)?,
        kind: EntryKind::from_i64(r.get(4)?),
        size: r.get(5)?,
        mode: r.get::<_, i64>(6)? as u32,
        modified_at: r.get(7)?,
        changed_at: r.get(8)?,
    })
}

fn shown(e: &ForeignEntry) -> bool {
    matches!(e.kind, EntryKind::File | EntryKind::Dir) && is_component(&e.name) && is_relative_path(&e.relative_path)
}

/// `file:PATH?immutable=1`, the path percent-encoded as SQLite's URI filenames read it (all but unreserved bytes
/// and `/`).
fn immutable_uri(path: &Path) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
    use std::os::unix::ffi::OsStrExt;
    const KEPT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    format!("file:{}?immutable=1", percent_encode(path.as_os_str().as_bytes(), KEPT))
}

impl Snapshot {
    pub fn open(path: &Path) -> Result<Snapshot> {
        // Immutable: a snapshot is replaced, never written in place, and so read with no locks and nothing made
        // beside it (a WAL-mode file's reader makes -shm and -wal files: in another device's folder of the sync
        // folder, which a file sync would carry around).
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(immutable_uri(path), flags)
            .map_err(|e| Error::Library(format!("snapshot {} cannot be read: {e}", path.display())))?;
        conn.execute_batch("PRAGMA query_only = ON;")?;
        Ok(Snapshot { conn })
    }

    pub fn locations(&self) -> Result<Vec<ForeignLocation>> {
        use std::os::unix::ffi::OsStringExt;
        let mut stmt = self.conn.prepare_cached("SELECT id, name, path FROM locations ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(ForeignLocation { id: r.get(0)?, name: r.get(1)?, path: std::ffi::OsString::from_vec(r.get(2)?).into() })
        })?;
        // A row of the wrong types is skipped like any other odd one.
        let all: Vec<ForeignLocation> = rows.filter_map(|r| r.ok()).collect();
        Ok(all.into_iter().filter(|l| is_component(l.name.as_bytes()) && l.path.is_absolute()).collect())
    }

    pub fn location(&self, id: i64) -> Result<Option<ForeignLocation>> {
        use std::os::unix::ffi::OsStringExt;
        let mut stmt = self.conn.prepare_cached("SELECT id, name, path FROM locations WHERE id = ?1")?;
        let found = stmt
            .query_row([id], |r| {
                Ok(ForeignLocation {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    path: std::ffi::OsString::from_vec(r.get(2)?).into(),
                })
            })
            .ok();
        Ok(found.filter(|l| is_component(l.name.as_bytes()) && l.path.is_absolute()))
    }

    /// The entry with this uuid, if the snapshot shows it.
    pub fn entry_by_uuid(&self, uuid: &uuid::Uuid) -> Result<Option<ForeignEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE uuid = ?1");
        let found = self.conn.prepare_cached(&sql)?.query_row([uuid.as_bytes()], entry_row).ok();
        Ok(found.filter(shown))
    }

    /// The uuid of entry `id` (the shared document's key for it).
    pub fn uuid_of(&self, id: i64) -> Result<Option<uuid::Uuid>> {
        let found: Option<Vec<u8>> =
            self.conn.prepare_cached("SELECT uuid FROM entries WHERE id = ?1")?.query_row([id], |r| r.get(0)).ok();
        Ok(found.and_then(|b| uuid::Uuid::from_slice(&b).ok()))
    }

    pub fn entry(&self, id: i64) -> Result<Option<ForeignEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?1");
        let found = self.conn.prepare_cached(&sql)?.query_row([id], entry_row).ok();
        Ok(found.filter(shown))
    }

    /// The entries of a folder (`relative_path` = the folder's own path), ordered by id, after `after`.
    pub fn children(&self, location: i64, relative_path: &[u8], after: i64, limit: usize) -> Result<Vec<ForeignEntry>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM entries WHERE location_id = ?1 AND relative_path = ?2 AND id > ?3 \
             ORDER BY id LIMIT ?4"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![location, relative_path, after, limit as i64], entry_row)?;
        Ok(rows.filter_map(|r| r.ok()).filter(shown).collect())
    }

    pub fn child(&self, location: i64, relative_path: &[u8], name: &[u8]) -> Result<Option<ForeignEntry>> {
        let sql =
            format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE location_id = ?1 AND relative_path = ?2 AND name = ?3");
        let found = self.conn.prepare_cached(&sql)?.query_row(params![location, relative_path, name], entry_row);
        Ok(found.ok().filter(shown))
    }
}
