//! The filesystem's core: every FUSE operation as a plain `Result` over inode numbers, so it can be tested without
//! FUSE (`tests/core`). `crate::fuse` only translates to and from the kernel. This file is the facade: it resolves
//! inodes to nodes and dispatches each operation to the node's view (`crate::view`) or, below `locations/`, to the
//! disk (`real`). The rest of the core is one concern per file: `attr` (what stat shows), `xattrs`, `handles` (open
//! files), `listing` (readdir and reading ahead), `pending` (records queued to the writer), `nodes` (what is kept
//! per inode, and forget), `invalidate` (what the kernel must drop after a change).
//!
//! Invariants:
//! * Attributes of real files come from `lstat` of the real file at the time of the call, under our inode number;
//!   virtual folders are owned by the mounting user, dated at mount time.
//! * Every dentry handed out below a view folder is remembered until the library changes, so it can be
//!   invalidated in the kernel (`library_changed`); listings are never cached by the kernel.
//! * The library may lag the disk by what `pending` holds, never more: a read that finds something missing waits
//!   for what is queued and looks again (`settled`).
//! * Locks: see `SpaceFs`.

mod attr;
mod handles;
pub mod invalidate;
mod listing;
mod nodes;
mod pending;
mod real;
mod xattrs;

use crate::view::is_view_folder;
pub use attr::Attr;
use invalidate::DentryRecord;
pub use real::{AttrChange, Caller, FsStats, SetIdClearer, SetTime, clear_set_id_of_open};

use listing::DirCursor;

use crate::cache::EntryCache;
use crate::error::{Error, Result};
use crate::inode::Inodes;
use crate::library::write::ScanItem;
use crate::library::{EntryId, EntryInfo, EntryKind, Library, Location, LocationId, Reader};
use crate::longpath;
use crate::view::{self, Node, NodeKind, Place};
use lru::LruCache;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Debug, Clone, Copy)]
pub struct FsOptions {
    pub read_only: bool,
    pub show_hidden: bool,
    pub cache_entries: usize,
}

impl Default for FsOptions {
    fn default() -> FsOptions {
        FsOptions { read_only: false, show_hidden: false, cache_entries: 65_536 }
    }
}

/// Where `readdir` writes; `add` returns true when the buffer is full (the entry was not taken).
pub trait DirSink {
    fn add(&mut self, ino: u64, offset: u64, kind: NodeKind, name: &OsStr, attr: Option<&Attr>) -> bool;
}

/// Offsets 1 and 2 are "." and ".."; a child's offset is its cookie plus this.
const FIRST_CHILD_OFFSET: u64 = 2;

/// The core. Its locks, and how they nest: each is held briefly, to take or give back something, never across a
/// wait for the writer or the disk, with these exceptions and this order (a lock is only taken while holding locks
/// that come before it here):
/// 1. a listing's cursor (`DirCursor`, from `cursors` or `warm`, which are themselves taken alone): held while the
///    listing reads the library and states children, so one folder handle is listed by one thread at a time;
/// 2. `lookups` (see `nodes`): held while a node is kept or forgotten, so counts and kept nodes agree;
/// 3. the `Inodes` tables (`view_dirs`, then `link_aliases`, never both) and the query table;
/// 4. leaves, taken while holding any of the above and never holding another: `readers`, the entry cache,
///    `roots`, `locations`, `next_folder`, `view_dentries`, `touched_inodes`, `listed_at`, `version_reader`, and
///    `handles` (held while the kernel registers a passthrough backing, which calls nothing back).
///
/// `pending` holds its own lock while it hands a record to the writer's queue (the order of records is what it
/// guards); the writer thread takes none of these locks, so that wait always ends.
pub struct SpaceFs {
    library: Library,
    readers: Mutex<Vec<Reader>>,
    inodes: Inodes,
    cache: EntryCache,
    options: FsOptions,
    mounted_at: SystemTime,
    uid: u32,
    gid: u32,
    view_dentries: Mutex<DentryRecord>,
    cursors: Mutex<HashMap<u64, Arc<Mutex<DirCursor>>>>,
    /// Listings begun before their folder was opened: the folders a walk (find, ls -R, du) most likely opens next.
    warm: Mutex<LruCache<u64, Arc<Mutex<DirCursor>>>>,
    /// For a folder, the folder listed after it in its parent: where a walk goes once done with it.
    next_folder: Mutex<LruCache<u64, u64>>,
    /// Counts changes made through the mount, so children stated ahead of a request are not handed out after one.
    changes: AtomicU64,
    /// Files open for writing through the mount; while any is, children are stated when their request comes.
    writers: AtomicU64,
    /// Open files (see `handles`).
    handles: Mutex<handles::Handles>,
    /// Whether the kernel takes passthrough backings.
    passthrough: std::sync::atomic::AtomicBool,
    next_handle: AtomicU64,
    roots: Mutex<HashMap<LocationId, Arc<std::path::Path>>>,
    locations: Mutex<HashMap<LocationId, Arc<Location>>>,
    /// A connection of its own whose `data_version` tells whether the library changed since a folder was listed.
    version_reader: Mutex<Option<Reader>>,
    /// For each folder the kernel listed, the `data_version` at that listing.
    listed_at: Mutex<HashMap<u64, (i64, u64)>>,
    /// Counts the commits the invalidator has handled: a listing is kept only if none came since it was made (with
    /// `data_version` alone, a listing made from rows read just before a commit, but opened just after it, could
    /// be kept after the commit until the next one).
    commits_seen: AtomicU64,
    /// Set while an exchange with the sync folder runs (`crate::sync::follow`): its commits, though made by this
    /// mount's writer, change what no call through the mount did, so they count as made elsewhere.
    pub(crate) exchanging: std::sync::atomic::AtomicBool,
    /// References handed to the kernel, per inode whose state is kept only while the kernel holds it (`nodes`).
    lookups: Mutex<HashMap<u64, u64>>,
    mountpoint: Option<PathBuf>,
    touched_inodes: Mutex<HashSet<u64>>,
    queries: crate::view::QueryTable,
    /// Changes to real entries queued to the writer without waiting (see `pending`).
    pending: pending::Pending,
}

impl AsRef<Library> for SpaceFs {
    fn as_ref(&self) -> &Library {
        &self.library
    }
}

impl SpaceFs {
    /// Where the file system is mounted, so links into the mount itself are recognised.
    pub fn set_mountpoint(&mut self, mountpoint: PathBuf) {
        self.mountpoint = Some(mountpoint);
    }

    pub fn new(library: Library, options: FsOptions) -> SpaceFs {
        // SAFETY: getuid/getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        SpaceFs {
            library,
            readers: Mutex::new(Vec::new()),
            inodes: Inodes::default(),
            cache: EntryCache::new(options.cache_entries),
            options,
            mounted_at: SystemTime::now(),
            uid,
            gid,
            view_dentries: Mutex::new(DentryRecord::default()),
            cursors: Mutex::new(HashMap::new()),
            warm: Mutex::new(LruCache::new(listing::WARM_LISTINGS)),
            next_folder: Mutex::new(LruCache::new(listing::FOLDER_ORDER)),
            changes: AtomicU64::new(0),
            writers: AtomicU64::new(0),
            handles: Mutex::new(handles::Handles::default()),
            passthrough: std::sync::atomic::AtomicBool::new(false),
            next_handle: AtomicU64::new(1),
            roots: Mutex::new(HashMap::new()),
            locations: Mutex::new(HashMap::new()),
            version_reader: Mutex::new(None),
            listed_at: Mutex::new(HashMap::new()),
            commits_seen: AtomicU64::new(0),
            exchanging: std::sync::atomic::AtomicBool::new(false),
            lookups: Mutex::new(HashMap::new()),
            mountpoint: None,
            touched_inodes: Mutex::new(HashSet::new()),
            queries: crate::view::QueryTable::default(),
            pending: pending::Pending::default(),
        }
    }

    /// Sends scan items to the writer without waiting for the commit; `effects` say what later reads must see
    /// meanwhile.
    fn queue(&self, location: LocationId, items: Vec<ScanItem>, effects: Vec<pending::Effect>) -> Result<()> {
        self.pending.queue(self.library.writer(), location, items, effects)
    }

    /// Waits until every change queued so far without waiting is committed; false when nothing was pending.
    pub fn settle(&self) -> bool {
        if !self.pending.any() {
            return false;
        }
        let _ = self.library.writer().barrier();
        // What was cached meanwhile may have been read before the queued changes landed.
        self.cache.clear();
        true
    }

    /// The entry at a name of a real folder, as the disk has it after the changes still queued: the pending changes
    /// first, then the library.
    fn child_at(&self, location: LocationId, dir: &[u8], name: &[u8]) -> Result<Option<(EntryId, EntryKind)>> {
        if let Some(at) = self.pending.at_name(&(location, dir.to_vec(), name.to_vec())) {
            return Ok(at);
        }
        Ok(self.with_reader(|r| r.folder_child(location, dir, name))?.map(|c| (c.id, c.kind)))
    }

    /// Runs `f`; if it finds something missing while queued changes are not committed yet, waits for them and runs
    /// it again. The library may lag the disk by what is queued, never more: this is what makes queuing safe.
    fn settled<T>(&self, f: impl Fn() -> Result<T>) -> Result<T> {
        match f() {
            Err(err) if err.errno() == libc::ENOENT && self.settle() => f(),
            result => result,
        }
    }

    pub fn library(&self) -> &Library {
        &self.library
    }

    /// The inode number of a node, as the kernel knows it.
    pub fn ino_of(&self, node: Node) -> u64 {
        self.inodes.ino_of(node)
    }

    /// The inode of folder `dir` of a location (the location's own folder for an empty path), if indexed.
    pub fn folder_ino(&self, location: LocationId, dir: &[u8]) -> Result<Option<u64>> {
        if dir.is_empty() {
            return Ok(Some(self.ino_of(Node::Location(location))));
        }
        let (parent, name) = match dir.iter().rposition(|&b| b == b'/') {
            Some(at) => (&dir[..at], &dir[at + 1..]),
            None => (&b""[..], dir),
        };
        let child = self.with_reader(|r| r.folder_child(location, parent, name))?;
        Ok(child.map(|c| self.ino_of(Node::Entry(c.id))))
    }

    pub fn options(&self) -> FsOptions {
        self.options
    }

    fn ctx<'a>(&'a self, reader: &'a Reader) -> view::Ctx<'a> {
        view::Ctx {
            reader,
            writer: self.library.writer(),
            show_hidden: self.options.show_hidden,
            queries: &self.queries,
            mountpoint: self.mountpoint.as_deref(),
        }
    }

    /// Runs `f` with a reader of this thread's own for the duration (taken from, and returned to, a pool).
    fn with_reader<T>(&self, f: impl FnOnce(&Reader) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let reader = match pooled {
            Some(reader) => reader,
            None => self.library.reader()?,
        };
        let result = f(&reader);
        self.readers.lock().unwrap_or_else(|p| p.into_inner()).push(reader);
        result
    }

    fn node(&self, ino: u64) -> Result<Node> {
        self.inodes.node_of(ino).ok_or_else(|| Error::NotFound(format!("inode {ino} is not known to this mount")))
    }

    pub fn node_of(&self, ino: u64) -> Option<Node> {
        self.inodes.node_of(ino)
    }

    fn entry_info(&self, reader: &Reader, id: EntryId) -> Result<Arc<EntryInfo>> {
        // The name whose entry gave a hard-linked file its inode number is gone, its removal perhaps still queued
        // (the library would still give that name's path): the file lives on under another name, which the kernel
        // still knows by that number.
        let id = self.inodes.link_alias(id).unwrap_or(id);
        if let Some(info) = self.pending.place(id) {
            return Ok(info);
        }
        if let Some(info) = self.cache.get(id) {
            return Ok(info);
        }
        let epoch = self.pending.epoch();
        let found = reader.entry_info(id)?;
        let info = Arc::new(found.ok_or_else(|| Error::NotFound(format!("entry {} is gone", id.0)))?);
        // Not when a change was queued meanwhile: what was read may be what it changes.
        if info.id == id && self.pending.epoch() == epoch {
            self.cache.put(Arc::clone(&info));
        }
        Ok(info)
    }

    /// The real path behind a node, for nodes that are real files or folders.
    pub fn real_path(&self, ino: u64) -> Result<Option<PathBuf>> {
        let node = self.node(ino)?;
        self.with_reader(|r| self.real_path_of(r, node))
    }

    fn real_path_of(&self, reader: &Reader, node: Node) -> Result<Option<PathBuf>> {
        Ok(match node {
            Node::Entry(id) | Node::ViewDir { entry: id, .. } | Node::Shown(_, id) | Node::ViewFile(id) => {
                Some(self.entry_info(reader, id)?.real_path())
            }
            Node::Location(id) => self.location(reader, id)?.map(|l| l.path.clone()),
            Node::Foreign(..) => match view::of(node).foreign_path(&self.ctx(reader), node)? {
                Some(path) => Some(path),
                None => {
                    return Err(Error::io_ctx(
                        "the device that has this file is not reachable (its files are listed from its last sync)",
                        std::io::Error::from_raw_os_error(libc::EHOSTDOWN),
                    ));
                }
            },
            _ => None,
        })
    }

    /// A location, from a cache cleared whenever something other than this mount changes the library.
    fn location(&self, reader: &Reader, id: LocationId) -> Result<Option<Arc<Location>>> {
        if let Some(found) = self.locations.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(Some(Arc::clone(found)));
        }
        let Some(location) = reader.location_by_id(id)?.map(Arc::new) else { return Ok(None) };
        self.locations.lock().unwrap_or_else(|p| p.into_inner()).insert(id, Arc::clone(&location));
        Ok(Some(location))
    }

    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr> {
        if self.missing_on_disk(parent, name)? {
            // `locations/` is the disk: a name the disk does not have is not there, whatever the library says.
            return Err(Error::NotFound(String::new()));
        }
        // Names are answered from the library, which must first hold what is queued.
        self.settle();
        self.lookup_now(parent, name)
    }

    /// Whether `parent` is a real folder (in `locations/`) that has no `name` on disk.
    fn missing_on_disk(&self, parent: u64, name: &OsStr) -> Result<bool> {
        if !matches!(self.node(parent)?, Node::Location(_) | Node::Entry(_))
            || name.len() > crate::names::MAX_NAME_BYTES
        {
            return Ok(false);
        }
        let Ok(Some(dir)) = self.real_path(parent) else { return Ok(false) };
        let path = dir.join(name);
        Ok(longpath::with(&path, |p| std::fs::symlink_metadata(p))
            .is_err_and(|e| matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))))
    }

    fn lookup_now(&self, parent: u64, name: &OsStr) -> Result<Attr> {
        let parent_node = self.node(parent)?;
        let name = name.as_bytes();
        if name.len() > crate::names::MAX_NAME_BYTES {
            return Err(Error::NameTooLong(format!("a name of {} bytes", name.len())));
        }
        let (node, mut attr) = self.with_reader(|reader| {
            let resolver = self.ctx(reader);
            let (node, _) = resolver.lookup(parent_node, name)?.ok_or_else(|| Error::NotFound(String::new()))?;
            Ok((node, self.attr_of(reader, node)?))
        })?;
        self.handed_out(attr.ino, node);
        // Only entries that are not folders: invalidating a folder's dentry would break the working directory of
        // every process inside it (getcwd fails on an unhashed dentry), and folders are not what tagging changes.
        if is_view_folder(parent_node) && attr.kind != NodeKind::Dir {
            attr.short_ttl = !self.remember_view_dentry(parent, name);
        }
        Ok(attr)
    }

    /// lookup on behalf of process `pid`. A folder shown only until a mkdir makes it (a query folder whose name
    /// parses but is not saved: `View::shown_until_made`) is missing for a process inside mkdir(2): the kernel
    /// looks a name up before making it (even a cached one), and would answer "File exists" without asking
    /// spacefs. FUSE does not say why a lookup comes, so the process's current system call tells
    /// (`/proc/PID/syscall`; it waits in that call meanwhile).
    pub fn lookup_for(&self, parent: u64, name: &OsStr, pid: u32) -> Result<Attr> {
        if let Ok(dir) = self.node(parent)
            && self.with_reader(|r| view::of(dir).shown_until_made(&self.ctx(r), dir, name.as_bytes())).unwrap_or(false)
            && making_directory(pid)
        {
            return Err(Error::NotFound(String::new()));
        }
        self.lookup(parent, name)
    }

    /// getattr, through handle `fh` when the kernel names one. A file deleted while open is stated through its
    /// descriptor, as on a disk.
    pub fn getattr(&self, ino: u64, fh: Option<u64>) -> Result<Attr> {
        if let Some(file) = fh.and_then(|fh| self.handle_file(fh, false).ok()) {
            return self.getattr_open(ino, &file);
        }
        self.or_open(ino, || self.settled(|| self.getattr_now(ino)), |file| self.getattr_open(ino, file))
    }

    fn getattr_now(&self, ino: u64) -> Result<Attr> {
        let node = self.node(ino)?;
        self.with_reader(|reader| {
            let resolver = self.ctx(reader);
            let real = matches!(
                node,
                Node::Entry(_) | Node::ViewDir { .. } | Node::Location(_) | Node::Shown(..) | Node::ViewFile(_)
            );
            if !real && !resolver.exists(node)? {
                return Err(Error::NotFound(String::new()));
            }
            self.attr_of(reader, node)
        })
    }

    /// Puts what a listing row says about a real entry into the cache, so stating it needs no query.
    fn prime(&self, reader: &Reader, id: EntryId, place: &Place) -> Result<()> {
        if self.cache.get(id).is_some() {
            return Ok(());
        }
        let cached_root = self.roots.lock().unwrap_or_else(|p| p.into_inner()).get(&place.location).cloned();
        let root = match cached_root {
            Some(root) => root,
            None => {
                let Some(location) = reader.location_by_id(place.location)? else { return Ok(()) };
                let root: Arc<std::path::Path> = Arc::from(location.path.as_path());
                self.roots.lock().unwrap_or_else(|p| p.into_inner()).insert(place.location, Arc::clone(&root));
                root
            }
        };
        self.cache.put(Arc::new(EntryInfo {
            id,
            location: place.location,
            root,
            relative_path: place.relative_path.clone(),
            name: place.name.clone(),
            kind: place.kind,
        }));
        Ok(())
    }

    /// Opens the real file behind `ino` as a new handle (see `handles` for `open_backing`). Writes go to the real
    /// file (from any view but duplicates/, which is read-only); `release` brings the library up to date.
    pub fn open<B: std::any::Any + Send + Sync>(
        &self,
        ino: u64,
        flags: i32,
        open_backing: impl FnOnce(&File) -> std::io::Result<B>,
    ) -> Result<(u64, Option<Arc<B>>)> {
        let (file, writing) = self.settled(|| self.open_now(ino, flags))?;
        Ok(self.keep_open(ino, file, writing, open_backing))
    }

    fn open_now(&self, ino: u64, flags: i32) -> Result<(File, bool)> {
        let _change = self.changing();
        let node = self.node(ino)?;
        let access = flags & libc::O_ACCMODE;
        let writing = access != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        if writing {
            self.check_writable(node)?;
            if !matches!(node, Node::Entry(_) | Node::ViewFile(_)) {
                return Err(self.refuse_write(node));
            }
        }
        let path = self.with_reader(|r| self.real_path_of(r, node))?.ok_or_else(|| Error::Io {
            context: "open".into(),
            source: std::io::Error::from_raw_os_error(libc::EISDIR),
        })?;
        let passed = libc::O_NOATIME
            | libc::O_DIRECT
            | libc::O_NONBLOCK
            | libc::O_APPEND
            | libc::O_TRUNC
            | libc::O_SYNC
            | libc::O_DSYNC;
        let file = longpath::with(&path, |p| {
            File::options()
                .read(access != libc::O_WRONLY)
                .write(writing)
                .custom_flags(flags & passed | libc::O_NOFOLLOW)
                .open(p)
        })
        .map_err(|e| Error::io(&path, e))?;
        Ok((file, writing))
    }

    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>> {
        self.settled(|| self.readlink_now(ino))
    }

    fn readlink_now(&self, ino: u64) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        if let Node::Foreign(..) = node {
            let foreign = self.with_reader(|r| view::of(node).foreign(&self.ctx(r), node))?;
            return foreign.link.ok_or_else(|| Error::Invalid("not a link".into()));
        }
        let path = self.real_path(ino)?.ok_or_else(|| Error::Invalid("not a link".into()))?;
        let target = longpath::with(&path, |p| std::fs::read_link(p)).map_err(|e| Error::io(&path, e))?;
        Ok(target.into_os_string().into_vec())
    }

    /// The error for a change this mount does not make: the view's refusal (EROFS on a read-only mount).
    pub fn refuse_write(&self, node: Node) -> Error {
        if self.options.read_only { Error::ReadOnly("read-only".into()) } else { view::of(node).refusal() }
    }

    /// Refuses changes on a read-only mount and in read-only views.
    fn check_writable(&self, node: Node) -> Result<()> {
        if self.options.read_only {
            return Err(Error::ReadOnly("the mount is read-only".into()));
        }
        if view::of(node).read_only() {
            return Err(Error::ReadOnly(format!("{}/ is read-only", view_name(node))));
        }
        Ok(())
    }

    /// Runs `f` with what a view acts with.
    fn in_view<T>(&self, f: impl FnOnce(&view::Ctx<'_>) -> Result<T>) -> Result<T> {
        self.with_reader(|reader| f(&self.ctx(reader)))
    }

    /// mkdir: in `locations/`, a real folder; elsewhere, what the view makes of it (a tag, a label, a saved query).
    pub fn mkdir(&self, parent: u64, name: &OsStr, mode: u32, caller: Caller) -> Result<Attr> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        if let Some(folder) = self.real_folder(node)? {
            return self.real_mkdir(folder, name, mode, caller);
        }
        let made = self.in_view(|cx| view::of(node).mkdir(cx, node, name.as_bytes()))?;
        let attr = self.with_reader(|r| self.attr_of(r, made))?;
        self.handed_out(attr.ino, made);
        Ok(attr)
    }

    /// rmdir: in `locations/`, removes the real (empty) folder; elsewhere, the view's rule (delete an empty tag or
    /// label, take a folder out of a flat view).
    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<()> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        if let Some(done) = self.remove_real(node, name, |p| std::fs::remove_dir(p))? {
            return Ok(done);
        }
        self.in_view(|cx| view::of(node).rmdir(cx, node, name.as_bytes()))
    }

    /// unlink: in `locations/`, deletes the real file, keeping its tags as an orphan for a file that comes back;
    /// in a view, the view's rule (a flat view takes the entry out; the real file is never touched).
    pub fn unlink(&self, parent: u64, name: &OsStr) -> Result<()> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        if let Some(done) = self.remove_real(node, name, |p| std::fs::remove_file(p))? {
            return Ok(done);
        }
        if let Some(left) = self.in_view(|cx| view::of(node).unlink(cx, node, name.as_bytes()))? {
            self.touched(left);
        }
        Ok(())
    }

    /// rename: between real folders, on disk; a view's own folder (a tag, a label), as the view says; an entry
    /// moved between flat views leaves the one and joins the other, keeping its own name.
    pub fn rename(&self, parent: u64, name: &OsStr, new_parent: u64, new_name: &OsStr, flags: u32) -> Result<()> {
        let _change = self.changing();
        let (from, to) = (self.node(parent)?, self.node(new_parent)?);
        self.check_writable(from)?;
        self.check_writable(to)?;
        if let (Some(a), Some(b)) = (self.real_folder(from)?, self.real_folder(to)?) {
            return self.real_rename(a, name, b, new_name, flags);
        }
        if flags != 0 {
            return Err(Error::Invalid("rename flags are not supported in the views".into()));
        }
        let moved = self.in_view(|cx| {
            let child = cx.child(from, name.as_bytes())?;
            if view::of(from).rename(cx, from, child, to, new_name.as_bytes())?.is_some() {
                return Ok(None);
            }
            view::flat::move_member(cx, from, child, to)?;
            Ok(Some(child))
        })?;
        if let Some(item) = moved {
            self.remember_view_dentry(new_parent, new_name.as_bytes());
            self.touched(item);
        }
        Ok(())
    }

    /// link: in `locations/`, a real hard link; `ln FILE <mnt>/tags/T/` puts the entry into the flat view, where it
    /// shows under its own name.
    pub fn link(&self, ino: u64, new_parent: u64, new_name: &OsStr) -> Result<Attr> {
        let _change = self.changing();
        let (node, to) = (self.node(ino)?, self.node(new_parent)?);
        self.check_writable(to)?;
        if let Some(folder) = self.real_folder(to)? {
            return self.real_link(ino, node, folder, new_name);
        }
        if self.in_view(|cx| view::flat::join_foreign(cx, node, to))? {
            self.remember_view_dentry(new_parent, new_name.as_bytes());
            let attr = self.with_reader(|r| self.attr_of(r, node))?;
            self.handed_out(attr.ino, node);
            return Ok(attr);
        }
        let entry = view::member_entry(node).ok_or_else(|| self.refuse_write(to))?;
        self.in_view(|cx| view::flat::join(cx, entry, to))?;
        self.remember_view_dentry(new_parent, new_name.as_bytes());
        // The new name is the view's file, with the view's inode and link count (see `shown_nlink`), as a lookup
        // of it would answer: not the inode of `locations/`, whose link count is the disk's.
        let shown = if node == Node::Entry(entry) { Node::ViewFile(entry) } else { node };
        let attr = self.with_reader(|r| self.attr_of(r, shown))?;
        self.handed_out(attr.ino, shown);
        Ok(attr)
    }

    /// symlink: in `locations/`, a real symlink; `ln -s REALPATH <mnt>/tags/T/` puts the entry at REALPATH (inside
    /// a location) into the view. The kernel wants a link back, so the answer is a short-lived stand-in that the
    /// next invalidation replaces with the entry itself, under its own name.
    pub fn symlink(&self, parent: u64, name: &OsStr, target: &std::path::Path, caller: Caller) -> Result<Attr> {
        let _change = self.changing();
        let to = self.node(parent)?;
        self.check_writable(to)?;
        if let Some(attr) = self.location_symlink(to, name.as_bytes(), target, caller)? {
            return Ok(attr);
        }
        let entry = self.in_view(|cx| view::flat::join_path(cx, target, to))?;
        self.remember_view_dentry(parent, name.as_bytes());
        let mut attr = self.virtual_dir_attr(crate::inode::stand_in(entry), to);
        attr.kind = NodeKind::Symlink;
        attr.perm = 0o777;
        attr.nlink = 1;
        attr.size = target.as_os_str().len() as u64;
        Ok(attr)
    }
}

use std::os::unix::ffi::OsStringExt;

/// How a user names the top-level folder a node is in, for messages.
fn view_name(node: Node) -> &'static str {
    match view::of(node).name() {
        "" => "this folder",
        name => name,
    }
}

/// Whether process `pid` is inside mkdir(2) (read from /proc/PID/syscall).
fn making_directory(pid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else { return false };
    let Some(Ok(number)) = text.split_whitespace().next().map(str::parse::<libc::c_long>) else { return false };
    #[cfg(target_arch = "x86_64")]
    if number == libc::SYS_mkdir {
        return true;
    }
    number == libc::SYS_mkdirat
}
