//! Row types and id newtypes of the library, with their conversions from SQLite rows.

use rusqlite::Row;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);
    )*};
}
id_type!(EntryId, LocationId, TagId, LabelId, ContentId, MetadataId, JobId);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File = 0,
    Dir = 1,
    Symlink = 2,
    Other = 3,
}

impl EntryKind {
    /// The kind of a file as `lstat` reports it.
    pub fn from_file_type(ft: std::fs::FileType) -> EntryKind {
        if ft.is_file() {
            EntryKind::File
        } else if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            EntryKind::Symlink
        } else {
            EntryKind::Other
        }
    }

    pub fn from_i64(v: i64) -> EntryKind {
        match v {
            0 => EntryKind::File,
            1 => EntryKind::Dir,
            2 => EntryKind::Symlink,
            _ => EntryKind::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexMode {
    /// Names, sizes and times only; no hashing.
    Metadata,
    /// Plus the sampled `cas_id` of every file (full hashes only where two files share one).
    Content,
    /// Plus the full BLAKE3 of every file.
    Deep,
}

impl IndexMode {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexMode::Metadata => "metadata",
            IndexMode::Content => "content",
            IndexMode::Deep => "deep",
        }
    }

    pub fn parse(s: &str) -> Option<IndexMode> {
        match s {
            "metadata" => Some(IndexMode::Metadata),
            "content" => Some(IndexMode::Content),
            "deep" => Some(IndexMode::Deep),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Location {
    pub id: LocationId,
    pub name: String,
    pub path: PathBuf,
    pub index_mode: IndexMode,
    pub scan_state: String,
    pub file_count: i64,
    pub dir_count: i64,
    pub total_bytes: i64,
    /// "YYYY-MM-DD HH:MM:SS" in UTC, when it was last scanned to the end.
    pub last_scan: Option<String>,
}

impl TryFrom<&Row<'_>> for Location {
    type Error = rusqlite::Error;
    /// Columns: id, name, path, index_mode, scan_state, file_count, dir_count, total_bytes, last_scan.
    fn try_from(r: &Row<'_>) -> rusqlite::Result<Location> {
        let path: Vec<u8> = r.get(2)?;
        let mode: String = r.get(3)?;
        Ok(Location {
            id: LocationId(r.get(0)?),
            name: r.get(1)?,
            path: PathBuf::from(OsStr::from_bytes(&path)),
            index_mode: IndexMode::parse(&mode).unwrap_or(IndexMode::Content),
            scan_state: r.get(4)?,
            file_count: r.get(5)?,
            dir_count: r.get(6)?,
            total_bytes: r.get(7)?,
            last_scan: r.get(8)?,
        })
    }
}

pub(crate) const LOCATION_COLUMNS: &str = "id, name, path, index_mode, scan_state, file_count, dir_count, total_bytes, \
     strftime('%Y-%m-%d %H:%M:%S', last_scan_at / 1000000000, 'unixepoch')";

/// What the indexer compares with the disk to decide whether an entry changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryStamp {
    pub id: EntryId,
    pub name: Vec<u8>,
    pub kind: EntryKind,
    pub size: i64,
    pub modified_at: i64,
    pub changed_at: i64,
    pub inode: i64,
    pub has_content: bool,
}

impl TryFrom<&Row<'_>> for EntryStamp {
    type Error = rusqlite::Error;
    /// Columns: id, name, kind, size, modified_at, changed_at, inode, content_id IS NOT NULL.
    fn try_from(r: &Row<'_>) -> rusqlite::Result<EntryStamp> {
        Ok(EntryStamp {
            id: EntryId(r.get(0)?),
            name: r.get(1)?,
            kind: EntryKind::from_i64(r.get(2)?),
            size: r.get(3)?,
            modified_at: r.get(4)?,
            changed_at: r.get(5)?,
            inode: r.get(6)?,
            has_content: r.get(7)?,
        })
    }
}

/// Joins a location root, a parent's relative path and a name into a real path.
pub fn real_path(root: &std::path::Path, relative_path: &[u8], name: &[u8]) -> PathBuf {
    let mut path = root.to_path_buf();
    if !relative_path.is_empty() {
        path.push(OsStr::from_bytes(relative_path));
    }
    path.push(OsStr::from_bytes(name));
    path
}

/// The relative path of an entry itself: its parent's path joined with its name.
pub fn child_path(relative_path: &[u8], name: &[u8]) -> Vec<u8> {
    if relative_path.is_empty() {
        name.to_vec()
    } else {
        let mut path = Vec::with_capacity(relative_path.len() + 1 + name.len());
        path.extend_from_slice(relative_path);
        path.push(b'/');
        path.extend_from_slice(name);
        path
    }
}

/// The half-open range of `relative_path` values of every entry strictly below the folder at `dir_path`, other
/// than its direct children (whose `relative_path` equals `dir_path`): `dir_path/` ≤ p < `dir_path0`.
pub fn descendant_range(dir_path: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut low = dir_path.to_vec();
    low.push(b'/');
    let mut high = dir_path.to_vec();
    high.push(b'/' + 1);
    (low, high)
}
