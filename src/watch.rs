//! Keeps the library in step with changes made to the locations outside the mount, while it is mounted.
//!
//! A `notify` watcher (inotify on Linux) feeds a thread that gathers events until they pause (`QUIET`), then
//! applies them: new or changed files are re-read, new folders indexed with everything in them, deletions
//! recorded (metadata kept as orphans), and renames recorded as renames, so a file keeps its entry, tags and notes.
//! inotify reports a rename as From, To and a paired Both event; only an unpaired From means the file left.
//! A queue overflow rescans every location. The library's own files are ignored (a library inside a location
//! would otherwise react to its own writes forever).

use crate::error::{Error, Result};
use crate::index::{self, ScanOptions};
use crate::library::write::ScanItem;
use crate::library::{EntryId, EntryKind, Library, Location, LocationId, child_path};
use notify::event::{EventKind, ModifyKind, RenameMode};
use notify::{Event, RecursiveMode, Watcher as _};
use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long events must pause before a batch is applied.
const QUIET: Duration = Duration::from_millis(30);
/// The most events applied in one batch.
const MAX_BATCH: usize = 10_000;
/// How much lower than the threads serving the mount the watcher's two threads run (nice value): they apply
/// changes made outside the mount, which can wait a moment, and mostly see the mount's own changes again. Not 19:
/// a watcher starved under sustained load would let the kernel's event queue overflow, which costs a rescan.
const WATCH_NICE: i32 = 10;

/// What changed on disk, for whoever caches what the library said (the mount's kernel caches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// `name` in folder `dir` of `location` is gone or renamed away.
    Gone { location: LocationId, dir: Vec<u8>, name: Vec<u8> },
    /// The entry's file changed (content, size, times or mode).
    Modified(EntryId),
    /// Too much changed to say: forget everything.
    Everything,
}

/// A running watcher; dropping it stops watching.
pub struct Watching {
    _watcher: notify::RecommendedWatcher,
}

/// Starts watching `locations`. Each applied batch reports what changed through `changed`. A batch that fails
/// part-way is logged and followed by a rescan of every location, so no change is lost.
pub fn start(
    library: std::sync::Weak<impl AsRef<Library> + Send + Sync + 'static>,
    locations: Vec<Location>,
    ignore: Vec<PathBuf>,
    changed: impl Fn(Vec<Changed>) + Send + 'static,
) -> Result<Watching> {
    let (tx, rx) = crossbeam_channel::unbounded::<notify::Result<Event>>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        // This runs on notify's thread, which wakes for every event, including those of changes made through the
        // mount itself: lowered, its wake-ups wait for the threads answering the kernel instead of preempting them.
        thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        if !LOWERED.replace(true) {
            index::lower_this_thread(WATCH_NICE);
        }
        if may_have_removed(&event) {
            crate::library::write::disk_changed();
        }
        // An open changes nothing, and a scan opens every folder: queued, opens were most of the daemon's memory
        // after mounting a library of many folders. (Closes stay: their timing is part of how `apply` batches.)
        if !matches!(&event, Ok(Event { kind: EventKind::Access(notify::event::AccessKind::Open(_)), .. })) {
            let _ = tx.send(event);
        }
    })
    .map_err(|e| crate::error::Error::Invalid(format!("cannot watch the locations: {e}")))?;
    for location in &locations {
        if let Err(err) = watcher.watch(&location.path, RecursiveMode::Recursive) {
            log::warn!("cannot watch {} ({err}); changes there show after 'spacefs rescan'", location.path.display());
        }
    }
    std::thread::Builder::new()
        .name("spacefs-watch".into())
        .spawn(move || {
            index::lower_this_thread(WATCH_NICE);
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                // Sleep, then take what came meanwhile, until a pause: one wake-up per pause, not one per event
                // (a busy folder makes thousands a second).
                while batch.len() < MAX_BATCH {
                    std::thread::sleep(QUIET);
                    let before = batch.len();
                    batch.extend(rx.try_iter().take(MAX_BATCH - before));
                    if batch.len() == before {
                        break;
                    }
                }
                let Some(owner) = library.upgrade() else { return };
                let library = (*owner).as_ref();
                match apply(library, &locations, &ignore, batch) {
                    Ok(done) if !done.is_empty() => changed(done),
                    Ok(_) => {}
                    Err(err) => {
                        // The rest of the batch was not applied: a rescan brings the library back to the disk.
                        log::warn!("could not apply changes seen on disk ({err}); rescanning every location");
                        match rescan(library, &locations) {
                            Ok(done) => changed(done),
                            Err(err) => log::warn!("rescan failed too: {err}; run 'spacefs rescan'"),
                        }
                    }
                }
            }
        })
        .map_err(|e| crate::error::Error::io_ctx("cannot start the watcher", e))?;
    Ok(Watching { _watcher: watcher })
}

/// Whether an event may tell that what was at a path is gone: a removal, a rename, or news of which nothing can be
/// told (an event of unknown kind, the kernel's queue overflowed). What a first scan read before it may be gone
/// (see `write::apply_scan`).
fn may_have_removed(event: &notify::Result<Event>) -> bool {
    match event {
        Ok(Event { kind, .. }) => matches!(
            kind,
            EventKind::Remove(_)
                | EventKind::Modify(ModifyKind::Name(_) | ModifyKind::Any)
                | EventKind::Any
                | EventKind::Other
        ),
        Err(_) => true,
    }
}

/// Whether the library's record of an entry still describes the file on disk.
fn stamp_matches(
    known: &crate::library::EntryStamp,
    meta: &std::fs::Metadata,
    mode: crate::library::IndexMode,
) -> bool {
    use std::os::unix::fs::MetadataExt;
    let kind = EntryKind::from_file_type(meta.file_type());
    known.kind == kind
        && known.size == meta.size() as i64
        && known.inode == meta.ino() as i64
        && known.modified_at == meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
        && known.changed_at == meta.ctime() * 1_000_000_000 + meta.ctime_nsec()
        && (known.has_content
            || known.size == 0
            || kind != EntryKind::File
            || mode == crate::library::IndexMode::Metadata)
}

/// Where a path is: its location, its folder's path in it, and its name.
fn place<'a>(locations: &'a [Location], path: &Path) -> Option<(&'a Location, Vec<u8>, Vec<u8>)> {
    let location = locations.iter().filter(|l| path.starts_with(&l.path)).max_by_key(|l| l.path.as_os_str().len())?;
    let rel = path.strip_prefix(&location.path).ok()?;
    let name = rel.file_name()?.as_bytes().to_vec();
    let dir = rel.parent().map(|p| p.as_os_str().as_bytes().to_vec()).unwrap_or_default();
    Some((location, dir, name))
}

/// Scans every location again, for when events were lost.
fn rescan(library: &Library, locations: &[Location]) -> Result<Vec<Changed>> {
    for location in locations {
        index::scan(library, location, ScanOptions::default())?;
    }
    Ok(vec![Changed::Everything])
}

/// Applies one batch of events to the library and says what changed.
pub fn apply(
    library: &Library,
    locations: &[Location],
    ignore: &[PathBuf],
    events: Vec<notify::Result<Event>>,
) -> Result<Vec<Changed>> {
    let events: Vec<Event> = events.into_iter().filter_map(|e| e.ok()).collect();
    log::debug!("applying {} events seen on disk", events.len());
    if events.iter().any(|e| e.need_rescan()) {
        log::info!("too many changes at once for the watcher's queue: rescanning every location");
        return rescan(library, locations);
    }
    // Changes made through the mount are queued to the writer and make these same events: once what is queued is
    // committed, the library holds them and they are found recorded already (read, not written again).
    library.writer().barrier()?;
    let paired: HashSet<usize> = events
        .iter()
        .filter(|e| e.kind == EventKind::Modify(ModifyKind::Name(RenameMode::Both)))
        .filter_map(|e| e.tracker())
        .collect();
    let mut batch = Batch { library, locations, reader: library.reader()?, upserts: Vec::new(), changed: Vec::new() };
    let mut touched_folders: std::collections::BTreeSet<PathBuf> = std::collections::BTreeSet::new();
    // By bytes, so `library.db` also covers `library.db-wal` and `library.db-shm`.
    let ignored = |p: &PathBuf| ignore.iter().any(|i| p.as_os_str().as_bytes().starts_with(i.as_os_str().as_bytes()));
    // A file written once makes create, modify and close events: read it once per batch, unless it goes away between.
    let mut read: HashSet<&Path> = HashSet::new();
    for event in &events {
        if event.paths.iter().any(ignored) {
            continue;
        }
        let is_paired = event.tracker().is_some_and(|t| paired.contains(&t));
        match event.kind {
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if event.paths.len() == 2 => {
                read.clear(); // below a renamed folder, every path changed
                batch.renamed(&event.paths[0], &event.paths[1])?;
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::From | RenameMode::To)) if is_paired => {}
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
                read.clear();
                for path in &event.paths {
                    batch.gone(path)?;
                }
            }
            EventKind::Create(_) | EventKind::Modify(_) => {
                let appeared = matches!(event.kind, EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_)));
                for path in &event.paths {
                    // Read after the whole batch arrived, so once shows the latest state.
                    if read.insert(path) {
                        batch.present(path, appeared)?;
                    }
                }
            }
            EventKind::Access(_) | EventKind::Any | EventKind::Other => {}
        }
        for path in &event.paths {
            if let Some(parent) = path.parent() {
                touched_folders.insert(parent.to_path_buf());
            }
        }
    }
    // A folder's own size and times change with its children, and inotify does not say so.
    for folder in touched_folders {
        batch.present(&folder, false)?;
    }
    batch.flush()?;
    for location in locations {
        if library.writer().relink_orphans(location.id)? > 0 {
            batch.changed.push(Changed::Everything);
        }
    }
    Ok(batch.changed)
}

/// One batch being applied: upserts are gathered and sent to the writer together, before anything that depends
/// on them (a rename, a removal, indexing a new folder's contents).
struct Batch<'a> {
    library: &'a Library,
    locations: &'a [Location],
    reader: crate::library::Reader,
    upserts: Vec<(LocationId, ScanItem)>,
    changed: Vec<Changed>,
}

impl Batch<'_> {
    fn flush(&mut self) -> Result<()> {
        let mut upserts = std::mem::take(&mut self.upserts);
        while let Some((location, _)) = upserts.first() {
            let location = *location;
            let (same, rest): (Vec<_>, Vec<_>) = upserts.into_iter().partition(|(l, _)| *l == location);
            self.library.writer().apply_scan(location, same.into_iter().map(|(_, item)| item).collect())?;
            upserts = rest;
        }
        Ok(())
    }

    /// A path that exists now: record it (and, for a folder that appeared, everything in it).
    fn present(&mut self, path: &Path, appeared: bool) -> Result<()> {
        let Some((location, dir, name)) = place(self.locations, path) else { return Ok(()) };
        let known = self.reader.child_stamp(location.id, &dir, &name)?;
        if let (Some(known), Ok(meta)) = (&known, std::fs::symlink_metadata(path))
            && stamp_matches(known, &meta, location.index_mode)
            // A folder that appeared is read whole even so: what was put in it before it was watched has no events.
            && !(appeared && known.kind == EntryKind::Dir)
        {
            return Ok(()); // recorded already (typically: a change made through the mount)
        }
        let Some(item) = index::entry_now(location, &dir, &name)? else { return Ok(()) };
        let is_dir = matches!(&item, ScanItem::Upsert(e) if e.kind == EntryKind::Dir);
        if let Some(known) = known {
            self.changed.push(Changed::Modified(known.id));
        }
        self.upserts.push((location.id, item));
        if appeared && is_dir {
            self.flush()?;
            index::scan_folder(self.library, location, &child_path(&dir, &name))?;
        }
        Ok(())
    }

    /// A path that is gone: forget it (its metadata is kept as an orphan).
    fn gone(&mut self, path: &Path) -> Result<()> {
        if std::fs::symlink_metadata(path).is_ok() {
            // Gone and back already (an editor's save): what is there now is what counts.
            return self.present(path, true);
        }
        let Some((location, dir, name)) = place(self.locations, path) else { return Ok(()) };
        self.flush()?;
        let Some(child) = self.reader.folder_child(location.id, &dir, &name)? else { return Ok(()) };
        let dir_path = (child.kind == EntryKind::Dir).then(|| child_path(&dir, &name));
        self.library.writer().apply_scan(location.id, vec![ScanItem::Remove { id: child.id, dir_path }])?;
        self.changed.push(Changed::Gone { location: location.id, dir, name });
        Ok(())
    }

    /// A rename seen whole: inside one location the entry keeps its identity and metadata; otherwise it is a
    /// removal here and an arrival there.
    fn renamed(&mut self, from: &Path, to: &Path) -> Result<()> {
        let (Some((from_loc, from_dir, from_name)), Some((to_loc, to_dir, to_name))) =
            (place(self.locations, from), place(self.locations, to))
        else {
            self.gone(from)?;
            return self.present(to, true);
        };
        self.flush()?;
        // Overtaken: the file the library has at `from` is there on disk now (renamed back since, or recorded through
        // the mount, which then went on). Later events of the same file say where it went next.
        if let Ok(meta) = std::fs::symlink_metadata(from)
            && let Some(stamp) = self.reader.child_stamp(from_loc.id, &from_dir, &from_name)?
            && stamp.inode == std::os::unix::fs::MetadataExt::ino(&meta) as i64
        {
            return Ok(());
        }
        // Recorded already (a rename through the mount; both halves of a RENAME_EXCHANGE): the entry at `to` is the
        // file on disk there. Renaming again would move the other entry of an exchange over this one.
        let at_to = self.reader.child_stamp(to_loc.id, &to_dir, &to_name)?;
        let on_disk = std::fs::symlink_metadata(to).ok();
        if let (Some(stamp), Some(meta)) = (at_to, on_disk)
            && stamp.inode == std::os::unix::fs::MetadataExt::ino(&meta) as i64
        {
            return self.present(to, false);
        }
        let entry = self.reader.folder_child(from_loc.id, &from_dir, &from_name)?;
        match entry {
            Some(child) if from_loc.id == to_loc.id => {
                match self.library.writer().rename_entry(child.id, to_dir.clone(), to_name.clone()) {
                    Ok(()) => {}
                    // Replaced since this batch read it (a change made through the mount, recorded first): the
                    // disk at both ends says what is true. Not an error, which would rescan every location.
                    Err(Error::NotFound(_)) => {
                        self.gone(from)?;
                        return self.present(to, true);
                    }
                    Err(err) => return Err(err),
                }
                self.changed.push(Changed::Gone { location: from_loc.id, dir: from_dir, name: from_name });
                self.changed.push(Changed::Gone { location: to_loc.id, dir: to_dir, name: to_name });
                // The file may also have changed on the way (an editor writing then renaming).
                self.present(to, false)
            }
            _ => {
                self.gone(from)?;
                self.present(to, true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, RemoveKind};

    #[test]
    fn removals_and_renames_count_as_changes_a_first_scan_may_not_have_seen() {
        let event = |kind| Ok(Event::new(kind));
        assert!(may_have_removed(&event(EventKind::Remove(RemoveKind::File))));
        assert!(may_have_removed(&event(EventKind::Modify(ModifyKind::Name(RenameMode::Both)))));
        assert!(may_have_removed(&event(EventKind::Other)));
        assert!(may_have_removed(&Err(notify::Error::generic("queue overflow"))));
        assert!(!may_have_removed(&event(EventKind::Create(CreateKind::File))));
        assert!(!may_have_removed(&event(EventKind::Modify(ModifyKind::Data(DataChange::Content)))));
        assert!(!may_have_removed(&event(EventKind::Access(AccessKind::Close(AccessMode::Write)))));
    }
}
