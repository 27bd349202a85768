//! One library across devices, through a folder that any file sync carries (Syncthing, a NAS share, a USB stick).
//!
//! Shared data (tags, labels, what entries carry) lives in an Automerge document (`doc`); each device writes its edits as
//! immutable change files and merges the others'. Device-owned data (locations, entries) is published as a SQLite
//! snapshot made with the online backup. No protocol of our own: files appear, are read, are merged.
//!
//! The folder:
//! ```text
//! DIR/spacefs-sync                                  marker: "spacefs sync folder", "format 1"
//! DIR/devices/<device>/device                       name, last exchange, snapshot stamp (key=value lines)
//! DIR/devices/<device>/changes/<seq>.automerge      change files, seq = 000000000001, 2, … never rewritten
//! DIR/devices/<device>/entries.db                   snapshot of the device's library
//! ```
//! Every file is written under a temporary name (`.tmp-…`, which readers skip), flushed, then linked or renamed to
//! its name, so a device killed mid-write leaves nothing half-written under a real name. A change file is linked,
//! never renamed over: a name that exists already means another library writes as this device (a copy of this
//! library), which `sync` refuses to hide.
//!
//! One exchange (`sync`), in one writer transaction: the edits made here since the last exchange (the tables
//! compared with the document as last applied) are recorded in the document; other devices' new change files are
//! merged (a damaged one is refused and reported, the others still merged); same-named tags are folded; the result
//! is written to the tables. Then the changes not yet published are written as the next change file. A crash after
//! the commit and before the file only delays it: the next exchange publishes them again (merging a change twice
//! changes nothing).

pub mod doc;

use crate::clock::now_ns;
use crate::error::{Error, Result, shown};
use crate::library::Library;
use crate::library::shared::{self, Peer, SyncState};
use automerge::ChangeHash;
use doc::SharedDoc;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;

const MARKER: &str = "spacefs-sync";
const MARKER_TEXT: &str = "spacefs sync folder\nformat 1\n";
/// Change files larger than this are refused unread (a device's whole history is far smaller).
const MAX_CHANGE_FILE: u64 = 512 << 20;

/// A sync folder.
pub struct Folder {
    root: PathBuf,
}

impl Folder {
    /// Opens a folder that is a sync folder.
    pub fn open(dir: &Path) -> Result<Folder> {
        let marker = dir.join(MARKER);
        match std::fs::read_to_string(&marker) {
            Ok(text) => check_marker(dir, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.is_dir() => {
                return Err(Error::NotFound(format!(
                    "sync folder {} is not there (is the share mounted, or the stick plugged in?)",
                    shown(dir)
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Invalid(format!(
                    "{} is not a spacefs sync folder (it has no {MARKER} file; join an empty folder to start one)",
                    shown(dir)
                )));
            }
            Err(e) => return Err(Error::io(&marker, e)),
        }
        Ok(Folder { root: dir.to_owned() })
    }

    /// Opens a sync folder, or makes an empty folder one.
    pub fn open_or_create(dir: &Path) -> Result<Folder> {
        if !dir.is_dir() {
            return Err(Error::NotFound(format!("folder {} does not exist (create it first)", shown(dir))));
        }
        if dir.join(MARKER).exists() {
            return Folder::open(dir);
        }
        let mut listing = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        if listing.next().is_some() {
            return Err(Error::Invalid(format!(
                "{} is not a spacefs sync folder and not empty (join an empty folder, or one another device joined)",
                shown(dir)
            )));
        }
        write_replacing(dir, MARKER, MARKER_TEXT.as_bytes())?;
        Ok(Folder { root: dir.to_owned() })
    }

    fn device_dir(&self, device: Uuid) -> PathBuf {
        self.root.join("devices").join(device.simple().to_string())
    }

    /// The devices that wrote in the folder.
    pub fn devices(&self) -> Result<Vec<DeviceFile>> {
        let dir = self.root.join("devices");
        let listing = match std::fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut devices = Vec::new();
        for item in listing.flatten() {
            let Some(device) = item.file_name().to_str().and_then(|n| Uuid::try_parse(n).ok()) else { continue };
            let text = std::fs::read_to_string(item.path().join("device")).unwrap_or_default();
            let field = |key: &str| {
                text.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('='))).map(str::to_owned)
            };
            let changes = self.changes(device, 0).map(|c| c.last().map_or(0, |(seq, _)| *seq)).unwrap_or(0);
            devices.push(DeviceFile {
                device,
                name: field("name").unwrap_or_else(|| device.simple().to_string()),
                last_sync_at: field("last_sync").and_then(|v| v.parse().ok()),
                changes,
            });
        }
        devices.sort_by(|a, b| (&a.name, a.device).cmp(&(&b.name, b.device)));
        Ok(devices)
    }

    /// A device's change files after `after`, in order, up to the first gap (a file the file sync has not
    /// delivered yet: what follows it waits).
    pub fn changes(&self, device: Uuid, after: i64) -> Result<Vec<(i64, PathBuf)>> {
        let dir = self.device_dir(device).join("changes");
        let listing = match std::fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut found: Vec<(i64, PathBuf)> = listing
            .flatten()
            .filter_map(|item| {
                let name = item.file_name();
                let seq = name.to_str()?.strip_suffix(".automerge")?;
                let valid = seq.len() == 12 && seq.bytes().all(|b| b.is_ascii_digit());
                valid.then_some((seq.parse().ok()?, item.path()))
            })
            .filter(|(seq, _)| *seq > after)
            .collect();
        found.sort();
        let contiguous = found.iter().enumerate().take_while(|(i, (seq, _))| *seq == after + 1 + *i as i64).count();
        found.truncate(contiguous);
        Ok(found)
    }

    fn write_change(&self, device: Uuid, seq: i64, bytes: &[u8]) -> Result<()> {
        let dir = self.device_dir(device).join("changes");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let name = format!("{seq:012}.automerge");
        let tmp = write_temporary(&dir, &name, bytes)?;
        let target = dir.join(&name);
        let linked = std::fs::hard_link(&tmp, &target);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => sync_dir(&dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::AlreadyExists(format!(
                "{} exists already: another library writes as this device (a copy of this library?); \
                 run 'spacefs devices join {}' on one of them to give it an id of its own",
                shown(&target),
                shown(&self.root)
            ))),
            Err(e) => Err(Error::io(&target, e)),
        }
    }

    fn write_device(&self, device: Uuid, name: &str, stamp: &str) -> Result<()> {
        let dir = self.device_dir(device);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let text = format!("name={name}\nlast_sync={}\nsnapshot={stamp}\nformat=1\n", now_ns());
        write_replacing(&dir, "device", text.as_bytes())
    }

    fn snapshot_stamp(&self, device: Uuid) -> Option<String> {
        let text = std::fs::read_to_string(self.device_dir(device).join("device")).ok()?;
        text.lines().find_map(|l| l.strip_prefix("snapshot=")).map(str::to_owned)
    }

    fn publish_snapshot(&self, device: Uuid, library: &Library) -> Result<()> {
        let dir = self.device_dir(device);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let tmp = dir.join(format!(".tmp-entries.db-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let made = library.reader()?.backup(&tmp, |_, _| {});
        // A copy of a library in WAL mode is in WAL mode, and even a read-only reader of such a file makes its
        // -shm and -wal files beside it: in the sync folder, in this device's folder, where a file sync carries them
        // to every device. A snapshot is never written again (a new one is renamed over it): rollback mode.
        let made = made.and_then(|()| {
            let conn = rusqlite::Connection::open(&tmp)?;
            conn.pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))?;
            Ok(())
        });
        let done = made.and_then(|()| {
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, dir.join("entries.db")).map_err(|e| Error::io(&tmp, e))?;
            sync_dir(&dir)
        });
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done
    }
}

fn check_marker(dir: &Path, text: &str) -> Result<()> {
    let format = text.lines().find_map(|l| l.strip_prefix("format ")).and_then(|f| f.trim().parse::<i64>().ok());
    match format {
        Some(1) if text.starts_with("spacefs sync folder") => Ok(()),
        Some(n) if n > 1 => Err(Error::Invalid(format!(
            "sync folder {} has format {n}, newer than this spacefs knows (1): upgrade spacefs",
            shown(dir)
        ))),
        _ => Err(Error::Invalid(format!("{} has a {MARKER} file that spacefs did not write", shown(dir)))),
    }
}

/// Writes `bytes` under a temporary name in `dir`, flushed to disk; answers its path.
fn write_temporary(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let tmp = dir.join(format!(".tmp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    Ok(tmp)
}

fn write_replacing(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = write_temporary(dir, name, bytes)?;
    std::fs::rename(&tmp, dir.join(name)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(&dir.join(name), e)
    })?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

/// A device as the folder shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFile {
    pub device: Uuid,
    pub name: String,
    pub last_sync_at: Option<i64>,
    /// Its change files, 1..=changes, as far as they have arrived without a gap.
    pub changes: i64,
}

/// What `join` did.
#[derive(Debug)]
pub struct Joined {
    pub device: Uuid,
    pub name: String,
    pub synced: Synced,
}

/// Ties the library to the sync folder `dir` (an empty folder becomes one) under a new device id, and makes a first
/// exchange. Joining again (another folder, or the same one after this library was copied) gives a new id and keeps
/// the shared data this library has.
pub fn join(library: &Library, dir: &Path, name: Option<&str>) -> Result<Joined> {
    let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    Folder::open_or_create(&dir)?;
    let name = match name {
        Some(name) => name.trim().to_owned(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned(),
    };
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(Error::InvalidName("a device name must be 1 to 255 bytes without control characters".into()));
    }
    let device = Uuid::new_v4();
    let previous = library.reader()?.sync_state()?;
    let state = SyncState {
        folder: dir.clone(),
        device,
        device_name: name.clone(),
        doc: match previous {
            Some(p) => p.doc,
            None => SharedDoc::new(device).save(),
        },
        published_heads: Vec::new(),
        next_seq: 1,
        joined_at: now_ns(),
        last_sync_at: None,
    };
    library.writer().exchange(move |conn| shared::set_sync_state(conn, &state))?;
    let synced = sync(library)?;
    Ok(Joined { device, name, synced })
}

/// What one exchange did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Synced {
    /// Keys of the shared document this device changed (its edits since the last exchange).
    pub published: usize,
    /// Change files of other devices merged.
    pub merged: usize,
    /// Files refused, with why.
    pub refused: Vec<String>,
    /// Malformed keys or values skipped in the merged document.
    pub skipped: usize,
    /// Tags and entries of this library that changed.
    pub tags_written: u64,
    pub labels_written: u64,
    pub entries_written: u64,
}

fn not_joined() -> Error {
    Error::NotFound("this library has not joined a sync folder (run 'spacefs devices join DIR' first)".into())
}

/// One exchange with the sync folder (see the module's doc).
pub fn sync(library: &Library) -> Result<Synced> {
    let state = library.reader()?.sync_state()?.ok_or_else(not_joined)?;
    let folder = Folder::open(&state.folder)?;
    let me = state.device;
    // Read the others' new change files before taking the writer.
    let known = library.reader()?.sync_peers()?;
    let mut arrived: Vec<(Peer, Vec<Arrived>)> = Vec::new();
    for device in folder.devices()? {
        if device.device == me {
            continue;
        }
        let peer = known.iter().find(|p| p.device == device.device).cloned().unwrap_or(Peer {
            device: device.device,
            name: device.name.clone(),
            loaded_seq: 0,
            last_seen_at: None,
            refused: None,
        });
        let peer = Peer { name: device.name.clone(), last_seen_at: device.last_sync_at.or(peer.last_seen_at), ..peer };
        let files = folder
            .changes(device.device, peer.loaded_seq)?
            .into_iter()
            .map(|(seq, path)| (seq, read_change(&path)))
            .collect();
        arrived.push((peer, files));
    }
    if let Some((seq, _)) = folder.changes(me, state.next_seq - 1)?.first() {
        return Err(Error::AlreadyExists(format!(
            "change file {seq} of this device is in {} but this library did not write it: another library writes as \
             this device (a copy of this library?); run 'spacefs devices join {}' on one of them",
            shown(&state.folder),
            shown(&state.folder)
        )));
    }

    let (synced, changes, heads) = library
        .writer()
        .exchange(move |conn| {
            let mut synced = Synced::default();
            let state = shared::sync_state(conn)?.ok_or_else(not_joined)?;
            let mut doc = SharedDoc::load(&state.doc, state.device).map_err(|r| Error::Library(r.0))?;
            // 1. This device's edits since the last exchange.
            let (before, _) = doc.read();
            shared::name_new_tags(conn, &before.tags)?;
            shared::name_new_labels(conn, &before.labels)?;
            let here = shared::read(conn)?;
            let local = shared::local_entries(conn, &before.entries())?;
            synced.published = doc.record(&before.restricted(&local), &here);
            synced.published += record_foreign_edits(conn, &mut doc, &before)?;
            // 2. The others'.
            let mut progress = Vec::new();
            for (peer, files) in &arrived {
                let mut peer = peer.clone();
                for (seq, bytes) in files {
                    let merged = match bytes {
                        Ok(bytes) => doc.merge(bytes).map_err(|r| r.0),
                        Err(why) => Err(why.clone()),
                    };
                    match merged {
                        Ok(()) => {
                            synced.merged += 1;
                            peer.refused = None;
                            peer.loaded_seq = *seq;
                        }
                        Err(why) => {
                            // Read again next time (a file sync may still repair it); the device's later changes
                            // depend on it, so they wait. Other devices' files are not affected.
                            let why = format!("change file {seq} of device '{}': {why}", peer.name);
                            synced.refused.push(why.clone());
                            peer.refused = Some(why);
                            break;
                        }
                    }
                }
                progress.push(peer);
            }
            // Changes that wait for another device's file not delivered yet are not kept by a save: read this round's
            // files again next time (merging a change twice changes nothing).
            let complete = !doc.waits_for_changes();
            for (peer, (before, _)) in progress.iter_mut().zip(&arrived) {
                if !complete {
                    peer.loaded_seq = before.loaded_seq;
                }
                shared::set_peer(conn, peer)?;
            }
            doc.fold_same_names();
            // 3. The result, into the tables.
            let (after, skipped) = doc.read();
            synced.skipped = skipped;
            let mut candidates = after.entries();
            candidates.extend(here.entries());
            let local: HashSet<Uuid> = shared::local_entries(conn, &candidates)?;
            let written = shared::write(conn, &after.restricted(&local))?;
            refresh_foreign_members(conn, &state.folder, &after, &local)?;
            synced.tags_written = written.tags;
            synced.labels_written = written.labels;
            synced.entries_written = written.entries;
            let published: Vec<ChangeHash> = heads_of(&state.published_heads);
            let changes = doc.own_changes_after(&published);
            let heads = doc.heads();
            shared::set_sync_state(conn, &SyncState { doc: doc.save(), last_sync_at: Some(now_ns()), ..state })?;
            Ok((synced, changes, heads))
        })
        .inspect_err(|_| {
            // Rolled back: what `refresh_foreign_members` remembers writing may not be in the table.
            FOREIGN_STAMPS.lock().unwrap_or_else(|p| p.into_inner()).clear();
        })?;

    // What cannot be written (a full disk, a share gone read-only) stays in the library and goes out next time.
    let kept = |err: Error| match err {
        Error::Io { context, source } => Error::io_ctx(
            format!(
                "cannot write to the sync folder ({context}); this device's changes are kept in the library and go \
                 out at the next sync"
            ),
            source,
        ),
        other => other,
    };
    if !changes.is_empty() {
        folder.write_change(me, state.next_seq, &changes).map_err(kept)?;
        let heads: Vec<u8> = heads.iter().flat_map(|h| h.0).collect();
        library.writer().exchange(move |conn| {
            let mut state = shared::sync_state(conn)?.ok_or_else(not_joined)?;
            state.published_heads = heads.clone();
            state.next_seq += 1;
            shared::set_sync_state(conn, &state)
        })?;
    }
    let stamp = library.reader()?.entries_stamp()?;
    if folder.snapshot_stamp(me).as_deref() != Some(stamp.as_str()) {
        folder.publish_snapshot(me, library).map_err(kept)?;
    }
    folder.write_device(me, &state.device_name, &stamp).map_err(kept)?;
    Ok(synced)
}

/// Records in the document the other devices' files put into or taken out of tags, labels and favorites through
/// this device's mount since the last exchange (`before`: the document as it was then). Answers how many keys
/// changed.
fn record_foreign_edits(conn: &rusqlite::Connection, doc: &mut SharedDoc, before: &shared::Shared) -> Result<usize> {
    use shared::ForeignFolder;
    let edits = shared::take_foreign_edits(conn)?;
    if edits.is_empty() {
        return Ok(0);
    }
    let was = before.restricted(&edits.iter().map(|(entry, _, _)| *entry).collect());
    let mut now = was.clone();
    for (entry, folder, joined) in edits {
        match (folder, joined) {
            (ForeignFolder::Tag(tag), true) => now.tagged.insert((entry, tag)),
            (ForeignFolder::Tag(tag), false) => now.tagged.remove(&(entry, tag)),
            (ForeignFolder::Label(label), true) => now.labeled.insert((entry, label)),
            (ForeignFolder::Label(label), false) => now.labeled.remove(&(entry, label)),
            (ForeignFolder::Favorites, true) => now.favorite.insert(entry),
            (ForeignFolder::Favorites, false) => now.favorite.remove(&entry),
        };
    }
    Ok(doc.record(&was, &now))
}

/// What `foreign_members` last wrote, by library: its stamp (`foreign_stamp`) and the rows it left. An exchange
/// that changes neither other devices' memberships nor their snapshots leaves the table as it is: resolving every
/// membership in the snapshots and rewriting the table held a daemon's writer for a second at 100,000 memberships,
/// at each exchange. Kept in the process only: a new process, or rows gone meanwhile (a tag deleted), writes again.
static FOREIGN_STAMPS: std::sync::LazyLock<std::sync::Mutex<HashMap<String, (u64, i64)>>> =
    std::sync::LazyLock::new(Default::default);

/// A hash of what other devices' files in the flat views are made from: their memberships and hidden flags in the
/// shared document, and each peer's snapshot file (path, size, time).
fn foreign_stamp(
    conn: &rusqlite::Connection,
    folder: &Path,
    shared: &shared::Shared,
    local: &HashSet<Uuid>,
) -> Result<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for (row, device, _) in shared::peer_devices(conn)? {
        let path = folder.join("devices").join(device.simple().to_string()).join("entries.db");
        let meta = std::fs::metadata(&path).ok();
        (row, path, meta.as_ref().map(|m| (m.len(), m.modified().ok()))).hash(&mut hasher);
    }
    let foreign = |e: &Uuid| !local.contains(e);
    shared.tagged.iter().filter(|(e, _)| foreign(e)).for_each(|m| (0u8, m).hash(&mut hasher));
    shared.labeled.iter().filter(|(e, _)| foreign(e)).for_each(|m| (1u8, m).hash(&mut hasher));
    shared.favorite.iter().filter(|e| foreign(e)).for_each(|e| (2u8, e).hash(&mut hasher));
    shared.hidden.iter().filter(|e| foreign(e)).for_each(|e| (3u8, e).hash(&mut hasher));
    Ok(hasher.finish())
}

fn foreign_count(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.prepare_cached("SELECT count(*) FROM foreign_members")?.query_row([], |r| r.get(0))?)
}

/// Writes other devices' files in the flat views anew, unless they are made from what they were last made from.
fn refresh_foreign_members(
    conn: &rusqlite::Connection,
    folder: &Path,
    shared: &shared::Shared,
    local: &HashSet<Uuid>,
) -> Result<()> {
    let library = conn.path().unwrap_or("").to_owned();
    let stamp = foreign_stamp(conn, folder, shared, local)?;
    let last = FOREIGN_STAMPS.lock().unwrap_or_else(|p| p.into_inner()).get(&library).copied();
    if let Some((last, rows)) = last
        && last == stamp
        && rows == foreign_count(conn)?
    {
        return Ok(());
    }
    shared::set_foreign_members(conn, &foreign_members(conn, folder, shared, local)?)?;
    let rows = foreign_count(conn)?;
    FOREIGN_STAMPS.lock().unwrap_or_else(|p| p.into_inner()).insert(library, (stamp, rows));
    Ok(())
}

/// Other devices' files in tags, labels and favorites, found in their snapshots.
fn foreign_members(
    conn: &rusqlite::Connection,
    folder: &Path,
    shared: &shared::Shared,
    local: &HashSet<Uuid>,
) -> Result<Vec<shared::ForeignRow>> {
    use shared::ForeignFolder;
    let mut snapshots = Vec::new();
    for (row, device, _) in shared::peer_devices(conn)? {
        let path = folder.join("devices").join(device.simple().to_string()).join("entries.db");
        if path.is_file() {
            match crate::library::snapshot::Snapshot::open(&path) {
                Ok(snapshot) => snapshots.push((row, snapshot)),
                Err(err) => log::warn!("{err}"),
            }
        }
    }
    let memberships = (shared.tagged.iter().map(|(e, t)| (*e, ForeignFolder::Tag(*t))))
        .chain(shared.labeled.iter().map(|(e, l)| (*e, ForeignFolder::Label(*l))))
        .chain(shared.favorite.iter().map(|e| (*e, ForeignFolder::Favorites)))
        .filter(|(e, _)| !local.contains(e));
    // Each entry is looked for once, in the snapshots in turn: (device row, entry id, name, a folder), or not a
    // file or folder anywhere.
    type Found = Option<(i64, i64, Vec<u8>, bool)>;
    let mut found: HashMap<Uuid, Found> = HashMap::new();
    let mut rows = Vec::new();
    for (entry, folder) in memberships {
        if let std::collections::hash_map::Entry::Vacant(slot) = found.entry(entry) {
            let mut file = None;
            for (row, snapshot) in &snapshots {
                if let Some(e) = snapshot.entry_by_uuid(&entry)? {
                    use crate::library::EntryKind;
                    let is_dir = e.kind == EntryKind::Dir;
                    file = (e.kind == EntryKind::File || is_dir).then_some((*row, e.id, e.name, is_dir));
                    break;
                }
            }
            slot.insert(file);
        }
        if let Some(Some((device, id, name, is_dir))) = found.get(&entry) {
            let hidden = shared.hidden.contains(&entry);
            let (device, entry, name, is_dir) = (*device, *id, name.clone(), *is_dir);
            rows.push(shared::ForeignRow { folder, device, entry, name, hidden, is_dir });
        }
    }
    Ok(rows)
}

/// A change file as read: its number, and its bytes or why they could not be read.
type Arrived = (i64, std::result::Result<Vec<u8>, String>);

fn read_change(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_CHANGE_FILE {
        return Err(format!("{size} bytes, more than a change file may be"));
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

fn heads_of(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes.chunks_exact(32).filter_map(|c| ChangeHash::try_from(c).ok()).collect()
}

/// A device, as `spacefs devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    pub device: Uuid,
    pub name: String,
    pub this_device: bool,
    pub last_sync_at: Option<i64>,
    /// Change files in the folder not merged here (for this device: edits here not yet published, in keys).
    pub pending: i64,
    pub refused: Option<String>,
}

/// The devices of the sync folder, this one first.
pub fn devices(library: &Library) -> Result<(PathBuf, Vec<DeviceStatus>)> {
    let reader = library.reader()?;
    let state = reader.sync_state()?.ok_or_else(not_joined)?;
    let folder = Folder::open(&state.folder)?;
    let peers = reader.sync_peers()?;
    // Edits here not yet in the document: compared read-only, as the next exchange will.
    let mut doc = SharedDoc::load(&state.doc, state.device).map_err(|r| Error::Library(r.0))?;
    let (before, _) = doc.read();
    let here = shared::read(reader.conn())?;
    let local = shared::local_entries(reader.conn(), &before.entries())?;
    // Other devices' files put into or out of folders through the mount, waiting in `foreign_edits`.
    let foreign_edits: i64 = reader.conn().query_row("SELECT count(*) FROM foreign_edits", [], |r| r.get(0))?;
    let unrecorded = doc.record(&before.restricted(&local), &here) + foreign_edits as usize;
    let unpublished = !doc.own_changes_after(&heads_of(&state.published_heads)).is_empty();
    let mut list = vec![DeviceStatus {
        device: state.device,
        name: state.device_name.clone(),
        this_device: true,
        last_sync_at: state.last_sync_at,
        pending: unrecorded as i64 + i64::from(unpublished && unrecorded == 0),
        refused: None,
    }];
    for device in folder.devices()?.into_iter().filter(|d| d.device != state.device) {
        let peer = peers.iter().find(|p| p.device == device.device);
        list.push(DeviceStatus {
            device: device.device,
            name: device.name,
            this_device: false,
            last_sync_at: device.last_sync_at,
            pending: device.changes - peer.map_or(0, |p| p.loaded_seq),
            refused: peer.and_then(|p| p.refused.clone()),
        });
    }
    Ok((state.folder, list))
}

/// The shared data as this library last merged it: every tag, and what every device's entries carry.
pub fn shared_state(library: &Library) -> Result<shared::Shared> {
    let state = library.reader()?.sync_state()?.ok_or_else(not_joined)?;
    let doc = SharedDoc::load(&state.doc, state.device).map_err(|r| Error::Library(r.0))?;
    Ok(doc.read().0)
}

/// After an exchange, a mounted daemon waits this many times what it cost before the next one for edits or new
/// files: under continuous tagging through the mount, exchanges of a large library (a second at 100,000
/// memberships, each one reading the whole document) take at most a tenth of the writer's time.
const REST: u32 = 9;

/// How often a mounted daemon looks for edits made here (committed by any process) to publish.
const LOCAL_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a daemon lets a burst of arriving files settle before an exchange.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);
/// An exchange at least this often, in case a file system does not report what its file sync writes (a network
/// share often does not).
const PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

/// Keeps a joined library exchanging with its sync folder until `stop`: whenever a file arrives in the folder, when
/// the library commits an edit, and every minute. `library` answers `None` once the library is closed. Failures are
/// logged and retried at the next occasion; a library that has not joined is checked again every minute.
pub fn follow(
    library: impl Fn() -> Option<std::sync::Arc<dyn AsLibrary>> + Send + 'static,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    use std::sync::atomic::Ordering;
    std::thread::Builder::new().name("spacefs-sync".into()).spawn(move || {
        let mut watching: Option<(PathBuf, notify::RecommendedWatcher)> = None;
        let (tx, rx) = crossbeam_channel::unbounded::<()>();
        // One connection throughout: its data_version changes when any other connection commits.
        let mut reader = None;
        let mut last_version: Option<i64> = None;
        let mut last_sync: Option<std::time::Instant> = None;
        let mut arrived = false;
        // New files or edits here not exchanged yet, and what the last exchange cost.
        let mut wanted = false;
        let mut cost = std::time::Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            let Some(holder) = library() else { return };
            let lib = holder.library();
            if reader.is_none() {
                reader = lib.reader().ok();
            }
            let Some(r) = &reader else { return };
            let joined = r.sync_state().ok().flatten();
            let folder = joined.as_ref().map(|s| s.folder.clone());
            if let Some(state) = &joined
                && watching.as_ref().is_none_or(|(dir, _)| *dir != state.folder)
            {
                watching = watch(&state.folder, state.device, tx.clone());
            }
            let version = r.data_version().ok();
            let edited = version != last_version;
            let due = last_sync.is_none_or(|at| at.elapsed() >= PERIOD);
            wanted |= arrived || edited;
            let rested = last_sync.is_none_or(|at| at.elapsed() >= cost * REST);
            if folder.is_some() && (wanted || due) && rested {
                if arrived {
                    std::thread::sleep(SETTLE);
                }
                while rx.try_recv().is_ok() {}
                log::debug!("exchange (new files: {arrived}, edited here: {edited}, due: {due})");
                holder.exchanging(true);
                let started = std::time::Instant::now();
                let result = sync(lib);
                cost = started.elapsed();
                wanted = false;
                // The mount sees the exchange's commits as made elsewhere until it has surely read them (it looks
                // for commits every 20 ms).
                std::thread::sleep(std::time::Duration::from_millis(100));
                holder.exchanging(false);
                match result {
                    Ok(synced) if synced.published + synced.merged > 0 => log::info!("synced: {synced:?}"),
                    Ok(_) => {}
                    Err(err) => log::warn!("sync with the sync folder failed: {err} (retried later)"),
                }
                last_sync = Some(std::time::Instant::now());
                last_version = r.data_version().ok();
            } else {
                last_version = version;
            }
            drop(holder);
            arrived = rx.recv_timeout(LOCAL_POLL).is_ok();
        }
    })
}

/// What `follow` needs of whoever holds the library (the mount's core).
pub trait AsLibrary: Send + Sync {
    fn library(&self) -> &Library;
    /// An exchange starts (`true`) or has ended: what it commits changes what the holder shows.
    fn exchanging(&self, _on: bool) {}
}

/// Watches the sync folder for other devices' files. This device's own folder is not heeded: each exchange
/// writes there (its device file at least), and heeding that made a mounted daemon exchange again and again.
fn watch(folder: &Path, me: Uuid, tx: crossbeam_channel::Sender<()>) -> Option<(PathBuf, notify::RecommendedWatcher)> {
    use notify::Watcher as _;
    let own = Folder { root: folder.to_owned() }.device_dir(me);
    // Only the files devices publish (not a temporary one, not what a reader may leave beside a snapshot).
    let theirs = move |p: &PathBuf| {
        let published = |n: &std::ffi::OsStr| {
            let n = n.as_encoded_bytes();
            !n.starts_with(b".tmp-") && (n == b"device" || n == b"entries.db" || n.ends_with(b".automerge"))
        };
        !p.starts_with(&own) && p.file_name().is_some_and(published)
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event.kind.is_create() | event.kind.is_modify()
            && event.paths.iter().any(&theirs)
        {
            let _ = tx.send(());
        }
    })
    .map_err(|e| log::warn!("cannot watch sync folder {}: {e}; exchanging every minute", shown(folder)))
    .ok()?;
    watcher
        .watch(folder, notify::RecursiveMode::Recursive)
        .map_err(|e| log::warn!("cannot watch sync folder {}: {e}; exchanging every minute", shown(folder)))
        .ok()?;
    Some((folder.to_owned(), watcher))
}
