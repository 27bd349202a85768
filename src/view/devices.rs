//! `devices/`: the other devices of the sync folder (`crate::sync`), each as the folders and files of its last
//! published snapshot: `devices/<device>/<location>/…`. Listed and stated from the snapshot, so a device that is
//! off stays listed; a file reads from the same path on this machine when it is there (a share mounted on both
//! devices, the same size), else with EHOSTDOWN. Read-only: every change is EROFS.
//!
//! What a snapshot says is untrusted (`library::snapshot` skips odd names and paths, symlinks and special files),
//! and a file is read here only at a path inside the location's folder, with no symlink on the way out of it.

use super::{Ctx, Foreign, Listed, Node, NodeKind, PAGE, View, ViewId};
use crate::error::Result;
use crate::library::EntryKind;
use crate::library::snapshot::{ForeignEntry, Snapshot, is_component};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub const ID: ViewId = ViewId(7);

pub struct Devices;

/// What a folder or file of the view stands for: (device row, level, id), packed in an i64.
const ROW_SHIFT: u32 = 42;
const LEVEL_SHIFT: u32 = 40;
const ID_MASK: i64 = (1 << LEVEL_SHIFT) - 1;
const MAX_ROW: i64 = (1 << (56 - ROW_SHIFT)) - 1;
const DEVICE: i64 = 0;
const LOCATION: i64 = 1;
const DIR: i64 = 2;
const FILE: i64 = 3;

fn pack(row: i64, level: i64, id: i64) -> i64 {
    (row << ROW_SHIFT) | (level << LEVEL_SHIFT) | (id & ID_MASK)
}

fn unpack(v: i64) -> (i64, i64, i64) {
    (v >> ROW_SHIFT, (v >> LEVEL_SHIFT) & 3, v & ID_MASK)
}

/// Open snapshots by library and device row, kept while their file is the same (a new one is renamed over it).
type Opened = HashMap<(String, i64), OpenSnapshot>;
static SNAPSHOTS: std::sync::LazyLock<Mutex<Opened>> = std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));

struct OpenSnapshot {
    path: PathBuf,
    modified: std::time::SystemTime,
    snap: Arc<Mutex<Snapshot>>,
    /// When the sync folder, the device and the file were last asked about, and `GENERATION` then.
    checked: (std::time::Instant, u64),
}

/// Moves whenever the library may name other snapshots (an exchange, another process's commit): a snapshot found
/// before is asked about again.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long a snapshot found is used without asking again where it is and whether it was replaced, while the
/// library did not change: a listing states every file it shows, and asking per file (two queries and a stat)
/// cost more than reading the file's own row. An exchange moves `GENERATION` at once.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Says that the library may name other snapshots now (see `GENERATION`).
pub fn snapshots_may_have_changed() {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
}

fn snapshot(cx: &Ctx<'_>, row: i64) -> Result<Option<Arc<Mutex<Snapshot>>>> {
    let key = (cx.reader.library_path().to_owned(), row);
    let generation = GENERATION.load(std::sync::atomic::Ordering::Acquire);
    if let Some(open) = SNAPSHOTS.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        && open.checked.1 == generation
        && open.checked.0.elapsed() < RECHECK
    {
        return Ok(Some(Arc::clone(&open.snap)));
    }
    let checked = (std::time::Instant::now(), generation);
    let Some(folder) = cx.reader.sync_folder()? else { return Ok(None) };
    let Some((_, device, _)) = cx.reader.peer_devices()?.into_iter().find(|(r, _, _)| *r == row) else {
        return Ok(None);
    };
    let path = folder.join("devices").join(device.simple().to_string()).join("entries.db");
    let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) else { return Ok(None) };
    let mut opened = SNAPSHOTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(open) = opened.get_mut(&key)
        && open.path == path
        && open.modified == modified
    {
        open.checked = checked;
        return Ok(Some(Arc::clone(&open.snap)));
    }
    let snap = Arc::new(Mutex::new(Snapshot::open(&path)?));
    opened.insert(key, OpenSnapshot { path, modified, snap: Arc::clone(&snap), checked });
    Ok(Some(snap))
}

/// The devices shown: (row, folder name). A name that is not a folder name is skipped; a name two devices share
/// gets the device's row after it (`name~row`) on the second.
fn devices(cx: &Ctx<'_>) -> Result<Vec<(i64, Vec<u8>)>> {
    let mut seen = std::collections::HashSet::new();
    let mut shown = Vec::new();
    for (row, _, name) in cx.reader.peer_devices()? {
        if row > MAX_ROW || !is_component(name.as_bytes()) {
            continue;
        }
        let name = if seen.insert(name.clone()) { name.into_bytes() } else { format!("{name}~{row}").into_bytes() };
        shown.push((row, name));
    }
    Ok(shown)
}

/// The folder a node stands for in a snapshot: (location, its own path).
fn folder_of(snap: &Snapshot, level: i64, id: i64) -> Result<Option<(i64, Vec<u8>)>> {
    Ok(match level {
        LOCATION => snap.location(id)?.map(|l| (l.id, Vec::new())),
        DIR => snap.entry(id)?.filter(|e| e.kind == EntryKind::Dir).map(|e| (e.location, e.path())),
        _ => None,
    })
}

/// Another device's file as it shows everywhere in the mount (here and in `tags/`); `None` when its numbers do
/// not fit an inode.
pub fn file_node(row: i64, entry: i64) -> Option<Node> {
    (0..=MAX_ROW).contains(&row).then_some(())?;
    (0..=ID_MASK).contains(&entry).then_some(Node::Foreign(ID, pack(row, FILE, entry)))
}

/// Another device's folder as a flat view (`tags/`, `labels/`, `favorites/`) shows it: a symlink to the folder
/// under `devices/`. Not the folder itself: one folder with two parents confuses the kernel's cache of names, and
/// its contents are that device's, browsed there.
pub fn folder_link_node(row: i64, entry: i64) -> Option<Node> {
    (0..=MAX_ROW).contains(&row).then_some(())?;
    (0..=ID_MASK).contains(&entry).then_some(Node::Foreign(ID, pack(row, DIR, entry)))
}

fn node_of(row: i64, e: &ForeignEntry) -> (Node, NodeKind) {
    if e.kind == EntryKind::Dir {
        (Node::Folder(ID, pack(row, DIR, e.id)), NodeKind::Dir)
    } else {
        (Node::Foreign(ID, pack(row, FILE, e.id)), NodeKind::File)
    }
}

impl View for Devices {
    fn id(&self) -> ViewId {
        ID
    }

    fn name(&self) -> &'static str {
        "devices"
    }

    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        let (row, level, id) = match dir {
            Node::Top(_) => {
                let found = devices(cx)?.into_iter().find(|(_, n)| n == name);
                return Ok(found.map(|(row, _)| (Node::Folder(ID, pack(row, DEVICE, 0)), NodeKind::Dir)));
            }
            Node::Folder(_, v) => unpack(v),
            _ => return Ok(None),
        };
        let Some(snap) = snapshot(cx, row)? else { return Ok(None) };
        let snap = snap.lock().unwrap_or_else(|p| p.into_inner());
        if level == DEVICE {
            let found = snap.locations()?.into_iter().find(|l| l.name.as_bytes() == name);
            return Ok(found.map(|l| (Node::Folder(ID, pack(row, LOCATION, l.id)), NodeKind::Dir)));
        }
        let Some((location, path)) = folder_of(&snap, level, id)? else { return Ok(None) };
        Ok(snap.child(location, &path, name)?.map(|e| node_of(row, &e)))
    }

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        let (row, level, id) = match dir {
            Node::Top(_) => {
                let all = devices(cx)?.into_iter().filter(|(row, _)| *row as u64 > cookie);
                return Ok(all
                    .map(|(row, name)| Listed::folder(name, Node::Folder(ID, pack(row, DEVICE, 0)), row as u64))
                    .collect());
            }
            Node::Folder(_, v) => unpack(v),
            _ => return Ok(Vec::new()),
        };
        let Some(snap) = snapshot(cx, row)? else { return Ok(Vec::new()) };
        let snap = snap.lock().unwrap_or_else(|p| p.into_inner());
        if level == DEVICE {
            let all = snap.locations()?.into_iter().filter(|l| l.id as u64 > cookie);
            return Ok(all
                .map(|l| Listed::folder(l.name.into_bytes(), Node::Folder(ID, pack(row, LOCATION, l.id)), l.id as u64))
                .collect());
        }
        let Some((location, path)) = folder_of(&snap, level, id)? else { return Ok(Vec::new()) };
        let children = snap.children(location, &path, cookie as i64, PAGE)?;
        Ok(children
            .iter()
            .map(|e| {
                let (node, kind) = node_of(row, e);
                Listed { name: e.name.clone(), node, kind, cookie: e.id as u64, place: None }
            })
            .collect())
    }

    fn read_only(&self) -> bool {
        true
    }


    fn foreign(&self, cx: &Ctx<'_>, node: Node) -> Result<Foreign> {
        let gone = || crate::error::Error::NotFound(String::new());
        let Node::Foreign(_, v) = node else { return Err(gone()) };
        let (row, level, id) = unpack(v);
        let snap = snapshot(cx, row)?.ok_or_else(gone)?;
        let snap = snap.lock().unwrap_or_else(|p| p.into_inner());
        let kind = if level == DIR { EntryKind::Dir } else { EntryKind::File };
        let entry = snap.entry(id)?.filter(|e| e.kind == kind).ok_or_else(gone)?;
        let link = if level == DIR {
            let device = devices(cx)?.into_iter().find(|(r, _)| *r == row).ok_or_else(gone)?.1;
            let location = snap.location(entry.location)?.ok_or_else(gone)?;
            let mut target = match cx.mountpoint {
                Some(mnt) => mnt.as_os_str().as_encoded_bytes().to_vec(),
                None => Vec::new(),
            };
            for part in [&b"devices"[..], &device, location.name.as_bytes(), &entry.path()] {
                target.push(b'/');
                target.extend_from_slice(part);
            }
            Some(target)
        } else {
            None
        };
        let (size, mode) = (entry.size.max(0) as u64, entry.mode);
        Ok(Foreign { size, mode, mtime_ns: entry.modified_at, ctime_ns: entry.changed_at, link })
    }

    fn foreign_path(&self, cx: &Ctx<'_>, node: Node) -> Result<Option<PathBuf>> {
        let Node::Foreign(_, v) = node else { return Ok(None) };
        let (row, level, id) = unpack(v);
        if level != FILE {
            return Ok(None);
        }
        let Some(snap) = snapshot(cx, row)? else { return Ok(None) };
        let snap = snap.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = snap.entry(id)?.filter(|e| e.kind == EntryKind::File) else { return Ok(None) };
        let Some(location) = snap.location(entry.location)? else { return Ok(None) };
        Ok(readable_here(&location.path, &entry))
    }
}

/// Another device's file (`file_node`) as a flat view's membership changes need it; `None` for any other node.
pub fn foreign_file(cx: &Ctx<'_>, node: Node) -> Result<Option<crate::library::write::ForeignFile>> {
    let Node::Foreign(ID, v) = node else { return Ok(None) };
    let (row, level, id) = unpack(v);
    let Some(snap) = snapshot(cx, row)? else { return Ok(None) };
    let snap = snap.lock().unwrap_or_else(|p| p.into_inner());
    let (Some(entry), Some(uuid)) = (snap.entry(id)?, snap.uuid_of(id)?) else { return Ok(None) };
    let is_dir = level == DIR;
    Ok(Some(crate::library::write::ForeignFile { device: row, entry: id, uuid, name: entry.name, is_dir }))
}

/// The file at the same path on this machine, if it is there, is a regular file of the same size, and its real
/// path stays inside the location's folder (no symlink leads out of it).
fn readable_here(root: &std::path::Path, entry: &ForeignEntry) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let path = root.join(std::ffi::OsStr::from_bytes(&entry.path()));
    let real_root = root.canonicalize().ok()?;
    let real = path.canonicalize().ok()?;
    let meta = std::fs::symlink_metadata(&real).ok()?;
    (real.starts_with(&real_root) && meta.is_file() && meta.len() == entry.size.max(0) as u64).then_some(real)
}
