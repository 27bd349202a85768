//! The library database: opening it, its migrations, its row types, and all of its SQL.
//!
//! Invariants:
//! * Exactly one writable connection per open `Library`, owned by the writer thread (`writer`); everything
//!   else reads through `Reader`s, each with its own read-only connection (WAL: readers never block the writer and
//!   never see SQLITE_BUSY from it).
//! * The schema is built by the append-only `MIGRATIONS`, tracked by `PRAGMA user_version`; `schema.sql` at the top
//!   of the repository is what they produce (a test checks it).
//! * Names and paths are stored as the exact bytes of the file system.

pub mod cas;
mod read;
pub mod resolve;
pub mod shared;
pub mod snapshot;
#[cfg(test)]
pub(crate) mod testing;
mod types;
mod views;
pub mod write;
pub mod writer;

pub use read::{DupeCopy, DupeGroup, Exportable, LibraryStatus, Reader, VerifyCandidate};
pub use types::*;
pub use views::{Child, DupeMember, DupeSet, EntryInfo, EntryMeta, Flat, FlatSql, ForeignMember, ForeignView};

use crate::error::{Error, Result, shown};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use writer::Writer;

/// Every schema change ever shipped, in order. Append only.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_saved_queries.sql"),
    include_str!("migrations/0003_empty_files_have_no_content.sql"),
    include_str!("migrations/0004_rating.sql"),
    include_str!("migrations/0005_sync.sql"),
    include_str!("migrations/0006_foreign_tagged.sql"),
    include_str!("migrations/0007_foreign_members.sql"),
    include_str!("migrations/0008_foreign_edits.sql"),
    include_str!("migrations/0009_entries_version.sql"),
];

/// `PRAGMA application_id` of a spacefs library ("SPFS"), so a foreign SQLite file is recognised as one.
const APPLICATION_ID: i32 = 0x5350_4653;

pub struct Library {
    path: PathBuf,
    writer: Writer,
    device_id: i64,
    /// Opened for a mount: small page caches.
    lean: bool,
    /// The library cannot be written (a read-only file, folder or file system): read through `immutable` (or
    /// read-only) connections, and every change refused.
    read_only: Option<ReadOnly>,
}

/// How a library that cannot be written is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadOnly {
    /// SQLite's `immutable`: no lock, no `-shm` (read-only media cannot hold one); the file is taken as unchanging.
    Immutable,
    /// An ordinary read-only connection (its write-ahead log holds changes not yet in the file, which immutable
    /// would not see).
    WithLog,
}

impl Library {
    /// Opens the library at `path`, creating it (mode 0600) when it does not exist. Its folder must exist.
    pub fn open(path: &Path) -> Result<Library> {
        Library::open_with(path, false)
    }

    /// Opens the library for a long-running mount: smaller SQLite page caches (the writer's 8 MiB, each reader's
    /// 2 MiB, against 64 and 8 for a command), because a daemon keeps a reader per busy thread for its whole life
    /// and the kernel's page cache holds the file anyway.
    pub fn open_for_mount(path: &Path) -> Result<Library> {
        Library::open_with(path, true)
    }

    fn open_with(path: &Path, lean: bool) -> Result<Library> {
        check_folder(path)?;
        if path.exists() && !writable(path) {
            return Library::open_read_only(path, lean);
        }
        create_private(path)?;
        let mut conn = connect(path, false)?;
        migrate(&mut conn, path)?;
        if lean {
            conn.execute_batch("PRAGMA cache_size = -8192;").map_err(|e| library_error(path, e))?;
        }
        let device_id = register_device(&conn).map_err(|e| library_error(path, e))?;
        Ok(Library { path: path.to_owned(), writer: Writer::start(conn), device_id, lean, read_only: None })
    }

    /// A library that cannot be written (an archive disk, a DVD, a read-only bind mount, a file without write
    /// permission): read commands and read-only mounts work; every change is refused in one line.
    fn open_read_only(path: &Path, lean: bool) -> Result<Library> {
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let mode =
            if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) { ReadOnly::WithLog } else { ReadOnly::Immutable };
        let conn = connect_read_only(path, mode)?;
        let known = MIGRATIONS.len() as i64;
        let version: i64 =
            conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| library_error(path, e))?;
        check_version(&conn, path, version, known)?;
        if version < known {
            return Err(Error::ReadOnly(format!(
                "library {} is read-only and was made by an older spacefs (open it once where it can be written, \
                 to bring it up to date)",
                shown(path)
            )));
        }
        let device_id = existing_device(&conn).map_err(|e| library_error(path, e))?.unwrap_or(0);
        let refusal = format!(
            "library {} is read-only: nothing can be changed in it (its file, folder or file system cannot be \
             written; read commands and 'spacefs mount --read-only' work)",
            shown(path)
        );
        Ok(Library { path: path.to_owned(), writer: Writer::refusing(refusal), device_id, lean, read_only: Some(mode) })
    }

    /// Whether changes to the library are refused (see `open_read_only`).
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This machine's row in `devices`.
    pub fn device_id(&self) -> i64 {
        self.device_id
    }

    /// A new read-only connection, for one thread.
    pub fn reader(&self) -> Result<Reader> {
        let conn = match self.read_only {
            Some(mode) => connect_read_only(&self.path, mode)?,
            None => connect(&self.path, true)?,
        };
        if self.lean {
            conn.execute_batch("PRAGMA cache_size = -2048;").map_err(|e| library_error(&self.path, e))?;
        }
        Ok(Reader::new(conn))
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }
}

pub use crate::clock::now_ns;

fn check_folder(path: &Path) -> Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(folder) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::Library(format!(
            "cannot use library {}: {} is not a folder (choose another path with --library)",
            shown(path),
            shown(folder)
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::Library(format!(
            "cannot create library {}: folder {} does not exist (create it first, or choose another path with --library)",
            shown(path),
            shown(folder)
        ))),
        Err(e) => Err(Error::io(folder, e)),
    }
}

/// Creates an empty library file readable by its owner only; an existing file is left alone.
fn create_private(path: &Path) -> Result<()> {
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EROFS) => {
            Err(Error::Library(format!(
                "cannot create library {}: its folder is not writable (choose a writable folder with --library)",
                shown(path)
            )))
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Whether this process may change the library: the file, its folder (which holds the write-ahead log) and the file
/// system all writable.
fn writable(path: &Path) -> bool {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let may_write = |p: &Path| {
        let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else { return false };
        // SAFETY: a valid NUL-terminated path; access and statvfs only read it.
        unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            libc::access(c.as_ptr(), libc::W_OK) == 0
                && libc::statvfs(c.as_ptr(), &mut st) == 0
                && st.f_flag & libc::ST_RDONLY == 0
        }
    };
    may_write(path) && may_write(folder)
}

/// A read-only connection to a library that cannot be written (see `ReadOnly`).
fn connect_read_only(path: &Path, mode: ReadOnly) -> Result<Connection> {
    // A URI, so SQLite's `immutable` can be asked for; the path percent-encoded byte by byte.
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str(if mode == ReadOnly::Immutable { "?immutable=1" } else { "?mode=ro" });
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(&uri, flags).map_err(|e| library_error(path, e))?;
    conn.execute_batch("PRAGMA cache_size = -8192; PRAGMA temp_store = MEMORY;").map_err(|e| library_error(path, e))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(|e| library_error(path, e))?;
    Ok(conn)
}

/// How many prepared statements a connection keeps.
const STATEMENT_CACHE: usize = 192;

/// Opens a connection with the library's pragmas. Read-only connections are for `Reader`s.
pub(crate) fn connect(path: &Path, read_only: bool) -> Result<Connection> {
    configure_sqlite();
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| library_error(path, e))?;
    if !read_only && conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Err(Error::Library(format!(
            "library {} is read-only (give its owner write permission, or choose another with --library)",
            shown(path)
        )));
    }
    let pragmas = if read_only {
        "PRAGMA busy_timeout = 10000; PRAGMA cache_size = -8192; PRAGMA temp_store = MEMORY; \
         PRAGMA foreign_keys = ON;"
    } else {
        // `page_size` applies to a library being created (before its first write) and is ignored by one that exists.
        // 8 KiB pages, against SQLite's 4 KiB: a scan's inserts land at random places of the name and content-id
        // indexes, and each commit writes every page it changed to the WAL; with pages twice as large the trees are
        // shallower and split half as often (measured, `add` of 100,000 small files: the commits wrote 227 MB
        // instead of 292, and the add took 5% less time).
        "PRAGMA busy_timeout = 10000; PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; \
         PRAGMA foreign_keys = ON;"
    };
    conn.execute_batch(pragmas).map_err(|e| library_error(path, e))?;
    // Room for every statement the code prepares with `prepare_cached` (about a hundred): with rusqlite's default
    // of 16, a mount's readers evicted and parsed statements again on every listing.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Plans that do not depend on the values bound: otherwise SQLite marks a statement whose parameter it compared
    // with a partial index's condition as "prepare again when rebound", and the statement cache clears the bindings
    // of every statement it takes back, so such statements (a flat view's lookup among them) were compiled again
    // on every use: two thirds of a lookup's time.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(|e| library_error(path, e))?;
    Ok(conn)
}

/// Whether a process other than this one has the library of `conn` open. SQLite keeps a shared lock on the
/// database file, and one on byte 128 of its `-shm` file, for as long as a connection has a library in WAL mode
/// open; the kernel lists every lock with its holder's pid in /proc/locks (this process's own are told apart by
/// its pid). When that cannot be read, the answer is yes, the cautious one.
pub(crate) fn open_elsewhere(conn: &Connection) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(path) = conn.path().filter(|p| !p.is_empty()) else { return true };
    let files: Vec<(u64, u64)> = [path.to_string(), format!("{path}-shm")]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|meta| (meta.dev(), meta.ino()))
        .collect();
    if files.is_empty() {
        return true;
    }
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else { return true };
    let me = std::process::id().to_string();
    locks.lines().any(|line| held_elsewhere(line, &files, &me))
}

/// Whether a line of /proc/locks (`1: POSIX  ADVISORY  READ 1234 fe:00:5678 128 128`, or with `->` for a lock
/// waited for) is a lock on one of `files` (device, inode) held by a process other than `me` (a pid).
fn held_elsewhere(line: &str, files: &[(u64, u64)], me: &str) -> bool {
    let fields: Vec<&str> = line.split_whitespace().collect();
    // The file is the field with two colons (major:minor:inode, the device numbers in hex); its holder before it.
    let Some(at) = fields.iter().position(|f| f.matches(':').count() == 2) else { return false };
    let mut parts = fields[at].split(':');
    let file = match (parts.next(), parts.next(), parts.next()) {
        (Some(major), Some(minor), Some(inode)) => {
            match (u32::from_str_radix(major, 16), u32::from_str_radix(minor, 16), inode.parse::<u64>()) {
                (Ok(major), Ok(minor), Ok(inode)) => (libc::makedev(major, minor), inode),
                _ => return false,
            }
        }
        _ => return false,
    };
    files.contains(&file) && at.checked_sub(1).and_then(|i| fields.get(i)) != Some(&me)
}

/// Process-wide SQLite settings, made once before the first connection opens. Memory statistics off (SQLite's own
/// advice for speed): with them on, every allocation and free of every connection takes one global mutex.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called before any connection is opened (SQLite is not initialized yet); a refusal (SQLITE_MISUSE,
        // when something initialized it first) leaves the default.
        unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
        }
    });
}

/// Turns an SQLite failure while opening into a message about the library file.
pub(crate) fn library_error(path: &Path, err: rusqlite::Error) -> Error {
    let code = err.sqlite_error_code();
    let p = shown(path);
    match code {
        Some(ErrorCode::NotADatabase) => Error::Library(format!(
            "{p} is not a spacefs library: it is not an SQLite database (move it away, or choose another with --library)"
        )),
        Some(ErrorCode::DatabaseCorrupt) => Error::Library(format!(
            "library {p} is corrupt (restore a copy made with 'spacefs backup', or move it away and re-add your folders)"
        )),
        Some(ErrorCode::CannotOpen) => {
            Error::Library(format!("cannot open library {p} (check that it exists and that you may read it)"))
        }
        Some(ErrorCode::ReadOnly) => Error::Library(format!(
            "library {p} is read-only (give its owner write permission, or choose another with --library)"
        )),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            Error::Library(format!("library {p} is locked by another program (wait for it to finish and try again)"))
        }
        _ => Error::Db(err),
    }
}

/// Brings the schema up to date in one transaction. Running it on an up-to-date library changes nothing.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    forget_statistics(conn).map_err(|e| library_error(path, e))?;
    let known = MIGRATIONS.len() as i64;
    let version: i64 =
        conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| library_error(path, e))?;
    check_version(conn, path, version, known)?;
    if version == known {
        return Ok(());
    }
    let tx =
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(|e| library_error(path, e))?;
    // Another process may have migrated while we waited for the lock.
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    check_version(&tx, path, version, known)?;
    for migration in &MIGRATIONS[version as usize..] {
        tx.execute_batch(migration)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}

/// Removes query planner statistics (`sqlite_stat1`, written by ANALYZE; earlier versions ran it). Statistics are a
/// picture of the library when they were gathered: taken of a new library with one row, they made SQLite scan the
/// entries table for a lookup by id once it held thousands (a hard link's unlink took seconds). Without them SQLite
/// plans from the indexes alone, the plans the tests check with `EXPLAIN QUERY PLAN`, and they hold at any size.
fn forget_statistics(conn: &Connection) -> rusqlite::Result<()> {
    let gathered: bool =
        conn.query_row("SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_stat1'", [], |r| r.get(0))?;
    if gathered {
        conn.execute_batch("DELETE FROM sqlite_stat1;")?;
    }
    Ok(())
}

fn check_version(conn: &Connection, path: &Path, version: i64, known: i64) -> Result<()> {
    if version > known {
        return Err(Error::Library(format!(
            "library {} was made by a newer spacefs (schema version {version}, this one knows up to {known}); \
             upgrade spacefs to use it",
            shown(path)
        )));
    }
    if version == 0 {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| library_error(path, e))?;
        let app: i32 =
            conn.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(|e| library_error(path, e))?;
        if tables > 0 && app != APPLICATION_ID {
            return Err(Error::Library(format!(
                "{} is an SQLite database of another program, not a spacefs library (choose another path with --library)",
                shown(path)
            )));
        }
    }
    Ok(())
}

/// This machine's row in `devices`, if it has one.
fn existing_device(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT id FROM devices WHERE uuid = ?1", [device_uuid().as_bytes()], |r| r.get(0))
        .map(Some)
        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
}

/// This machine's id: from /etc/machine-id (else the host name), stable across runs.
fn device_uuid() -> uuid::Uuid {
    let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let seed = if machine.trim().is_empty() { host.trim().to_owned() } else { machine.trim().to_owned() };
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("spacefs-device:{seed}").as_bytes())
}

/// Adds this machine to `devices` the first time it opens the library.
fn register_device(conn: &Connection) -> rusqlite::Result<i64> {
    if let Some(id) = existing_device(conn)? {
        return Ok(id);
    }
    let uuid = device_uuid();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let now = now_ns();
    let name = if host.trim().is_empty() { "this machine" } else { host.trim() };
    conn.execute(
        "INSERT INTO devices (uuid, name, os, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        rusqlite::params![uuid.as_bytes(), name, std::env::consts::OS, now],
    )?;
    Ok(conn.last_insert_rowid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_on_the_library_tells_its_holder() {
        let files = [(libc::makedev(0xfe, 0), 5678), (libc::makedev(0x103, 0x2a), 91)];
        let held = |line: &str| held_elsewhere(line, &files, "1234");
        assert!(held("1: POSIX  ADVISORY  READ 999 fe:00:5678 128 128"), "another process");
        assert!(!held("1: POSIX  ADVISORY  READ 1234 fe:00:5678 128 128"), "this process");
        assert!(held("2: -> POSIX  ADVISORY  WRITE 999 fe:00:5678 0 EOF"), "a lock waited for");
        assert!(held("3: POSIX  ADVISORY  READ 77 103:2a:91 1073741826 1073742335"), "wider device numbers");
        assert!(held("4: OFDLCK ADVISORY  READ -1 fe:00:5678 128 128"), "a lock without a process");
        assert!(!held("5: POSIX  ADVISORY  READ 999 fe:00:5679 128 128"), "another file");
        assert!(!held("6: POSIX  ADVISORY  READ 999 fe:01:5678 128 128"), "another device");
        assert!(!held("garbage"));
    }

    fn schema_of(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect()
    }

    #[test]
    fn migration_3_takes_content_ids_off_empty_files() {
        let library = testing::raw_library();
        let conn = &library.conn;
        conn.execute_batch(testing::ONE_LOCATION).unwrap();
        conn.execute_batch(
            "INSERT INTO content_identity (uuid, cas_id, size, first_seen_at) VALUES (x'01', '71e0a99173564931', 0, 0); \
             INSERT INTO content_identity (uuid, cas_id, size, first_seen_at) VALUES (x'02', 'c', 5, 0); \
             INSERT INTO entries (uuid, location_id, relative_path, name, kind, size, content_id, indexed_at) \
                 VALUES (x'0a', 1, x'', CAST('empty' AS BLOB), 0, 0, 1, 0); \
             INSERT INTO entries (uuid, location_id, relative_path, name, kind, size, content_id, indexed_at) \
                 VALUES (x'0b', 1, x'', CAST('full' AS BLOB), 0, 5, 2, 0); \
             INSERT INTO user_metadata (uuid, created_at, updated_at, orphan_content_id) VALUES (x'0c', 0, 0, 1);",
        )
        .unwrap();
        conn.execute_batch(MIGRATIONS[2]).unwrap();
        let content_of = |name: &str| -> Option<i64> {
            conn.query_row("SELECT content_id FROM entries WHERE name = CAST(?1 AS BLOB)", [name], |r| r.get(0))
                .unwrap()
        };
        assert_eq!((content_of("empty"), content_of("full")), (None, Some(2)));
        let left: Vec<i64> = conn
            .prepare("SELECT id FROM content_identity")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(left, [2]);
        let orphan: Option<i64> =
            conn.query_row("SELECT orphan_content_id FROM user_metadata", [], |r| r.get(0)).unwrap();
        assert_eq!(orphan, None);
    }

    #[test]
    fn migrations_build_schema_sql_and_rerunning_them_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.db");
        drop(Library::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let migrated = schema_of(&conn);
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        drop(conn);

        // The second open must not fail or change anything.
        drop(Library::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        assert_eq!(schema_of(&conn), migrated);
        let devices: i64 = conn.query_row("SELECT count(*) FROM devices", [], |r| r.get(0)).unwrap();
        assert_eq!(devices, 1, "this machine is registered once");

        let reference = Connection::open_in_memory().unwrap();
        reference.execute_batch(include_str!("../../schema.sql")).unwrap();
        assert_eq!(schema_of(&reference), migrated, "schema.sql must equal what the migrations build");
    }

    #[test]
    fn a_library_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.db");
        drop(Library::open(&path).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
