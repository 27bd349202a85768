//! Every mutation of the library, as functions over the writer's connection inside its open transaction.
//!
//! Only `crate::library::writer` calls these. Each function is one command's effect; the writer wraps each in a savepoint,
//! so a failing command leaves no partial change while the others in its batch commit.
//!
//! Metadata is never silently destroyed: when an entry vanishes from disk its `user_metadata` row is kept as an
//! orphan (with the old path, inode and content) if it carries anything, so a later rescan can re-link it.

use super::now_ns;
use super::types::*;
use crate::error::{Error, Result, shown};
use crate::names::{LabelPath, TagName};
use rusqlite::{Connection, OptionalExtension, params};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

pub struct NewLocation {
    pub name: String,
    pub path: PathBuf,
    pub index_mode: IndexMode,
    pub device_id: i64,
}

/// One file or folder as the indexer found it on disk.
#[derive(Debug, Clone)]
pub struct ScannedEntry {
    /// The entry id this file must have, given beforehand (a file created through the mount: the kernel knows it by
    /// that number before the writer records it; see `reserve_entry_ids`). `None`: the path's entry, or a new one.
    pub id: Option<EntryId>,
    pub relative_path: Vec<u8>,
    pub name: Vec<u8>,
    pub kind: EntryKind,
    pub size: i64,
    pub mode: u32,
    pub created_at: Option<i64>,
    pub modified_at: i64,
    pub changed_at: i64,
    pub accessed_at: Option<i64>,
    pub inode: i64,
    pub device: i64,
    pub symlink_target: Option<Vec<u8>>,
    pub content: ContentUpdate,
    /// Tags found in the file's `user.xdg.tags`: added to the entry's tags (never removing any).
    pub xdg_tags: Vec<TagName>,
    /// The file's `user.xdg.comment`: becomes the notes when the entry has none.
    pub xdg_comment: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ContentUpdate {
    /// The content did not change: keep the entry's content identity.
    Keep,
    /// No content identity (folders, metadata mode, unreadable files).
    Clear,
    Set(ContentHash),
}

#[derive(Debug, Clone)]
pub struct ContentHash {
    pub cas_id: String,
    /// The verified full hash: the content identity is the one of (cas_id, full_hash).
    pub full_hash: Option<String>,
    pub kind: &'static str,
    pub size: i64,
}

#[derive(Debug, Clone)]
pub enum ScanItem {
    Upsert(Box<ScannedEntry>),
    /// The entry is gone from disk; if it was a folder (`dir_path` is its own relative path), so is all below it.
    Remove {
        id: EntryId,
        dir_path: Option<Vec<u8>>,
    },
    /// A folder became something else: everything below it is gone.
    RemoveBelow {
        dir_path: Vec<u8>,
    },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanApplied {
    pub upserted: u64,
    pub removed: u64,
    /// Items the disk had already overtaken when they were applied (see `is_stale`).
    pub stale: u64,
    pub orphaned: u64,
    pub tags_imported: u64,
    /// Items written over whatever the library held at their path (not inserted as new files): a content they
    /// replaced may be left unused.
    pub rewritten: u64,
    /// The entry the last upsert of the batch wrote (what a one-item batch of something just created made).
    pub last_upserted: Option<EntryId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationTotals {
    pub files: i64,
    pub dirs: i64,
    pub bytes: i64,
    /// Orphaned metadata given back to files that came back during this scan.
    pub relinked: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedLocation {
    pub entries: i64,
    pub with_metadata: i64,
}

pub fn add_location(conn: &Connection, new: &NewLocation) -> Result<LocationId> {
    let path_bytes = new.path.as_os_str().as_bytes();
    let mut stmt = conn.prepare_cached("SELECT name, path FROM locations")?;
    let existing: Vec<(String, Vec<u8>)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    for (name, path) in existing {
        let other = PathBuf::from(std::ffi::OsStr::from_bytes(&path));
        if path == path_bytes {
            return Err(Error::AlreadyExists(format!(
                "{} is already the location '{name}' (rescan it with 'spacefs rescan {name}')",
                shown(&new.path)
            )));
        }
        if name == new.name {
            return Err(Error::AlreadyExists(format!(
                "a location named '{name}' already exists (choose another name with --name)"
            )));
        }
        if new.path.starts_with(&other) {
            return Err(Error::Invalid(format!(
                "{} is inside the location '{name}' ({}), which indexes it already",
                shown(&new.path),
                shown(&other)
            )));
        }
        if other.starts_with(&new.path) {
            return Err(Error::Invalid(format!(
                "{} contains the location '{name}' ({}); remove that one first with 'spacefs remove {name}'",
                shown(&new.path),
                shown(&other)
            )));
        }
    }
    conn.prepare_cached(
        "INSERT INTO locations (uuid, device_id, name, path, index_mode, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        uuid::Uuid::now_v7().as_bytes(),
        new.device_id,
        new.name,
        path_bytes,
        new.index_mode.as_str(),
        now_ns()
    ])?;
    Ok(LocationId(conn.last_insert_rowid()))
}

/// Forgets a location, its entries and their metadata. Real files are not touched.
pub fn remove_location(conn: &Connection, location: LocationId) -> Result<RemovedLocation> {
    let (entries, with_metadata): (i64, i64) = conn
        .prepare_cached("SELECT count(*), count(metadata_id) FROM entries WHERE location_id = ?1")?
        .query_row([location.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    conn.prepare_cached(
        "DELETE FROM user_metadata WHERE id IN (SELECT metadata_id FROM entries WHERE location_id = ?1)",
    )?
    .execute([location.0])?;
    // Entries and orphans go with the location through ON DELETE CASCADE.
    conn.prepare_cached("DELETE FROM locations WHERE id = ?1")?.execute([location.0])?;
    collect_garbage(conn)?;
    Ok(RemovedLocation { entries, with_metadata })
}

pub fn start_scan(conn: &Connection, location: LocationId) -> Result<JobId> {
    conn.prepare_cached("UPDATE locations SET scan_state = 'scanning' WHERE id = ?1")?.execute([location.0])?;
    conn.prepare_cached(
        "INSERT INTO jobs (uuid, name, location_id, status, started_at) VALUES (?1, 'index', ?2, 'running', ?3)",
    )?
    .execute(params![uuid::Uuid::now_v7().as_bytes(), location.0, now_ns()])?;
    Ok(JobId(conn.last_insert_rowid()))
}

/// Records the end of a scan: the job's outcome, the location's totals, and drops content no entry uses any more
/// when the scan may have `left_unused` some (a first scan that only inserted new files did not: reading every
/// content row to find none was 2% of adding 100,000 small files).
pub fn finish_scan(
    conn: &Connection,
    location: LocationId,
    job: JobId,
    items: i64,
    error: Option<&str>,
    left_unused: bool,
) -> Result<LocationTotals> {
    let now = now_ns();
    conn.prepare_cached("UPDATE jobs SET status = ?2, items_done = ?3, error = ?4, finished_at = ?5 WHERE id = ?1")?
        .execute(params![job.0, if error.is_some() { "failed" } else { "done" }, items, error, now])?;
    let relinked = if error.is_none() { relink_orphans(conn, location)? } else { 0 };
    if left_unused || error.is_some() {
        collect_garbage(conn)?;
    }
    let mut totals = conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE kind = 0), count(*) FILTER (WHERE kind = 1), \
             coalesce(sum(size) FILTER (WHERE kind = 0), 0) FROM entries WHERE location_id = ?1",
        )?
        .query_row([location.0], |r| {
            Ok(LocationTotals { files: r.get(0)?, dirs: r.get(1)?, bytes: r.get(2)?, relinked: 0 })
        })?;
    totals.relinked = relinked;
    let state = if error.is_some() { "failed" } else { "done" };
    conn.prepare_cached(
        "UPDATE locations SET scan_state = ?2, file_count = ?3, dir_count = ?4, total_bytes = ?5, \
         last_scan_at = CASE WHEN ?2 = 'done' THEN ?6 ELSE last_scan_at END WHERE id = ?1",
    )?
    .execute(params![location.0, state, totals.files, totals.dirs, totals.bytes, now])?;
    Ok(totals)
}

/// Applies scan items. In the `first` scan of a location that had no entries, a new file is inserted as read once
/// the disk confirms it (`is_stale`: a mount may already write in the new location): no file can have moved in from
/// another recorded path, so the search for one (`follow_move`) and the upsert's conflict handling would cost half
/// the insert and find nothing; a path taken all the same (a mount, or a second scan, recorded it first) falls back
/// to them. Such files are inserted `BULK` at a time (`insert_bulk`), in the order of the items.
///
/// `walked_at`: the count of `disk_changes` read before the walk read the first of these items, when the walk tells
/// it. A first scan's new files are then taken as read, without looking at the disk again, when nothing that could
/// have overtaken them can have happened since: this process neither changed nor was told of a change to a path of
/// any location (the count is the same), and no other process has the library open (`open_elsewhere`: a daemon
/// mounted on it, whose own changes this process is not told of). Looking again (a listing of each folder, and a
/// lookup per file) was an eighth of the writer's time in a first scan of small files, which waits for the writer.
pub fn apply_scan(
    conn: &Connection,
    location: LocationId,
    items: &[ScanItem],
    first: bool,
    walked_at: Option<u64>,
) -> Result<ScanApplied> {
    let now = now_ns();
    let mut applied = ScanApplied::default();
    let Some(root) = location_root(conn, location)? else { return Ok(applied) };
    let as_walked = first && walked_at == Some(disk_changes()) && !super::open_elsewhere(conn);
    let mut disk = Probe::new(&root);
    if !as_walked {
        disk.list_folders(items);
    }
    // New files waiting to be inserted together; written before any other item, so items apply in order.
    let mut bulk: Vec<&ScannedEntry> = Vec::with_capacity(BULK);
    for item in items {
        let new_file = as_walked && matches!(item, ScanItem::Upsert(entry) if entry.id.is_none());
        if !new_file && is_stale(conn, &mut disk, item)? {
            applied.stale += 1;
            continue;
        }
        if first
            && let ScanItem::Upsert(entry) = item
            && entry.id.is_none()
        {
            if entry.xdg_tags.is_empty() && entry.xdg_comment.is_none() {
                bulk.push(entry);
                if bulk.len() == BULK {
                    insert_bulk(conn, &root, location, &bulk, now, &mut applied)?;
                    bulk.clear();
                }
                continue;
            }
            insert_each(conn, &root, location, &bulk, now, &mut applied)?;
            bulk.clear();
            if let Some(id) = insert_new(conn, location, entry, now)? {
                applied.upserted += 1;
                applied.last_upserted = Some(id);
                applied.tags_imported += import_xdg(conn, id, None, entry, now)?;
                continue;
            }
        }
        insert_each(conn, &root, location, &bulk, now, &mut applied)?;
        bulk.clear();
        if let ScanItem::Upsert(entry) = item {
            match entry.id {
                // Whoever gave the id knows the file: it is this entry, wherever it was.
                Some(id) => give_id(conn, location, entry, id)?,
                None => follow_move(conn, &root, location, entry)?,
            }
        }
        apply_item(conn, location, item, now, &mut applied)?;
    }
    insert_each(conn, &root, location, &bulk, now, &mut applied)?;
    Ok(applied)
}

/// Files of a first scan inserted by one statement (with their contents by another). Per row, a statement's own
/// cost (opening a cursor on the table and each index, the AUTOINCREMENT counter, binding, finishing) was as much as
/// the row's; 64 rows take 15 × 64 parameters, far below SQLite's limit.
const BULK: usize = 64;

/// New files of a first scan, one at a time (fewer than `BULK` left).
fn insert_each(
    conn: &Connection,
    root: &std::path::Path,
    location: LocationId,
    entries: &[&ScannedEntry],
    now: i64,
    applied: &mut ScanApplied,
) -> Result<()> {
    for entry in entries {
        if let Some(id) = insert_new(conn, location, entry, now)? {
            applied.upserted += 1;
            applied.last_upserted = Some(id);
        } else {
            follow_move(conn, root, location, entry)?;
            apply_item(conn, location, &ScanItem::Upsert(Box::new((*entry).clone())), now, applied)?;
        }
    }
    Ok(())
}

/// Inserts `BULK` new files of a first scan (no tags to import, no id given): their new contents in one statement,
/// then the entries in another, with the content ids the first returned (a hash known before is looked up). A file whose path an
/// entry holds already (see `apply_scan`) is left by the insert and goes the general way.
fn insert_bulk(
    conn: &Connection,
    root: &std::path::Path,
    location: LocationId,
    entries: &[&ScannedEntry],
    now: i64,
    applied: &mut ScanApplied,
) -> Result<()> {
    debug_assert_eq!(entries.len(), BULK);
    thread_local! {
        static SQL: (String, String) = {
            let rows = |per_row: usize, first: usize, row: &dyn Fn(&[String]) -> String| {
                (0..BULK)
                    .map(|r| row(&(0..per_row).map(|i| format!("?{}", first + r * per_row + i)).collect::<Vec<_>>()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let contents = format!(
                "INSERT OR IGNORE INTO content_identity (uuid, cas_id, full_hash, kind, size, first_seen_at) VALUES {} \
                 RETURNING id, cas_id, full_hash",
                rows(5, 2, &|p| format!("({}, {}, {}, {}, {}, ?1)", p[0], p[1], p[2], p[3], p[4]))
            );
            let entries = format!(
                "INSERT OR IGNORE INTO entries (uuid, location_id, relative_path, name, kind, extension, size, mode, \
                 created_at, modified_at, changed_at, accessed_at, inode, device, symlink_target, content_id, \
                 indexed_at) VALUES {}",
                rows(15, 3, &|p| format!("({}, ?1, {}, ?2)", p[0], p[1..].join(", ")))
            );
            (contents, entries)
        };
    }
    let (contents_sql, entries_sql) = SQL.with(|sql| sql.clone());
    let hashes: Vec<&ContentHash> = entries
        .iter()
        .filter_map(|e| match &e.content {
            ContentUpdate::Set(hash) => Some(hash),
            ContentUpdate::Keep | ContentUpdate::Clear => None,
        })
        .collect();
    // The content id of each hash: those inserted now, as the insert returns them; the others looked up.
    let mut ids: std::collections::HashMap<(String, Option<String>), i64> = std::collections::HashMap::new();
    if let Some(last) = hashes.last() {
        let mut stmt = conn.prepare_cached(&contents_sql)?;
        stmt.raw_bind_parameter(1, now)?;
        // Fewer contents than rows: the last is repeated, and the copies are ignored as the same hash.
        for r in 0..BULK {
            let hash = hashes.get(r).unwrap_or(last);
            let at = 2 + r * 5;
            stmt.raw_bind_parameter(at, uuid::Uuid::now_v7().as_bytes())?;
            stmt.raw_bind_parameter(at + 1, &hash.cas_id)?;
            stmt.raw_bind_parameter(at + 2, &hash.full_hash)?;
            stmt.raw_bind_parameter(at + 3, hash.kind)?;
            stmt.raw_bind_parameter(at + 4, hash.size)?;
        }
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            ids.insert((row.get(1)?, row.get(2)?), row.get(0)?);
        }
    }
    let mut stmt = conn.prepare_cached(&entries_sql)?;
    stmt.raw_bind_parameter(1, location.0)?;
    stmt.raw_bind_parameter(2, now)?;
    // Each row's uuid tells the rows this insert made from those it left (a path already taken): no RETURNING,
    // which buffers every row it returns, for what is rare.
    let mut uuids = Vec::with_capacity(BULK);
    for (r, e) in entries.iter().enumerate() {
        let at = 3 + r * 15;
        let content_id = match &e.content {
            ContentUpdate::Set(hash) => Some(match ids.entry((hash.cas_id.clone(), hash.full_hash.clone())) {
                std::collections::hash_map::Entry::Occupied(id) => *id.get(),
                // Known before this batch (identical files): looked up once per batch, not once per file.
                std::collections::hash_map::Entry::Vacant(slot) => *slot.insert(content_for(conn, hash, now)?.0),
            }),
            ContentUpdate::Keep | ContentUpdate::Clear => None,
        };
        uuids.push(uuid::Uuid::now_v7());
        stmt.raw_bind_parameter(at, uuids[r].as_bytes())?;
        stmt.raw_bind_parameter(at + 1, &e.relative_path)?;
        stmt.raw_bind_parameter(at + 2, &e.name)?;
        stmt.raw_bind_parameter(at + 3, e.kind as i64)?;
        stmt.raw_bind_parameter(at + 4, extension_of(&e.name))?;
        stmt.raw_bind_parameter(at + 5, e.size)?;
        stmt.raw_bind_parameter(at + 6, e.mode)?;
        stmt.raw_bind_parameter(at + 7, e.created_at)?;
        stmt.raw_bind_parameter(at + 8, e.modified_at)?;
        stmt.raw_bind_parameter(at + 9, e.changed_at)?;
        stmt.raw_bind_parameter(at + 10, e.accessed_at)?;
        stmt.raw_bind_parameter(at + 11, e.inode)?;
        stmt.raw_bind_parameter(at + 12, e.device)?;
        stmt.raw_bind_parameter(at + 13, &e.symlink_target)?;
        stmt.raw_bind_parameter(at + 14, content_id)?;
    }
    let inserted = stmt.raw_execute()?;
    applied.upserted += inserted as u64;
    if inserted == entries.len() {
        applied.last_upserted = Some(EntryId(conn.last_insert_rowid()));
        return Ok(());
    }
    let mut left = Vec::new();
    let mut at_path = conn
        .prepare_cached("SELECT id, uuid FROM entries WHERE location_id = ?1 AND relative_path = ?2 AND name = ?3")?;
    for (e, uuid) in entries.iter().zip(&uuids) {
        let row: Option<(i64, Vec<u8>)> = at_path
            .query_row(params![location.0, e.relative_path, e.name], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            Some((id, made)) if made == uuid.as_bytes() => applied.last_upserted = Some(EntryId(id)),
            _ => left.push(*e),
        }
    }
    insert_each(conn, root, location, &left, now, applied)
}

/// How many times this process changed what is at a path of a location (through the mount), or was told that
/// something else did (by its watcher, or by a command that records a change), since it started. A first scan
/// reads it before it reads the disk, and the writer again when it applies what was read (`apply_scan`).
static DISK_CHANGES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts a change to what is at a path of a location: called once the change is made on disk (or known), before
/// the library is asked what was there.
pub fn disk_changed() {
    DISK_CHANGES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// See `DISK_CHANGES`.
pub fn disk_changes() -> u64 {
    DISK_CHANGES.load(std::sync::atomic::Ordering::SeqCst)
}

/// Applies one scan item as it is (`apply_scan` has checked it against the disk).
fn apply_item(
    conn: &Connection,
    location: LocationId,
    item: &ScanItem,
    now: i64,
    applied: &mut ScanApplied,
) -> Result<()> {
    {
        match item {
            ScanItem::Upsert(entry) => {
                let (id, metadata) = upsert_entry(conn, location, entry, now)?;
                applied.upserted += 1;
                applied.rewritten += 1;
                applied.last_upserted = Some(id);
                if !entry.xdg_tags.is_empty() || entry.xdg_comment.is_some() {
                    applied.tags_imported += import_xdg(conn, id, metadata, entry, now)?;
                }
            }
            ScanItem::Remove { id, dir_path } => {
                if let Some(dir) = dir_path {
                    let (o, r) = remove_below(conn, location, dir, now)?;
                    applied.orphaned += o;
                    applied.removed += r;
                }
                applied.orphaned += orphan_metadata_of(conn, "WHERE e.id = ?1", params![id.0], now)?;
                applied.removed += conn.prepare_cached("DELETE FROM entries WHERE id = ?1")?.execute([id.0])? as u64;
            }
            ScanItem::RemoveBelow { dir_path } => {
                let (o, r) = remove_below(conn, location, dir_path, now)?;
                applied.orphaned += o;
                applied.removed += r;
            }
        }
    }
    Ok(())
}

/// Before a file is recorded at a path the library has no entry for: if an entry of this location is the same file
/// (same inode and device) and its own path no longer holds it on disk, the file was moved and the news of the move
/// has not arrived yet (a watcher's late view of renames made through the mount): the entry moves here, keeping its
/// identity and tags, instead of a second entry being made for one file (which left the other as a ghost, and made
/// the next rename onto it fail).
fn follow_move(conn: &Connection, root: &std::path::Path, location: LocationId, e: &ScannedEntry) -> Result<()> {
    if e.inode == 0 {
        return Ok(());
    }
    let here: Option<i64> = conn
        .prepare_cached("SELECT id FROM entries WHERE location_id = ?1 AND relative_path = ?2 AND name = ?3")?
        .query_row(params![location.0, e.relative_path, e.name], |r| r.get(0))
        .optional()?;
    if here.is_some() {
        return Ok(());
    }
    let same: Vec<(i64, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT id, relative_path, name FROM entries WHERE device = ?1 AND inode = ?2 AND location_id = ?3 \
             AND kind = ?4",
        )?
        .query_map(params![e.device, e.inode, location.0, e.kind as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, rel, name) in same {
        if on_disk(root, &rel, &name) != Some((e.kind, e.inode)) {
            return move_entry(conn, EntryId(id), &e.relative_path, &e.name);
        }
    }
    Ok(())
}

/// Before a file is recorded under an id given beforehand: entry `id` takes the file's path. If `id` is recorded
/// elsewhere (the file moved since), it moves here, replacing what the path held; if not, an entry already at the
/// path (the watcher's view of the same new file, or the CLI's) takes the number `id`, keeping its metadata. The
/// upsert that follows then finds `id` at the path.
fn give_id(conn: &Connection, location: LocationId, e: &ScannedEntry, id: EntryId) -> Result<()> {
    let here: Option<i64> = conn
        .prepare_cached("SELECT id FROM entries WHERE location_id = ?1 AND relative_path = ?2 AND name = ?3")?
        .query_row(params![location.0, e.relative_path, e.name], |r| r.get(0))
        .optional()?;
    if here == Some(id.0) {
        return Ok(());
    }
    let exists = conn.prepare_cached("SELECT 1 FROM entries WHERE id = ?1")?.exists([id.0])?;
    match here {
        _ if exists => move_entry(conn, id, &e.relative_path, &e.name),
        Some(other) => {
            conn.prepare_cached("UPDATE entries SET id = ?2 WHERE id = ?1")?.execute(params![other, id.0])?;
            Ok(())
        }
        None => Ok(()),
    }
}

/// Reserves `count` entry ids for the caller to give to files it records later (`ScannedEntry::id`): the table's
/// AUTOINCREMENT counter moves past them, so no other insert takes one, and ids are never handed out twice (a
/// reserved id left unused is a gap). Returns the first id of the block.
pub fn reserve_entry_ids(conn: &Connection, count: i64) -> Result<i64> {
    let next: i64 = conn
        .prepare_cached(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'entries'), 0), \
             coalesce((SELECT max(id) FROM entries), 0)) + 1",
        )?
        .query_row([], |r| r.get(0))?;
    let last = next + count - 1;
    if conn.prepare_cached("UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'entries'")?.execute([last])? == 0 {
        conn.prepare_cached("INSERT INTO sqlite_sequence (name, seq) VALUES ('entries', ?1)")?.execute([last])?;
    }
    Ok(next)
}

/// The folder of a location, `None` when the location is gone.
fn location_root(conn: &Connection, location: LocationId) -> Result<Option<PathBuf>> {
    let path: Option<Vec<u8>> = conn
        .prepare_cached("SELECT path FROM locations WHERE id = ?1")?
        .query_row([location.0], |r| r.get(0))
        .optional()?;
    Ok(path.map(|p| PathBuf::from(std::ffi::OsStr::from_bytes(&p))))
}

/// What is on disk at `relative_path/name` of the location in `root` now: its kind and inode.
fn on_disk(root: &std::path::Path, relative_path: &[u8], name: &[u8]) -> Option<(EntryKind, i64)> {
    Probe::new(root).at(relative_path, name).map(|(kind, inode, _)| (kind, inode))
}

/// Looks at what is on disk at paths of one location, each by its whole path at the moment it is asked. (A folder
/// kept open across a batch was tried: a folder renamed away and another renamed to its name meanwhile made items
/// of the new folder look stale, and they were dropped: the library lost the latest size of files under churn.)
///
/// A folder that many items of a batch are in is listed once, by its path, when the batch starts (`list_folders`):
/// what the listing says of a name is what a stat of it would have said then, and nothing else writes the library
/// while the batch is applied. (A stat per file walked the whole path each time: a fifth of a first scan's writer.)
struct Probe<'a> {
    root: &'a std::path::Path,
    /// Folders listed for this batch (by relative path): each name's kind and inode at the listing.
    listed: std::collections::HashMap<Vec<u8>, Listing>,
}

/// A folder's names, each with the kind and inode it had when the folder was listed.
type Listing = std::collections::HashMap<Vec<u8>, (EntryKind, i64)>;

/// How many items to record in one folder make it worth listing the folder rather than stating each.
const LIST_AT_LEAST: usize = 32;

impl<'a> Probe<'a> {
    fn new(root: &'a std::path::Path) -> Probe<'a> {
        Probe { root, listed: std::collections::HashMap::new() }
    }

    /// Lists the folders that hold at least `LIST_AT_LEAST` of `items`' files to record, unless a folder is so
    /// much larger than its share of the batch that reading all of it would cost more than stating each (its
    /// size on disk tells roughly how many names it holds). A folder that cannot be listed whole is not listed.
    fn list_folders(&mut self, items: &[ScanItem]) {
        use std::os::unix::fs::{DirEntryExt, MetadataExt};
        let mut counts: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
        for item in items {
            if let ScanItem::Upsert(e) = item {
                *counts.entry(&e.relative_path).or_default() += 1;
            }
        }
        for (rel, count) in counts {
            if count < LIST_AT_LEAST {
                continue;
            }
            let dir =
                if rel.is_empty() { self.root.to_path_buf() } else { self.root.join(std::ffi::OsStr::from_bytes(rel)) };
            // (A name takes at least 16 bytes of a folder in the usual file systems: ext4, xfs, btrfs, tmpfs.)
            match std::fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() && meta.size() <= 64 * count as u64 + 4096 => {}
                _ => continue,
            }
            let Ok(listing) = std::fs::read_dir(&dir) else { continue };
            let names: std::io::Result<Listing> = listing
                .map(|child| {
                    let child = child?;
                    let kind = EntryKind::from_file_type(child.file_type()?);
                    Ok((child.file_name().into_encoded_bytes(), (kind, child.ino() as i64)))
                })
                .collect();
            if let Ok(names) = names {
                self.listed.insert(rel.to_vec(), names);
            }
        }
    }

    /// Kind and inode of what is at `relative_path/name`, from the folder's listing when it was listed.
    fn kind_and_inode(&mut self, relative_path: &[u8], name: &[u8]) -> Option<(EntryKind, i64)> {
        match self.listed.get(relative_path) {
            Some(names) => names.get(name).copied(),
            None => self.at(relative_path, name).map(|(kind, inode, _)| (kind, inode)),
        }
    }

    /// Kind, inode and birth time (ns, where the file system keeps one: an inode number freed and given to a new
    /// file is told apart by it) of what is at `relative_path/name`, not following a symlink.
    fn at(&mut self, relative_path: &[u8], name: &[u8]) -> Option<(EntryKind, i64, Option<i64>)> {
        use std::os::unix::fs::MetadataExt;
        let path = super::real_path(self.root, relative_path, name);
        let meta = crate::longpath::with(&path, |p| std::fs::symlink_metadata(p)).ok()?;
        let born =
            meta.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos() as i64);
        Some((EntryKind::from_file_type(meta.file_type()), meta.ino() as i64, born))
    }
}

/// Whether the disk has overtaken an item since it was read: an entry to record that is no longer at its path (or
/// is another file there now), an entry to remove whose file is back at its path, a folder to empty that is a
/// folder again. Items are read from the disk by several threads (system calls through the mount, the release of
/// a file, the watcher, a scan) and applied here one at a time, so without this check an item read before a
/// change and applied after it would put back what the change undid (a file renamed away left as a ghost). A
/// later item for the same path, read after the change, records what the disk holds: checking at commit time is
/// what keeps the library equal to the disk.
fn is_stale(conn: &Connection, disk: &mut Probe, item: &ScanItem) -> Result<bool> {
    Ok(match item {
        ScanItem::Upsert(e) => disk.kind_and_inode(&e.relative_path, &e.name) != Some((e.kind, e.inode)),
        ScanItem::Remove { id, .. } => {
            type Row = (Vec<u8>, Vec<u8>, i64, i64, Option<i64>);
            let row: Option<Row> = conn
                .prepare_cached("SELECT relative_path, name, kind, inode, created_at FROM entries WHERE id = ?1")?
                .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                .optional()?;
            match row {
                None => false,
                Some((rel, name, kind, inode, born)) => disk.at(&rel, &name).is_some_and(|(k, i, b)| {
                    k == EntryKind::from_i64(kind)
                        && (inode == 0 || i == inode)
                        && (born.is_none() || b.is_none() || born == b)
                }),
            }
        }
        ScanItem::RemoveBelow { dir_path } => {
            let (rel, name) = match dir_path.iter().rposition(|&b| b == b'/') {
                Some(at) => (&dir_path[..at], &dir_path[at + 1..]),
                None => (&b""[..], &dir_path[..]),
            };
            disk.at(rel, name).is_some_and(|(k, _, _)| k == EntryKind::Dir)
        }
    })
}

fn upsert_entry(conn: &Connection, location: LocationId, e: &ScannedEntry, now: i64) -> Result<(EntryId, Option<i64>)> {
    let (keep_content, content_id) = match &e.content {
        ContentUpdate::Keep => (true, None),
        ContentUpdate::Clear => (false, None),
        ContentUpdate::Set(hash) => (false, Some(content_for(conn, hash, now)?.0)),
    };
    let extension = extension_of(&e.name);
    let row = conn
        .prepare_cached(
            "INSERT INTO entries (uuid, location_id, relative_path, name, kind, extension, size, mode, created_at, \
             modified_at, changed_at, accessed_at, inode, device, symlink_target, content_id, indexed_at, id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?19) \
             ON CONFLICT (location_id, relative_path, name) DO UPDATE SET kind = excluded.kind, \
             extension = excluded.extension, size = excluded.size, mode = excluded.mode, \
             created_at = excluded.created_at, modified_at = excluded.modified_at, changed_at = excluded.changed_at, \
             accessed_at = excluded.accessed_at, inode = excluded.inode, device = excluded.device, \
             symlink_target = excluded.symlink_target, \
             content_id = CASE WHEN ?18 THEN entries.content_id ELSE excluded.content_id END, \
             indexed_at = excluded.indexed_at \
             RETURNING id, metadata_id",
        )?
        .query_row(
            params![
                uuid::Uuid::now_v7().as_bytes(),
                location.0,
                e.relative_path,
                e.name,
                e.kind as i64,
                extension,
                e.size,
                e.mode,
                e.created_at,
                e.modified_at,
                e.changed_at,
                e.accessed_at,
                e.inode,
                e.device,
                e.symlink_target,
                content_id,
                now,
                keep_content,
                e.id.map(|id| id.0),
            ],
            |r| Ok((EntryId(r.get(0)?), r.get(1)?)),
        )?;
    Ok(row)
}

/// Inserts a file at a path no entry holds; `None` when one does (nothing is changed then).
fn insert_new(conn: &Connection, location: LocationId, e: &ScannedEntry, now: i64) -> Result<Option<EntryId>> {
    let content_id = match &e.content {
        ContentUpdate::Set(hash) => Some(content_for(conn, hash, now)?.0),
        ContentUpdate::Keep | ContentUpdate::Clear => None,
    };
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO entries (uuid, location_id, relative_path, name, kind, extension, size, mode, \
             created_at, modified_at, changed_at, accessed_at, inode, device, symlink_target, content_id, indexed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?
        .execute(params![
            uuid::Uuid::now_v7().as_bytes(),
            location.0,
            e.relative_path,
            e.name,
            e.kind as i64,
            extension_of(&e.name),
            e.size,
            e.mode,
            e.created_at,
            e.modified_at,
            e.changed_at,
            e.accessed_at,
            e.inode,
            e.device,
            e.symlink_target,
            content_id,
            now,
        ])?;
    Ok((inserted == 1).then(|| EntryId(conn.last_insert_rowid())))
}

/// The lowercase extension of a file name, when it has a sensible one.
pub fn extension_of(name: &[u8]) -> Option<String> {
    let dot = name.iter().rposition(|&b| b == b'.')?;
    if dot == 0 || dot + 1 == name.len() || name.len() - dot > 17 {
        return None;
    }
    std::str::from_utf8(&name[dot + 1..]).ok().map(str::to_lowercase)
}

/// Finds or creates the content identity for a hash. Most contents a scan meets are new: the insert comes first
/// and is ignored when a unique index (`content_identity_unverified`, `content_identity_verified`) holds the hash
/// already; only then is the row looked up. (One statement per new content instead of two.)
fn content_for(conn: &Connection, hash: &ContentHash, now: i64) -> Result<ContentId> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO content_identity (uuid, cas_id, full_hash, kind, size, first_seen_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![uuid::Uuid::now_v7().as_bytes(), hash.cas_id, hash.full_hash, hash.kind, hash.size, now])?;
    if inserted == 1 {
        return Ok(ContentId(conn.last_insert_rowid()));
    }
    let id = match &hash.full_hash {
        Some(full) => conn
            .prepare_cached("SELECT id FROM content_identity WHERE cas_id = ?1 AND full_hash = ?2")?
            .query_row(params![hash.cas_id, full], |r| r.get(0))?,
        None => conn
            .prepare_cached("SELECT id FROM content_identity WHERE cas_id = ?1 AND full_hash IS NULL")?
            .query_row([&hash.cas_id], |r| r.get(0))?,
    };
    Ok(ContentId(id))
}

/// Links entries to the content identity of their verified full hash.
pub fn set_full_hashes(conn: &Connection, hashes: &[(EntryId, ContentHash)]) -> Result<u64> {
    let now = now_ns();
    let mut changed = 0;
    // A group of identical files has one content: looked up once per batch.
    let mut known: std::collections::HashMap<(&str, Option<&str>), ContentId> = std::collections::HashMap::new();
    for (entry, hash) in hashes {
        let key = (hash.cas_id.as_str(), hash.full_hash.as_deref());
        let content = match known.get(&key) {
            Some(content) => *content,
            None => *known.entry(key).or_insert(content_for(conn, hash, now)?),
        };
        changed += conn
            .prepare_cached("UPDATE entries SET content_id = ?2 WHERE id = ?1")?
            .execute(params![entry.0, content.0])? as u64;
    }
    Ok(changed)
}

/// Deletes content identities that no entry and no orphaned metadata refers to.
fn collect_garbage(conn: &Connection) -> Result<u64> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM content_identity WHERE NOT EXISTS (SELECT 1 FROM entries WHERE content_id = content_identity.id) \
             AND NOT EXISTS (SELECT 1 FROM user_metadata WHERE orphan_content_id = content_identity.id)",
        )?
        .execute([])? as u64)
}

/// The ids of the entries below a folder of a location (?1): its children (`relative_path` = ?2, the folder's path)
/// and everything deeper (?3 <= `relative_path` < ?4, see `descendant_range`). Two index range searches: written
/// with OR in one WHERE, SQLite searches only by location, which reads every entry of it.
const BELOW: &str = "SELECT id FROM entries WHERE location_id = ?1 AND relative_path = ?2 \
     UNION ALL SELECT id FROM entries WHERE location_id = ?1 AND relative_path >= ?3 AND relative_path < ?4";

/// Removes everything below the folder at `dir_path`, keeping its metadata as orphans. Returns (orphaned, removed).
fn remove_below(conn: &Connection, location: LocationId, dir_path: &[u8], now: i64) -> Result<(u64, u64)> {
    let (low, high) = descendant_range(dir_path);
    let filter = format!("WHERE e.id IN ({BELOW})");
    let orphaned = orphan_metadata_of(conn, &filter, params![location.0, dir_path, low, high], now)?;
    let removed = conn
        .prepare_cached(&format!("DELETE FROM entries WHERE id IN ({BELOW})"))?
        .execute(params![location.0, dir_path, low, high])? as u64;
    Ok((orphaned, removed))
}

/// Marks the metadata of the entries selected by `filter` (over `entries AS e`, its parameters `args`) as orphaned,
/// remembering where they were, and deletes the metadata rows that carry nothing. Returns how many were kept as
/// orphans. Both statements reach rows by index (the filter's: `+` keeps the planner off the partial
/// `entries_metadata` index, which would scan every entry with metadata; then `entries_metadata` and the primary
/// key), so a removal costs the same in a library of any size; the text depends only on `filter`, parsed once.
fn orphan_metadata_of(conn: &Connection, filter: &str, args: &[&dyn rusqlite::ToSql], now: i64) -> Result<u64> {
    let at = args.len() + 1;
    let sql = format!(
        "UPDATE user_metadata SET (orphaned_at, updated_at, orphan_location_id, orphan_path, orphan_inode, \
         orphan_device, orphan_content_id) = (SELECT ?{at}, ?{at}, e.location_id, \
         CAST(CASE WHEN e.relative_path = x'' THEN e.name ELSE e.relative_path || x'2f' || e.name END AS BLOB), \
         e.inode, e.device, e.content_id FROM entries AS e WHERE e.metadata_id = user_metadata.id) \
         WHERE id IN (SELECT e.metadata_id FROM entries AS e {filter} AND +e.metadata_id IS NOT NULL) RETURNING id"
    );
    let mut params: Vec<&dyn rusqlite::ToSql> = args.to_vec();
    params.push(&now);
    let marked: Vec<i64> =
        conn.prepare_cached(&sql)?.query_map(params.as_slice(), |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut dropped = 0;
    let mut drop_empty = conn.prepare_cached(
        "DELETE FROM user_metadata WHERE id = ?1 AND favorite = 0 AND hidden = 0 \
         AND coalesce(notes, '') = '' AND custom_data IS NULL \
         AND NOT EXISTS (SELECT 1 FROM metadata_tag WHERE metadata_id = user_metadata.id) \
         AND NOT EXISTS (SELECT 1 FROM metadata_label WHERE metadata_id = user_metadata.id)",
    )?;
    for id in &marked {
        dropped += drop_empty.execute([id])? as u64;
    }
    Ok((marked.len() as u64).saturating_sub(dropped))
}

fn import_xdg(conn: &Connection, entry: EntryId, metadata: Option<i64>, e: &ScannedEntry, now: i64) -> Result<u64> {
    let metadata = match metadata {
        Some(id) => MetadataId(id),
        None => ensure_metadata(conn, entry, now)?,
    };
    let mut added = 0;
    for tag in &e.xdg_tags {
        let tag_id = ensure_tag(conn, tag, now)?;
        added += link_tag(conn, metadata, tag_id, now)?;
    }
    if let Some(comment) = &e.xdg_comment {
        conn.prepare_cached(
            "UPDATE user_metadata SET notes = ?2, updated_at = ?3 WHERE id = ?1 AND coalesce(notes, '') = ''",
        )?
        .execute(params![metadata.0, comment, now])?;
    }
    Ok(added)
}

/// The entry's metadata row, created when it has none.
pub fn ensure_metadata(conn: &Connection, entry: EntryId, now: i64) -> Result<MetadataId> {
    let existing: Option<Option<i64>> = conn
        .prepare_cached("SELECT metadata_id FROM entries WHERE id = ?1")?
        .query_row([entry.0], |r| r.get(0))
        .optional()?;
    match existing {
        None => Err(Error::NotFound(format!("entry {} no longer exists (it was removed from the library)", entry.0))),
        Some(Some(id)) => Ok(MetadataId(id)),
        Some(None) => {
            conn.prepare_cached("INSERT INTO user_metadata (uuid, created_at, updated_at) VALUES (?1, ?2, ?2)")?
                .execute(params![uuid::Uuid::now_v7().as_bytes(), now])?;
            let id = conn.last_insert_rowid();
            conn.prepare_cached("UPDATE entries SET metadata_id = ?2 WHERE id = ?1")?.execute(params![entry.0, id])?;
            Ok(MetadataId(id))
        }
    }
}

pub fn ensure_tag(conn: &Connection, tag: &TagName, now: i64) -> Result<TagId> {
    conn.prepare_cached("INSERT INTO tags (uuid, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING")?
        .execute(params![uuid::Uuid::now_v7().as_bytes(), tag.as_str(), now])?;
    Ok(TagId(conn.prepare_cached("SELECT id FROM tags WHERE name = ?1")?.query_row([tag.as_str()], |r| r.get(0))?))
}

fn link_tag(conn: &Connection, metadata: MetadataId, tag: TagId, now: i64) -> Result<u64> {
    Ok(conn
        .prepare_cached("INSERT OR IGNORE INTO metadata_tag (metadata_id, tag_id, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![metadata.0, tag.0, now])? as u64)
}

/// Adds each tag to each entry; returns how many (entry, tag) pairs are new.
pub fn tag(conn: &Connection, entries: &[EntryId], tags: &[TagName]) -> Result<u64> {
    let now = now_ns();
    let tag_ids: Vec<TagId> = tags.iter().map(|t| ensure_tag(conn, t, now)).collect::<Result<_>>()?;
    let mut added = 0;
    for &entry in entries {
        let metadata = ensure_metadata(conn, entry, now)?;
        for &tag in &tag_ids {
            added += link_tag(conn, metadata, tag, now)?;
        }
    }
    Ok(added)
}

/// Removes each tag from each entry; returns how many (entry, tag) pairs were removed. Unknown tags are an error.
pub fn untag(conn: &Connection, entries: &[EntryId], tags: &[TagName]) -> Result<u64> {
    let mut removed = 0;
    for tag in tags {
        let tag_id: Option<i64> = conn
            .prepare_cached("SELECT id FROM tags WHERE name = ?1")?
            .query_row([tag.as_str()], |r| r.get(0))
            .optional()?;
        let Some(tag_id) = tag_id else {
            return Err(Error::NotFound(format!("no tag named '{tag}' (see 'spacefs tags')")));
        };
        for entry in entries {
            removed += conn
                .prepare_cached(
                    "DELETE FROM metadata_tag WHERE tag_id = ?2 AND metadata_id = (SELECT metadata_id FROM entries WHERE id = ?1)",
                )?
                .execute(params![entry.0, tag_id])? as u64;
        }
    }
    Ok(removed)
}

/// The label at `path`, creating the missing labels along it.
pub fn ensure_label_path(conn: &Connection, path: &LabelPath, now: i64) -> Result<LabelId> {
    let mut parent: Option<i64> = None;
    for part in path.parts() {
        conn.prepare_cached(
            "INSERT INTO labels (uuid, name, parent_id, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (coalesce(parent_id, 0), name) DO NOTHING",
        )?
        .execute(params![uuid::Uuid::now_v7().as_bytes(), part, parent, now])?;
        let id: i64 = conn
            .prepare_cached("SELECT id FROM labels WHERE coalesce(parent_id, 0) = coalesce(?1, 0) AND name = ?2")?
            .query_row(params![parent, part], |r| r.get(0))?;
        parent = Some(id);
    }
    parent.map(LabelId).ok_or_else(|| Error::InvalidName("a label path cannot be empty".into()))
}

/// Gives each entry the label at `path` (created as needed); returns how many assignments are new.
pub fn label(conn: &Connection, entries: &[EntryId], path: &LabelPath) -> Result<u64> {
    let now = now_ns();
    let label = ensure_label_path(conn, path, now)?;
    let mut added = 0;
    for &entry in entries {
        let metadata = ensure_metadata(conn, entry, now)?;
        added += conn
            .prepare_cached(
                "INSERT OR IGNORE INTO metadata_label (metadata_id, label_id, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![metadata.0, label.0, now])? as u64;
    }
    Ok(added)
}

/// Which flag of `user_metadata` to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Favorite,
    Hidden,
}

pub fn set_flag(conn: &Connection, entries: &[EntryId], flag: Flag, on: bool) -> Result<u64> {
    let now = now_ns();
    let sql = match flag {
        Flag::Favorite => "UPDATE user_metadata SET favorite = ?2, updated_at = ?3 WHERE id = ?1 AND favorite != ?2",
        Flag::Hidden => "UPDATE user_metadata SET hidden = ?2, updated_at = ?3 WHERE id = ?1 AND hidden != ?2",
    };
    let mut changed = 0;
    for &entry in entries {
        let metadata = ensure_metadata(conn, entry, now)?;
        changed += conn.prepare_cached(sql)?.execute(params![metadata.0, on, now])? as u64;
    }
    Ok(changed)
}

pub fn set_notes(conn: &Connection, entry: EntryId, notes: Option<&str>) -> Result<()> {
    let now = now_ns();
    let metadata = ensure_metadata(conn, entry, now)?;
    conn.prepare_cached("UPDATE user_metadata SET notes = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![metadata.0, notes, now])?;
    Ok(())
}

pub fn set_rating(conn: &Connection, entry: EntryId, rating: Option<u8>) -> Result<()> {
    let now = now_ns();
    let metadata = ensure_metadata(conn, entry, now)?;
    conn.prepare_cached("UPDATE user_metadata SET rating = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![metadata.0, rating, now])?;
    Ok(())
}

/// Makes the entry's tags exactly `tags` (adding and removing the difference, creating unknown tags), and sets the
/// colours given in `colors`. One command, so a concurrent change is never half-applied or lost.
pub fn set_tags(
    conn: &Connection,
    entry: EntryId,
    tags: &[TagName],
    colors: &[(TagName, Option<String>)],
) -> Result<()> {
    let now = now_ns();
    let metadata = ensure_metadata(conn, entry, now)?;
    let wanted: Vec<TagId> = tags.iter().map(|t| ensure_tag(conn, t, now)).collect::<Result<_>>()?;
    let current: Vec<i64> = conn
        .prepare_cached("SELECT tag_id FROM metadata_tag WHERE metadata_id = ?1")?
        .query_map([metadata.0], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for old in current.iter().filter(|old| !wanted.iter().any(|w| w.0 == **old)) {
        conn.prepare_cached("DELETE FROM metadata_tag WHERE metadata_id = ?1 AND tag_id = ?2")?
            .execute(params![metadata.0, old])?;
    }
    for tag in wanted.iter().filter(|w| !current.contains(&w.0)) {
        link_tag(conn, metadata, *tag, now)?;
    }
    for (tag, color) in colors {
        let id = ensure_tag(conn, tag, now)?;
        conn.prepare_cached("UPDATE tags SET color = ?2 WHERE id = ?1")?.execute(params![id.0, color])?;
    }
    Ok(())
}

/// Makes the entry's labels exactly `labels`, creating missing labels along each path.
pub fn set_labels(conn: &Connection, entry: EntryId, labels: &[LabelPath]) -> Result<()> {
    let now = now_ns();
    let metadata = ensure_metadata(conn, entry, now)?;
    let wanted: Vec<LabelId> = labels.iter().map(|l| ensure_label_path(conn, l, now)).collect::<Result<_>>()?;
    conn.prepare_cached("DELETE FROM metadata_label WHERE metadata_id = ?1")?.execute([metadata.0])?;
    for label in wanted {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO metadata_label (metadata_id, label_id, created_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![metadata.0, label.0, now])?;
    }
    Ok(())
}

/// Sets (or clears) a tag's colour; the tag must exist.
pub fn set_tag_color(conn: &Connection, tag: &TagName, color: Option<&str>) -> Result<()> {
    let changed =
        conn.prepare_cached("UPDATE tags SET color = ?2 WHERE name = ?1")?.execute(params![tag.as_str(), color])?;
    if changed == 0 {
        return Err(Error::NotFound(format!("no tag named '{tag}' (see 'spacefs tags')")));
    }
    Ok(())
}

/// Takes the label at `path` (not its sub-labels) off each entry; returns how many assignments were removed.
pub fn unlabel(conn: &Connection, entries: &[EntryId], path: &LabelPath) -> Result<u64> {
    let mut parent: Option<i64> = None;
    for part in path.parts() {
        let id: Option<i64> = conn
            .prepare_cached("SELECT id FROM labels WHERE coalesce(parent_id, 0) = coalesce(?1, 0) AND name = ?2")?
            .query_row(params![parent, part], |r| r.get(0))
            .optional()?;
        parent = Some(id.ok_or_else(|| Error::NotFound(format!("no label '{path}' (see 'spacefs find --label')")))?);
    }
    let mut removed = 0;
    for entry in entries {
        removed += conn
            .prepare_cached(
                "DELETE FROM metadata_label WHERE label_id = ?2 \
                 AND metadata_id = (SELECT metadata_id FROM entries WHERE id = ?1)",
            )?
            .execute(params![entry.0, parent])? as u64;
    }
    Ok(removed)
}

fn tag_id(conn: &Connection, tag: &TagName) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM tags WHERE name = ?1")?
        .query_row([tag.as_str()], |r| r.get(0))
        .optional()?)
}

/// Renames a tag. A tag already named `to` is refused (merging is `merge_tags`).
pub fn rename_tag(conn: &Connection, from: &TagName, to: &TagName) -> Result<()> {
    let id =
        tag_id(conn, from)?.ok_or_else(|| Error::NotFound(format!("no tag named '{from}' (see 'spacefs tags')")))?;
    if from == to {
        return Ok(());
    }
    if tag_id(conn, to)?.is_some() {
        return Err(Error::AlreadyExists(format!(
            "a tag named '{to}' exists already (to combine the two, use 'spacefs merge-tags {from} {to}')"
        )));
    }
    conn.prepare_cached("UPDATE tags SET name = ?2 WHERE id = ?1")?.execute(params![id, to.as_str()])?;
    Ok(())
}

/// Gives every entry tagged `from` the tag `into` (created if needed), then deletes `from`. Returns how many
/// entries gained `into`.
pub fn merge_tags(conn: &Connection, from: &TagName, into: &TagName) -> Result<u64> {
    let from_id =
        tag_id(conn, from)?.ok_or_else(|| Error::NotFound(format!("no tag named '{from}' (see 'spacefs tags')")))?;
    if from == into {
        return Err(Error::Invalid("a tag cannot be merged into itself".into()));
    }
    let into_id = ensure_tag(conn, into, now_ns())?;
    let moved = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO metadata_tag (metadata_id, tag_id, created_at) \
             SELECT metadata_id, ?2, created_at FROM metadata_tag WHERE tag_id = ?1",
        )?
        .execute(params![from_id, into_id.0])? as u64;
    conn.prepare_cached("DELETE FROM tags WHERE id = ?1")?.execute([from_id])?;
    Ok(moved)
}

/// What putting an entry into a flat view means: carrying a tag or a label, or being a favorite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Tag(TagId),
    Label(LabelId),
    Favorite,
}

fn add_membership(conn: &Connection, entry: EntryId, m: Membership, now: i64) -> Result<()> {
    let metadata = ensure_metadata(conn, entry, now)?;
    match m {
        Membership::Tag(tag) => {
            link_tag(conn, metadata, tag, now)?;
        }
        Membership::Label(label) => {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO metadata_label (metadata_id, label_id, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![metadata.0, label.0, now])?;
        }
        Membership::Favorite => {
            conn.prepare_cached("UPDATE user_metadata SET favorite = 1, updated_at = ?2 WHERE id = ?1")?
                .execute(params![metadata.0, now])?;
        }
    }
    Ok(())
}

fn remove_membership(conn: &Connection, entry: EntryId, m: Membership, now: i64) -> Result<()> {
    let metadata = ensure_metadata(conn, entry, now)?;
    let removed = match m {
        Membership::Tag(tag) => conn
            .prepare_cached("DELETE FROM metadata_tag WHERE metadata_id = ?1 AND tag_id = ?2")?
            .execute(params![metadata.0, tag.0])?,
        Membership::Label(label) => conn
            .prepare_cached("DELETE FROM metadata_label WHERE metadata_id = ?1 AND label_id = ?2")?
            .execute(params![metadata.0, label.0])?,
        Membership::Favorite => conn
            .prepare_cached("UPDATE user_metadata SET favorite = 0, updated_at = ?2 WHERE id = ?1 AND favorite = 1")?
            .execute(params![metadata.0, now])?,
    };
    if removed == 0 {
        return Err(Error::NotFound("the entry is not in that folder".into()));
    }
    Ok(())
}

/// Adds and/or removes an entry's memberships in one step (ln, rm and mv inside the views).
pub fn change_membership(
    conn: &Connection,
    entry: EntryId,
    remove: Option<Membership>,
    add: Option<Membership>,
) -> Result<()> {
    let now = now_ns();
    if let Some(m) = remove {
        remove_membership(conn, entry, m, now)?;
    }
    if let Some(m) = add {
        add_membership(conn, entry, m, now)?;
    }
    Ok(())
}

/// Another device's file or folder as the mount shows it in a flat view: its device's row, its id in that device's
/// snapshot, its uuid (the shared document's key), its name, and whether it is a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignFile {
    pub device: i64,
    pub entry: i64,
    pub uuid: uuid::Uuid,
    pub name: Vec<u8>,
    pub is_dir: bool,
}

/// A membership as `foreign_members` and `foreign_edits` name it: (view, folder).
fn foreign_folder(m: Membership) -> (i64, i64) {
    use super::ForeignView;
    match m {
        Membership::Tag(tag) => (ForeignView::Tags as i64, tag.0),
        Membership::Label(label) => (ForeignView::Labels as i64, label.0),
        Membership::Favorite => (ForeignView::Favorites as i64, 0),
    }
}

/// Another device's file leaves and/or joins a flat folder (rm, ln and mv in the views): shown so at once, and
/// kept in `foreign_edits` for the next exchange to record in the shared document.
pub fn change_foreign_membership(
    conn: &Connection,
    file: &ForeignFile,
    remove: Option<Membership>,
    add: Option<Membership>,
) -> Result<()> {
    let mut hidden = false;
    if let Some(m) = remove {
        let (view, folder) = foreign_folder(m);
        let key = params![view, folder, file.device, file.entry];
        let row = "FROM foreign_members WHERE view = ?1 AND folder = ?2 AND device = ?3 AND entry = ?4";
        let shown: Option<bool> =
            conn.prepare_cached(&format!("SELECT hidden {row}"))?.query_row(key, |r| r.get(0)).optional()?;
        hidden = shown.ok_or_else(|| Error::NotFound("the file is not in that folder".into()))?;
        conn.prepare_cached(&format!("DELETE {row}"))?.execute(key)?;
        record_foreign_edit(conn, file, view, folder, false)?;
    }
    if let Some(m) = add {
        let (view, folder) = foreign_folder(m);
        conn.prepare_cached(
            "INSERT OR IGNORE INTO foreign_members (view, folder, device, entry, name, hidden, is_dir) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![view, folder, file.device, file.entry, file.name, hidden, file.is_dir])?;
        record_foreign_edit(conn, file, view, folder, true)?;
    }
    Ok(())
}

fn record_foreign_edit(conn: &Connection, file: &ForeignFile, view: i64, folder: i64, member: bool) -> Result<()> {
    conn.prepare_cached("INSERT INTO foreign_edits (entry, view, folder, member) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![file.uuid.as_bytes(), view, folder, member])?;
    Ok(())
}

/// Creates a tag; an existing one is EEXIST.
pub fn create_tag(conn: &Connection, tag: &TagName) -> Result<TagId> {
    if tag_id(conn, tag)?.is_some() {
        return Err(Error::AlreadyExists(format!("tag '{tag}' exists already")));
    }
    ensure_tag(conn, tag, now_ns())
}

/// How many entries carry a tag: this device's (live or orphaned) and other devices' (`foreign_members`), so a tag
/// folder listing only other devices' files is not empty to rmdir.
fn tag_uses(conn: &Connection, tag: i64) -> Result<i64> {
    let sql = "SELECT (SELECT count(*) FROM metadata_tag WHERE tag_id = ?1) + \
                      (SELECT count(*) FROM foreign_members WHERE view = 1 AND folder = ?1)";
    Ok(conn.prepare_cached(sql)?.query_row([tag], |r| r.get(0))?)
}

/// Deletes a tag that no entry carries (ENOTEMPTY otherwise; metadata kept for vanished files counts too).
pub fn delete_tag(conn: &Connection, tag: &TagName) -> Result<()> {
    let id = tag_id(conn, tag)?.ok_or_else(|| Error::NotFound(format!("no tag named '{tag}'")))?;
    if tag_uses(conn, id)? > 0 {
        return Err(Error::NotEmpty(format!("tag '{tag}' still carries entries")));
    }
    conn.prepare_cached("DELETE FROM tags WHERE id = ?1")?.execute([id])?;
    Ok(())
}

/// rename(2) of a tag folder: a target that exists is replaced only if it carries nothing (ENOTEMPTY otherwise).
pub fn move_tag(conn: &Connection, from: &TagName, to: &TagName) -> Result<()> {
    if from == to {
        return Ok(());
    }
    if let Some(target) = tag_id(conn, to)? {
        if tag_uses(conn, target)? > 0 {
            return Err(Error::NotEmpty(format!("tag '{to}' carries entries (merge with 'spacefs merge-tags')")));
        }
        conn.prepare_cached("DELETE FROM tags WHERE id = ?1")?.execute([target])?;
    }
    rename_tag(conn, from, to)
}

/// Creates the label `name` below `parent` (top level for `None`); an existing one is EEXIST.
pub fn create_label(conn: &Connection, parent: Option<LabelId>, name: &str) -> Result<LabelId> {
    crate::names::LabelPath::parse(name)?;
    if name.contains('/') {
        return Err(Error::InvalidName(format!("invalid label name {name:?}: '/' separates labels")));
    }
    let exists: Option<i64> = conn
        .prepare_cached("SELECT id FROM labels WHERE coalesce(parent_id, 0) = coalesce(?1, 0) AND name = ?2")?
        .query_row(params![parent.map(|p| p.0), name], |r| r.get(0))
        .optional()?;
    if exists.is_some() {
        return Err(Error::AlreadyExists(format!("label '{name}' exists already")));
    }
    conn.prepare_cached("INSERT INTO labels (uuid, name, parent_id, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![uuid::Uuid::now_v7().as_bytes(), name, parent.map(|p| p.0), now_ns()])?;
    Ok(LabelId(conn.last_insert_rowid()))
}

fn label_is_empty(conn: &Connection, label: LabelId) -> Result<bool> {
    let used: i64 = conn
        .prepare_cached(
            "SELECT (SELECT count(*) FROM labels WHERE parent_id = ?1) + \
                    (SELECT count(*) FROM metadata_label WHERE label_id = ?1) + \
                    (SELECT count(*) FROM foreign_members WHERE view = 2 AND folder = ?1)",
        )?
        .query_row([label.0], |r| r.get(0))?;
    Ok(used == 0)
}

/// Deletes a label that has no child labels and no entries (ENOTEMPTY otherwise).
pub fn delete_label(conn: &Connection, label: LabelId) -> Result<()> {
    if !label_is_empty(conn, label)? {
        return Err(Error::NotEmpty("the label still has labels or entries in it".into()));
    }
    conn.prepare_cached("DELETE FROM labels WHERE id = ?1")?.execute([label.0])?;
    Ok(())
}

/// rename(2) of a label folder: moves it below `parent` as `name`. An existing empty target is replaced; a
/// non-empty one is ENOTEMPTY; moving a label below itself is EINVAL.
pub fn move_label(conn: &Connection, label: LabelId, parent: Option<LabelId>, name: &str) -> Result<()> {
    crate::names::LabelPath::parse(name)?;
    if name.contains('/') {
        return Err(Error::InvalidName(format!("invalid label name {name:?}: '/' separates labels")));
    }
    let mut ancestor = parent;
    while let Some(a) = ancestor {
        if a == label {
            return Err(Error::Invalid("a label cannot be moved below itself".into()));
        }
        ancestor = conn
            .prepare_cached("SELECT parent_id FROM labels WHERE id = ?1")?
            .query_row([a.0], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten()
            .map(LabelId);
    }
    let target: Option<i64> = conn
        .prepare_cached("SELECT id FROM labels WHERE coalesce(parent_id, 0) = coalesce(?1, 0) AND name = ?2")?
        .query_row(params![parent.map(|p| p.0), name], |r| r.get(0))
        .optional()?;
    if let Some(target) = target.filter(|t| *t != label.0) {
        delete_label(conn, LabelId(target))?;
    }
    conn.prepare_cached("UPDATE labels SET parent_id = ?2, name = ?3 WHERE id = ?1")?.execute(params![
        label.0,
        parent.map(|p| p.0),
        name
    ])?;
    Ok(())
}

/// Records a rename made on disk: the entry keeps its id, uuid, tags, labels and notes; a folder's descendants get
/// their new materialized paths in the same transaction. An entry that was at the target is replaced (its metadata
/// kept as an orphan, as for any file that vanished).
/// Two entries of one location swap places (rename with RENAME_EXCHANGE): each keeps its id and metadata, and a
/// folder's descendants follow it. Goes through a name no file can have (it holds a NUL byte), so the unique
/// (location, path, name) index never sees two entries in one place.
pub fn exchange_entries(conn: &Connection, a: EntryId, b: EntryId) -> Result<()> {
    let place = |id: EntryId| -> Result<(Vec<u8>, Vec<u8>)> {
        conn.prepare_cached("SELECT relative_path, name FROM entries WHERE id = ?1")?
            .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| Error::NotFound(format!("entry {} is gone", id.0)))
    };
    let ((a_rel, a_name), (b_rel, b_name)) = (place(a)?, place(b)?);
    let parking = format!("\0exchange-{}", a.0).into_bytes();
    move_entry(conn, a, &a_rel, &parking)?;
    move_entry(conn, b, &a_rel, &a_name)?;
    move_entry(conn, a, &b_rel, &b_name)
}

/// Records a rename, unless the disk says it is stale: the file is still (or again) at its old name, as when a
/// watcher reports `f -> g` after `f -> g -> f` through the mount. Applying it would leave the library saying `g`
/// while the disk has `f`; a rename the disk has gone past in another way (renamed on, removed) is applied, and the
/// events after it carry the entry to where the file is.
pub fn rename_entry(conn: &Connection, entry: EntryId, new_relative_path: &[u8], new_name: &[u8]) -> Result<()> {
    let (location, old_rel, old_name, kind, inode): (i64, Vec<u8>, Vec<u8>, i64, i64) = conn
        .prepare_cached("SELECT location_id, relative_path, name, kind, inode FROM entries WHERE id = ?1")?
        .query_row([entry.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("entry {} is gone", entry.0)))?;
    if inode != 0
        && let Some(root) = location_root(conn, LocationId(location))?
        && on_disk(&root, &old_rel, &old_name) == Some((EntryKind::from_i64(kind), inode))
    {
        return Ok(());
    }
    move_entry(conn, entry, new_relative_path, new_name)
}

/// Moves an entry (and, for a folder, everything below it) to a new place in the library.
fn move_entry(conn: &Connection, entry: EntryId, new_relative_path: &[u8], new_name: &[u8]) -> Result<()> {
    let (location, old_rel, old_name, kind): (i64, Vec<u8>, Vec<u8>, i64) = conn
        .prepare_cached("SELECT location_id, relative_path, name, kind FROM entries WHERE id = ?1")?
        .query_row([entry.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("entry {} is gone", entry.0)))?;
    let replaced: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, kind FROM entries WHERE location_id = ?1 AND relative_path = ?2 AND name = ?3 AND id != ?4",
        )?
        .query_row(params![location, new_relative_path, new_name, entry.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, replaced_kind)) = replaced {
        // An editor's save-by-rename (write f.tmp, rename it over f): f's tags, labels and notes stay on f, unless
        // the file renamed over it carries metadata of its own.
        let metadata_of = |id: i64| -> Result<Option<i64>> {
            Ok(conn.prepare_cached("SELECT metadata_id FROM entries WHERE id = ?1")?.query_row([id], |r| r.get(0))?)
        };
        if let (None, Some(kept)) = (metadata_of(entry.0)?, metadata_of(id)?) {
            conn.prepare_cached("UPDATE entries SET metadata_id = NULL WHERE id = ?1")?.execute([id])?;
            conn.prepare_cached("UPDATE entries SET metadata_id = ?2 WHERE id = ?1")?
                .execute(params![entry.0, kept])?;
        }
        let dir_path = (replaced_kind == EntryKind::Dir as i64).then(|| child_path(new_relative_path, new_name));
        // The entry moving here replaces it: removed without asking the disk, where the moving file now is.
        let item = ScanItem::Remove { id: EntryId(id), dir_path };
        apply_item(conn, LocationId(location), &item, now_ns(), &mut ScanApplied::default())?;
    }
    // indexed_at moves too: it is what tells a changed library from the snapshot published of it
    // (`Reader::entries_stamp`), and a rename changes nothing else the stamp sees.
    conn.prepare_cached(
        "UPDATE entries SET relative_path = ?2, name = ?3, extension = ?4, indexed_at = max(indexed_at, ?5) \
         WHERE id = ?1",
    )?
    .execute(params![entry.0, new_relative_path, new_name, extension_of(new_name), now_ns()])?;
    if kind == EntryKind::Dir as i64 {
        let old_path = child_path(&old_rel, &old_name);
        let new_path = child_path(new_relative_path, new_name);
        let (low, high) = descendant_range(&old_path);
        // Children: relative_path = old_path; deeper: old_path/… ; both get the new prefix.
        conn.prepare_cached(&format!(
            "UPDATE entries SET relative_path = CAST(?5 || substr(relative_path, ?6) AS BLOB) WHERE id IN ({BELOW})"
        ))?
        .execute(params![location, old_path, low, high, new_path, old_path.len() as i64 + 1])?;
    }
    Ok(())
}

/// Gives orphaned metadata (of files that vanished from `location`) back to a file that came back: the entry with
/// the same device and inode (and the same name or content, since file systems reuse inode numbers), or failing
/// that the entry with the same verified content (full hash). Only a one-to-one match is taken: never a guess
/// between several candidates. Returns how many were re-linked.
pub fn relink_orphans(conn: &Connection, location: LocationId) -> Result<u64> {
    let by_inode = "SELECT m.id, e.id FROM user_metadata m JOIN entries e ON e.location_id = m.orphan_location_id \
         AND e.device = m.orphan_device AND e.inode = m.orphan_inode \
         WHERE m.orphaned_at IS NOT NULL AND m.orphan_location_id = ?1 AND e.metadata_id IS NULL \
         AND (CAST(CASE WHEN e.relative_path = x'' THEN e.name ELSE e.relative_path || x'2f' || e.name END AS BLOB) = m.orphan_path \
              OR e.content_id = m.orphan_content_id)";
    let by_content = "SELECT m.id, e.id FROM user_metadata m \
         JOIN content_identity ci ON ci.id = m.orphan_content_id AND ci.full_hash IS NOT NULL \
         JOIN content_identity same ON same.full_hash = ci.full_hash AND same.cas_id = ci.cas_id \
         JOIN entries e ON e.content_id = same.id AND e.location_id = m.orphan_location_id \
         WHERE m.orphaned_at IS NOT NULL AND m.orphan_location_id = ?1 AND e.metadata_id IS NULL";
    let mut relinked = 0;
    for sql in [by_inode, by_content] {
        let pairs: Vec<(i64, i64)> = conn
            .prepare_cached(sql)?
            .query_map([location.0], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let count = |f: &dyn Fn(&(i64, i64)) -> i64, v: i64| pairs.iter().filter(|p| f(p) == v).count();
        for &(metadata, entry) in &pairs {
            if count(&|p| p.0, metadata) != 1 || count(&|p| p.1, entry) != 1 {
                continue; // several candidates: leave it for the user
            }
            conn.prepare_cached("UPDATE entries SET metadata_id = ?2 WHERE id = ?1 AND metadata_id IS NULL")?
                .execute(params![entry, metadata])?;
            conn.prepare_cached(
                "UPDATE user_metadata SET orphaned_at = NULL, orphan_location_id = NULL, orphan_path = NULL, \
                 orphan_inode = NULL, orphan_device = NULL, orphan_content_id = NULL, updated_at = ?2 WHERE id = ?1",
            )?
            .execute(params![metadata, now_ns()])?;
            relinked += 1;
        }
    }
    Ok(relinked)
}

/// Saves a query under a name (the expression itself when saved by mkdir); an existing name is EEXIST.
pub fn save_query(conn: &Connection, name: &str, expression: &str) -> Result<()> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO saved_queries (name, expression, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
        )?
        .execute(params![name, expression, now_ns()])?;
    if changed == 0 {
        return Err(Error::AlreadyExists(format!("a query named {name:?} is saved already")));
    }
    Ok(())
}

/// Forgets a saved query (entries are not touched).
pub fn forget_query(conn: &Connection, name: &str) -> Result<()> {
    if conn.prepare_cached("DELETE FROM saved_queries WHERE name = ?1")?.execute([name])? == 0 {
        return Err(Error::NotFound(format!("no saved query named {name:?} (see 'spacefs query list')")));
    }
    Ok(())
}

/// What `meta` (of the file at `path`) says of entry `name` in folder `rel`, without its content.
pub fn scanned(rel: &[u8], name: Vec<u8>, path: &std::path::Path, meta: &std::fs::Metadata) -> ScannedEntry {
    use std::os::unix::ffi::OsStringExt;
    use std::os::unix::fs::MetadataExt;
    let kind = EntryKind::from_file_type(meta.file_type());
    let symlink_target = if kind == EntryKind::Symlink {
        std::fs::read_link(path).ok().map(|t| t.into_os_string().into_vec())
    } else {
        None
    };
    ScannedEntry {
        id: None,
        relative_path: rel.to_vec(),
        name,
        kind,
        size: meta.size() as i64,
        mode: meta.mode(),
        created_at: meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64),
        modified_at: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        changed_at: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        accessed_at: Some(meta.atime() * 1_000_000_000 + meta.atime_nsec()),
        inode: meta.ino() as i64,
        device: meta.dev() as i64,
        symlink_target,
        content: ContentUpdate::Clear,
        xdg_tags: Vec::new(),
        xdg_comment: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::library::testing::{ONE_LOCATION, plan, raw_library};

    #[test]
    fn what_is_below_a_folder_is_found_by_index_ranges_not_by_reading_the_location() {
        let library = raw_library();
        let conn = &library.conn;
        for sql in [
            format!("SELECT id FROM entries WHERE id IN ({BELOW})"),
            format!("DELETE FROM entries WHERE id IN ({BELOW})"),
            format!(
                "UPDATE entries SET relative_path = CAST(?5 || substr(relative_path, ?6) AS BLOB) WHERE id IN ({BELOW})"
            ),
        ] {
            let plan = plan(conn, &sql);
            assert!(plan.contains("entries_children (location_id=? AND relative_path=?)"), "{sql}:\n{plan}");
            assert!(
                plan.contains("entries_children (location_id=? AND relative_path>? AND relative_path<?)"),
                "{sql}:\n{plan}"
            );
            assert!(!plan.lines().any(|l| l.ends_with("(location_id=?)") || l.starts_with("SCAN")), "{sql}:\n{plan}");
        }
    }

    #[test]
    fn statistics_gathered_on_a_small_library_are_forgotten_so_lookups_keep_their_indexes() {
        let library = raw_library();
        let (path, conn) = (library.path.clone(), library.conn);
        // What an earlier version left: ANALYZE run when the library held one entry.
        conn.execute_batch(ONE_LOCATION).unwrap();
        conn.execute_batch(
            "INSERT INTO entries (uuid, location_id, relative_path, name, kind, indexed_at) \
             VALUES (x'01', 1, x'', x'61', 0, 0); ANALYZE;",
        )
        .unwrap();
        let stats =
            |c: &Connection| -> i64 { c.query_row("SELECT count(*) FROM sqlite_stat1", [], |r| r.get(0)).unwrap() };
        assert!(stats(&conn) > 0);
        drop(conn);
        drop(crate::library::Library::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        assert_eq!(stats(&conn), 0);
        let plan = plan(&conn, crate::library::views::OTHER_LINK);
        assert!(plan.contains("SEARCH a USING INTEGER PRIMARY KEY (rowid=?)"), "{plan}");
        assert!(plan.contains("SEARCH b USING INDEX entries_inode (device=? AND inode=?)"), "{plan}");
    }

    #[test]
    fn finding_a_content_by_cas_id_searches_the_indexes() {
        let library = raw_library();
        let conn = &library.conn;
        for sql in [
            "SELECT id FROM content_identity WHERE cas_id = ?1 AND full_hash = ?2",
            "SELECT id FROM content_identity WHERE cas_id = ?1 AND full_hash IS NULL",
        ] {
            let plan = plan(conn, sql);
            assert!(!plan.lines().any(|l| l.starts_with("SCAN") && l != "SCAN CONSTANT ROW"), "{sql}:\n{plan}");
        }
    }
}
