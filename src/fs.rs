//! The filesystem's core: lookup, getattr, readdir, open and readlink as plain `Result`s over inode numbers, so it
//! can be tested without FUSE. `crate::fuse` only translates to and from the kernel.
//!
//! Invariants:
//! * Attributes of real files come from `lstat` of the real file at the time of the call, under our inode number;
//!   virtual folders are owned by the mounting user, dated at mount time.
//! * Every dentry handed out below a view folder is remembered until the library changes, so it can be
//!   invalidated in the kernel (`library_changed`); listings are never cached by the kernel.
//! * Locks are held only to take or return a reader, or to touch the cache and the dentry set (one exception: a
//!   listing's cursor, see `listing`).

mod listing;
mod pending;

use listing::DirCursor;

use crate::cache::EntryCache;
use crate::error::{Error, Result};
use crate::inode::Inodes;
use crate::library::write::ScanItem;
use crate::library::write::{Flag, Membership};
use crate::library::{EntryId, EntryInfo, EntryKind, Library, Location, LocationId, Reader};
use crate::longpath;
use crate::names::TagName;
use crate::view::{Node, NodeKind, Place, Resolver};
use crate::xattr;
use lru::LruCache;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// What `stat` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: NodeKind,
    pub size: u64,
    pub blocks: u64,
    pub atime: SystemTime,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
    pub blksize: u32,
    /// The file type bits of a real file's mode (`S_IFMT`), which tell the kinds of `NodeKind::Other` apart; 0 for
    /// virtual folders.
    pub format: u32,
    /// The kernel may cache this entry only briefly: it is a view entry the dentry record had no room for, so a
    /// library change could not tell the kernel to drop it.
    pub short_ttl: bool,
}

/// Where `readdir` writes; `add` returns true when the buffer is full (the entry was not taken).
pub trait DirSink {
    fn add(&mut self, ino: u64, offset: u64, kind: NodeKind, name: &OsStr, attr: Option<&Attr>) -> bool;
}

/// Offsets 1 and 2 are "." and ".."; a child's offset is its cookie plus this.
const FIRST_CHILD_OFFSET: u64 = 2;

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
    next_handle: AtomicU64,
    roots: Mutex<HashMap<LocationId, Arc<std::path::Path>>>,
    locations: Mutex<HashMap<LocationId, Arc<Location>>>,
    /// A connection of its own whose `data_version` tells whether the library changed since a folder was listed.
    version_reader: Mutex<Option<Reader>>,
    /// For each folder the kernel listed, the `data_version` at that listing.
    listed_at: Mutex<HashMap<u64, i64>>,
    mountpoint: Option<PathBuf>,
    touched_inodes: Mutex<HashSet<u64>>,
    queries: crate::view::QueryTable,
    /// Changes to real entries queued to the writer without waiting (see `pending`).
    pending: pending::Pending,
}

/// Counts one change in `SpaceFs::changes` when dropped.
struct ChangeMark<'a>(&'a AtomicU64);

impl Drop for ChangeMark<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
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
            next_handle: AtomicU64::new(1),
            roots: Mutex::new(HashMap::new()),
            locations: Mutex::new(HashMap::new()),
            version_reader: Mutex::new(None),
            listed_at: Mutex::new(HashMap::new()),
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

    /// Forgets every path cached (after something moved or went away outside the mount).
    pub fn forget_paths(&self) {
        self.note_change();
        self.cache.clear();
    }

    /// Forgets what the cache knows of an entry (after it changed on disk).
    pub fn forget_entry(&self, id: EntryId) {
        self.note_change();
        self.cache.remove(id);
    }

    pub fn options(&self) -> FsOptions {
        self.options
    }

    fn resolver<'a>(&'a self, reader: &'a Reader) -> Resolver<'a> {
        Resolver { reader, show_hidden: self.options.show_hidden, queries: &self.queries }
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
        if let Some(info) = self.pending.place(id) {
            return Ok(info);
        }
        if let Some(info) = self.cache.get(id) {
            return Ok(info);
        }
        let epoch = self.pending.epoch();
        let found = match reader.entry_info(id)? {
            Some(info) => Some(info),
            // The name whose entry gave a hard-linked file its inode number is gone: the file lives on under
            // another name, which the kernel still knows by that number.
            None => match self.inodes.link_alias(id) {
                Some(other) => reader.entry_info(other)?,
                None => None,
            },
        };
        let info = Arc::new(found.ok_or_else(|| Error::NotFound(format!("entry {} is gone", id.0)))?);
        // Not when a change was queued meanwhile: what was read may be what it changes.
        if info.id == id && self.pending.epoch() == epoch {
            self.cache.put(Arc::clone(&info));
        }
        Ok(info)
    }

    /// The inode number `locations/` shows for a real entry: a file with several hard links shows one number for
    /// all its names (its first entry's), as a disk does, so the kernel knows they are one file.
    fn shown_ino(&self, reader: &Reader, ino: u64, kind: NodeKind, nlink: u64, device: u64, inode: u64) -> u64 {
        if nlink < 2 || kind == NodeKind::Dir || !crate::inode::is_entry(ino) {
            return ino;
        }
        match reader.first_link(device, inode) {
            // A name removed before may have given the file the number the kernel knows it by: keep that one.
            Ok(Some(first)) => self.inodes.ino_of(Node::Entry(self.inodes.aliased_as(first).unwrap_or(first))),
            _ => ino,
        }
    }

    /// The real path behind a node, for nodes that are real files or folders.
    pub fn real_path(&self, ino: u64) -> Result<Option<PathBuf>> {
        let node = self.node(ino)?;
        self.with_reader(|r| self.real_path_of(r, node))
    }

    fn real_path_of(&self, reader: &Reader, node: Node) -> Result<Option<PathBuf>> {
        Ok(match node {
            Node::Entry(id) | Node::ViewDir { entry: id, .. } | Node::DupeCopy(id) | Node::ViewFile(id) => {
                Some(self.entry_info(reader, id)?.real_path())
            }
            Node::Location(id) => self.location(reader, id)?.map(|l| l.path.clone()),
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
        let mut attr = self.with_reader(|reader| {
            let resolver = self.resolver(reader);
            let (node, _) = resolver.lookup(parent_node, name)?.ok_or_else(|| Error::NotFound(String::new()))?;
            self.attr_of(reader, node)
        })?;
        // Only entries that are not folders: invalidating a folder's dentry would break the working directory of
        // every process inside it (getcwd fails on an unhashed dentry), and folders are not what tagging changes.
        if is_view_folder(parent_node) && attr.kind != NodeKind::Dir {
            attr.short_ttl = !self.remember_view_dentry(parent, name);
        }
        Ok(attr)
    }

    /// Whether `name` under `parent` is a query folder that exists only because it parses (not saved). The lookup
    /// mkdir makes (always sent, even for a cached name) must find such a folder missing, or the kernel answers
    /// "File exists" without asking spacefs to save it.
    pub fn is_unsaved_query(&self, parent: u64, name: &OsStr) -> bool {
        if self.node(parent).ok() != Some(Node::QueryRoot) {
            return false;
        }
        let Ok(text) = std::str::from_utf8(name.as_bytes()) else { return false };
        self.with_reader(|reader| reader.saved_query(text)).is_ok_and(|saved| saved.is_none())
    }

    pub fn getattr(&self, ino: u64) -> Result<Attr> {
        self.settled(|| self.getattr_now(ino))
    }

    fn getattr_now(&self, ino: u64) -> Result<Attr> {
        let node = self.node(ino)?;
        self.with_reader(|reader| {
            let resolver = self.resolver(reader);
            let real = matches!(
                node,
                Node::Entry(_) | Node::ViewDir { .. } | Node::Location(_) | Node::DupeCopy(_) | Node::ViewFile(_)
            );
            if !real && !resolver.exists(node)? {
                return Err(Error::NotFound(String::new()));
            }
            self.attr_of(reader, node)
        })
    }

    fn attr_of(&self, reader: &Reader, node: Node) -> Result<Attr> {
        let ino = self.inodes.ino_of(node);
        match self.real_path_of(reader, node)? {
            Some(path) => {
                let meta = longpath::with(&path, |p| std::fs::symlink_metadata(p)).map_err(|e| Error::io(&path, e))?;
                let mut attr = self.real_attr(ino, &meta);
                attr.ino = self.shown_ino(reader, ino, attr.kind, meta.nlink(), meta.dev(), meta.ino());
                Ok(attr)
            }
            None => Ok(self.virtual_dir_attr(ino, node)),
        }
    }

    fn real_attr(&self, ino: u64, meta: &Metadata) -> Attr {
        let kind = NodeKind::of_entry(EntryKind::from_file_type(meta.file_type()));
        let time = system_time;
        Attr {
            ino,
            kind,
            size: meta.size(),
            blocks: meta.blocks(),
            atime: time(meta.atime(), meta.atime_nsec()),
            mtime: time(meta.mtime(), meta.mtime_nsec()),
            ctime: time(meta.ctime(), meta.ctime_nsec()),
            perm: (meta.mode() & 0o7777) as u16,
            nlink: shown_nlink(ino, kind, meta.nlink()),
            uid: meta.uid(),
            gid: meta.gid(),
            rdev: meta.rdev() as u32,
            blksize: meta.blksize() as u32,
            format: meta.mode() & libc::S_IFMT,
            short_ttl: false,
        }
    }

    fn stat_attr(&self, ino: u64, st: &libc::stat) -> Attr {
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => NodeKind::Dir,
            libc::S_IFREG => NodeKind::File,
            libc::S_IFLNK => NodeKind::Symlink,
            _ => NodeKind::Other,
        };
        Attr {
            ino,
            kind,
            size: st.st_size as u64,
            blocks: st.st_blocks as u64,
            atime: system_time(st.st_atime, st.st_atime_nsec),
            mtime: system_time(st.st_mtime, st.st_mtime_nsec),
            ctime: system_time(st.st_ctime, st.st_ctime_nsec),
            perm: (st.st_mode & 0o7777) as u16,
            nlink: shown_nlink(ino, kind, st.st_nlink),
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev as u32,
            blksize: st.st_blksize as u32,
            format: st.st_mode & libc::S_IFMT,
            short_ttl: false,
        }
    }

    fn virtual_dir_attr(&self, ino: u64, node: Node) -> Attr {
        let writable = !self.options.read_only && !matches!(node, Node::Duplicates | Node::DupeSet(_) | Node::Root);
        Attr {
            ino,
            kind: NodeKind::Dir,
            size: 0,
            blocks: 0,
            atime: self.mounted_at,
            mtime: self.mounted_at,
            ctime: self.mounted_at,
            perm: if writable { 0o755 } else { 0o555 },
            nlink: 2,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            format: 0,
            short_ttl: false,
        }
    }

    /// Notes that a file opened by `open` or `create` was closed for good (its last reference dropped).
    pub fn closed(&self, writable: bool) {
        if writable {
            let _change = self.changing();
            self.writers.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Notes a change to real files made outside the mount, so children stated before it are stated again.
    pub fn note_change(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Marks a change made through the mount once the method holding the mark is done making it (not before:
    /// a child stated meanwhile must still count as stated before the change).
    fn changing(&self) -> ChangeMark<'_> {
        ChangeMark(&self.changes)
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

    /// Opens the real file behind `ino`; returns it and whether it is open for writing. Writes go to the real
    /// file (from any view but duplicates/, which is read-only); `record_change` brings the library up to date.
    pub fn open(&self, ino: u64, flags: i32) -> Result<(File, bool)> {
        self.settled(|| self.open_now(ino, flags))
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
        if writing {
            self.writers.fetch_add(1, Ordering::AcqRel);
        }
        Ok((file, writing))
    }

    /// Records in the library what a real entry is now, after a change made through the mount. Queued: what it
    /// records (size, times, content id) is no user's metadata, and reads through the mount see the queue.
    pub fn record_change(&self, ino: u64) -> Result<()> {
        self.record(ino)
    }

    fn record(&self, ino: u64) -> Result<()> {
        let _change = self.changing();
        let Some(id) = self.node(ino).ok().and_then(|n| self.entry_of(n)) else { return Ok(()) };
        // An entry removed meanwhile (the file deleted before its release came) has nothing left to record.
        let found = self.with_reader(|r| {
            let info = match self.entry_info(r, id) {
                Ok(info) if info.id == id => info,
                _ => return Ok(None),
            };
            Ok(self.location(r, info.location)?.map(|location| (info, location)))
        })?;
        let Some((info, location)) = found else { return Ok(()) };
        // (An entry a pending change made or moved is not in the library as it is yet.)
        if self.pending.place(id).is_none() && self.recorded_already(&location, &info)? {
            return Ok(());
        }
        let Some(mut item) = crate::index::entry_now(&location, &info.relative_path, &info.name)? else {
            return Ok(());
        };
        if let ScanItem::Upsert(entry) = &mut item {
            entry.id = Some(id);
        }
        self.queue(location.id, vec![item], Vec::new())
    }

    /// Whether the library holds what the file is now (same size, times and inode, and its content id, or an empty
    /// file, which has none to read): a file closed without a change is not read and recorded again.
    fn recorded_already(&self, location: &Location, info: &EntryInfo) -> Result<bool> {
        let Some(stamp) = self.with_reader(|r| r.child_stamp(location.id, &info.relative_path, &info.name))? else {
            return Ok(false);
        };
        let path = info.real_path();
        let Ok(meta) = longpath::with(&path, |p| std::fs::symlink_metadata(p)) else { return Ok(false) };
        Ok(stamp.kind == EntryKind::from_file_type(meta.file_type())
            && stamp.size == meta.size() as i64
            && stamp.modified_at == meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
            && stamp.changed_at == meta.ctime() * 1_000_000_000 + meta.ctime_nsec()
            && stamp.inode == meta.ino() as i64
            && (stamp.has_content || meta.size() == 0 || location.index_mode == crate::library::IndexMode::Metadata))
    }

    /// chmod, chown, truncate and utimens of a real file or folder (not through duplicates/ or a folder seen
    /// through a view). Permission checks are the kernel's (default_permissions) against the real modes. With
    /// `open_file` (a descriptor of the file open through the mount), the change is made on it: that is how a file
    /// deleted while open is still changed, as on a disk.
    pub fn setattr(&self, ino: u64, change: &AttrChange, open_file: Option<&File>) -> Result<Attr> {
        self.settled(|| self.setattr_now(ino, change, open_file))
    }

    fn setattr_now(&self, ino: u64, change: &AttrChange, open_file: Option<&File>) -> Result<Attr> {
        let _change = self.changing();
        let node = self.node(ino)?;
        self.check_writable(node)?;
        if !matches!(node, Node::Entry(_) | Node::ViewFile(_)) {
            return Err(self.refuse_write(node));
        }
        if let Some(file) = open_file {
            let fd_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            set_attr_of_open(file, change).map_err(|e| Error::io(&fd_path, e))?;
            let _ = self.record_change(ino);
            return Ok(self.real_attr(ino, &file.metadata().map_err(|e| Error::io(&fd_path, e))?));
        }
        let path = self.with_reader(|r| self.real_path_of(r, node))?.ok_or_else(|| Error::NotFound(String::new()))?;
        let io = |e| Error::io(&path, e);
        longpath::with(&path, |p| {
            if let Some(size) = change.size {
                File::options().write(true).custom_flags(libc::O_NOFOLLOW).open(p)?.set_len(size)?;
            }
            if let Some(mode) = change.mode {
                std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode & 0o7777))?;
            }
            if change.uid.is_some() || change.gid.is_some() {
                std::os::unix::fs::lchown(p, change.uid, change.gid)?;
            }
            Ok(())
        })
        .map_err(io)?;
        let times = change.atime.is_some() || change.mtime.is_some();
        if times {
            longpath::with(&path, |p| set_times(p, change.atime, change.mtime)).map_err(io)?;
        }
        self.record_change(ino)?;
        if times && longpath::with(&path, |p| std::fs::symlink_metadata(p)).is_ok_and(|m| m.file_type().is_symlink()) {
            // Recording read the link's target, and reading a link updates its access time: set the times again.
            longpath::with(&path, |p| set_times(p, change.atime, change.mtime)).map_err(io)?;
        }
        self.getattr(ino)
    }

    /// The attributes of a file open through the mount, from its descriptor (its name may be gone).
    pub fn getattr_open(&self, ino: u64, file: &File) -> Result<Attr> {
        let meta = file.metadata().map_err(|e| Error::io(std::path::Path::new("an open file"), e))?;
        Ok(self.real_attr(ino, &meta))
    }

    /// getxattr of a real attribute on a file open through the mount (its name may be gone).
    pub fn getxattr_open(&self, file: &File, name: &OsStr) -> Result<Vec<u8>> {
        use ::xattr::FileExt;
        if !name.as_bytes().starts_with(b"user.") || is_owned(name.as_bytes()) {
            return Err(Error::NoAttribute);
        }
        let value = file.get_xattr(name).map_err(|e| Error::io(std::path::Path::new("an open file"), e))?;
        value.ok_or(Error::NoAttribute)
    }

    /// listxattr of a file open through the mount: its own `user.*` attributes.
    pub fn listxattr_open(&self, file: &File) -> Result<Vec<u8>> {
        use ::xattr::FileExt;
        let names = file.list_xattr().map_err(|e| Error::io(std::path::Path::new("an open file"), e))?;
        Ok(names
            .filter(|n| n.as_bytes().starts_with(b"user.") && !is_owned(n.as_bytes()))
            .flat_map(|n| {
                let mut n = n.into_vec();
                n.push(0);
                n
            })
            .collect())
    }

    /// removexattr of a real attribute on a file open through the mount (its name may be gone).
    pub fn removexattr_open(&self, ino: u64, file: &File, name: &OsStr) -> Result<()> {
        use ::xattr::FileExt;
        self.check_writable(self.node(ino)?)?;
        if !name.as_bytes().starts_with(b"user.") || is_owned(name.as_bytes()) {
            return Err(Error::NotFound(String::new()));
        }
        file.remove_xattr(name).map_err(|e| match e.raw_os_error() {
            Some(libc::ENODATA) => Error::NoAttribute,
            _ => Error::io(std::path::Path::new("an open file"), e),
        })
    }

    /// setxattr of a real attribute (not one spacefs serves) on a file open through the mount.
    pub fn setxattr_open(&self, ino: u64, file: &File, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        self.check_writable(self.node(ino)?)?;
        if !name.as_bytes().starts_with(b"user.") || is_owned(name.as_bytes()) {
            return Err(Error::NotFound(String::new()));
        }
        let c_name = std::ffi::CString::new(name.as_bytes()).map_err(|_| Error::Invalid("NUL in a name".into()))?;
        // SAFETY: a descriptor we own, a NUL-terminated name and a buffer of the length given.
        let rc =
            unsafe { libc::fsetxattr(file.as_raw_fd(), c_name.as_ptr(), value.as_ptr().cast(), value.len(), flags) };
        if rc == 0 {
            Ok(())
        } else {
            Err(Error::io(std::path::Path::new("an open file"), std::io::Error::last_os_error()))
        }
    }

    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>> {
        self.settled(|| self.readlink_now(ino))
    }

    fn readlink_now(&self, ino: u64) -> Result<Vec<u8>> {
        let path = self.real_path(ino)?.ok_or_else(|| Error::Invalid("not a link".into()))?;
        let target = longpath::with(&path, |p| std::fs::read_link(p)).map_err(|e| Error::io(&path, e))?;
        Ok(target.into_os_string().into_vec())
    }

    /// The error for a change this mount does not make (yet): read-only mounts and duplicates/ say EROFS.
    pub fn refuse_write(&self, node: Node) -> Error {
        if self.options.read_only || matches!(node, Node::Duplicates | Node::DupeSet(_) | Node::DupeCopy(_)) {
            Error::ReadOnly("read-only".into())
        } else {
            Error::NotPermitted("not supported through the mount yet".into())
        }
    }

    /// Refuses changes on a read-only mount.
    fn check_writable(&self, node: Node) -> Result<()> {
        if self.options.read_only { Err(Error::ReadOnly("the mount is read-only".into())) } else { Ok(()) }.and_then(
            |()| match node {
                Node::Duplicates | Node::DupeSet(_) | Node::DupeCopy(_) => {
                    Err(Error::ReadOnly("duplicates/ is read-only".into()))
                }
                _ => Ok(()),
            },
        )
    }

    /// The entry behind a node, for the nodes that carry metadata (for a hard-linked file whose first name is
    /// gone, a name it lives on under).
    fn entry_of(&self, node: Node) -> Option<EntryId> {
        match node {
            Node::Entry(id) | Node::ViewDir { entry: id, .. } | Node::DupeCopy(id) | Node::ViewFile(id) => {
                Some(self.inodes.link_alias(id).unwrap_or(id))
            }
            _ => None,
        }
    }

    pub fn getxattr(&self, ino: u64, name: &OsStr) -> Result<Vec<u8>> {
        // What spacefs serves (tags, content id, uuid) comes from the library, which must hold what is queued.
        if is_owned(name.as_bytes()) || name == xattr::FINDER_TAGS {
            self.settle();
        }
        self.settled(|| self.getxattr_now(ino, name))
    }

    fn getxattr_now(&self, ino: u64, name: &OsStr) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        let name = name.as_bytes();
        // The kernel asks for security.capability before every write; answer what the code below would, without
        // reading the library: only user.* and Finder's name are served.
        if !name.starts_with(b"user.") && name != xattr::FINDER_TAGS.as_bytes() {
            return Err(not_supported(name));
        }
        if let Node::Tag(tag) = node {
            if name != xattr::COLOR.as_bytes() {
                return Err(not_supported(name));
            }
            let color = self.with_reader(|r| r.tag(tag))?.and_then(|(_, color)| color);
            return color.map(String::into_bytes).ok_or(Error::NoAttribute);
        }
        let Some(entry) = self.entry_of(node) else { return Err(not_supported(name)) };
        let meta = self.with_reader(|r| r.entry_meta(entry))?.ok_or_else(|| Error::NotFound(String::new()))?;
        let value = match std::str::from_utf8(name).unwrap_or("") {
            xattr::XDG_TAGS => non_empty(meta.tags.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(",")),
            xattr::XDG_COMMENT => meta.notes.filter(|n| !n.is_empty()).map(String::into_bytes),
            xattr::LABELS => non_empty(meta.labels.join(",")),
            xattr::FAVORITE => Some(if meta.favorite { b"1".to_vec() } else { b"0".to_vec() }),
            xattr::HIDDEN => Some(if meta.hidden { b"1".to_vec() } else { b"0".to_vec() }),
            xattr::CAS_ID => meta.cas_id.map(String::into_bytes),
            xattr::UUID => Some(meta.uuid.into_bytes()),
            xattr::FINDER_TAGS => (!meta.tags.is_empty()).then(|| xattr::encode_finder_tags(&meta.tags)),
            _ => {
                let value = self.real_xattr(node, name, |path, n| ::xattr::get(path, n))?;
                return value.ok_or(Error::NoAttribute);
            }
        };
        value.ok_or(Error::NoAttribute)
    }

    pub fn listxattr(&self, ino: u64) -> Result<Vec<u8>> {
        self.settle();
        self.settled(|| self.listxattr_now(ino))
    }

    fn listxattr_now(&self, ino: u64) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        let mut names: Vec<Vec<u8>> = Vec::new();
        if let Node::Tag(tag) = node {
            if self.with_reader(|r| r.tag(tag))?.is_some_and(|(_, color)| color.is_some()) {
                names.push(xattr::COLOR.into());
            }
        } else if let Some(entry) = self.entry_of(node) {
            let meta = self.with_reader(|r| r.entry_meta(entry))?.ok_or_else(|| Error::NotFound(String::new()))?;
            let has_tags = !meta.tags.is_empty();
            for (present, name) in [
                (has_tags, xattr::XDG_TAGS),
                (meta.notes.as_deref().is_some_and(|n| !n.is_empty()), xattr::XDG_COMMENT),
                (!meta.labels.is_empty(), xattr::LABELS),
                (meta.favorite, xattr::FAVORITE),
                (meta.hidden, xattr::HIDDEN),
                (meta.cas_id.is_some(), xattr::CAS_ID),
                (true, xattr::UUID),
                (has_tags, xattr::FINDER_TAGS),
            ] {
                if present {
                    names.push(name.into());
                }
            }
            if let (Node::Entry(_), Some(path)) = (node, self.real_path(ino)?) {
                for own in longpath::with(&path, |p| ::xattr::list(p)).map_err(|e| Error::io(&path, e))? {
                    let own = own.as_bytes().to_vec();
                    if own.starts_with(b"user.") && !names.contains(&own) && !is_owned(&own) {
                        names.push(own);
                    }
                }
            }
        }
        Ok(names
            .into_iter()
            .flat_map(|mut n| {
                n.push(0);
                n
            })
            .collect())
    }

    /// Sets an attribute. `flags` are setxattr's XATTR_CREATE / XATTR_REPLACE.
    pub fn setxattr(&self, ino: u64, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        self.settled(|| self.setxattr_now(ino, name, value, flags))
    }

    fn setxattr_now(&self, ino: u64, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        let _change = self.changing();
        let node = self.node(ino)?;
        self.check_writable(node)?;
        if value.len() > xattr::MAX_VALUE {
            return Err(Error::TooBig(format!("values are limited to {} bytes", xattr::MAX_VALUE)));
        }
        if flags & (libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
            let exists = match self.getxattr(ino, name) {
                Ok(_) => true,
                Err(Error::NoAttribute) => false,
                Err(err) => return Err(err),
            };
            if exists && flags & libc::XATTR_CREATE != 0 {
                return Err(Error::AlreadyExists("the attribute exists".into()));
            }
            if !exists && flags & libc::XATTR_REPLACE != 0 {
                return Err(Error::NoAttribute);
            }
        }
        let bytes = name.as_bytes();
        let writer = self.library.writer();
        if let Node::Tag(tag) = node {
            if bytes != xattr::COLOR.as_bytes() {
                return Err(not_supported(bytes));
            }
            let color =
                xattr::parse_color(std::str::from_utf8(value).map_err(|_| Error::Invalid("not UTF-8".into()))?)?;
            let (name, _) = self.with_reader(|r| r.tag(tag))?.ok_or_else(|| Error::NotFound(String::new()))?;
            return writer.set_tag_color(TagName::parse(&name)?, color);
        }
        let Some(entry) = self.entry_of(node) else { return Err(not_supported(bytes)) };
        match std::str::from_utf8(bytes).unwrap_or("") {
            xattr::XDG_TAGS => writer.set_tags(entry, xattr::parse_tag_list(value)?, Vec::new()),
            xattr::XDG_COMMENT => {
                let text = std::str::from_utf8(value).map_err(|_| Error::Invalid("notes must be UTF-8 text".into()))?;
                writer.set_notes(entry, (!text.is_empty()).then(|| text.to_owned()))
            }
            xattr::LABELS => writer.set_labels(entry, xattr::parse_label_list(value)?),
            xattr::FAVORITE => writer.set_flag(vec![entry], Flag::Favorite, xattr::parse_bool(value)?).map(drop),
            xattr::HIDDEN => writer.set_flag(vec![entry], Flag::Hidden, xattr::parse_bool(value)?).map(drop),
            xattr::CAS_ID | xattr::UUID => {
                Err(Error::NotPermitted(format!("{} is read-only", String::from_utf8_lossy(bytes))))
            }
            xattr::FINDER_TAGS => {
                let tagged = xattr::decode_finder_tags(value)?;
                let colors = tagged.iter().filter(|(_, c)| c.is_some()).cloned().collect();
                writer.set_tags(entry, tagged.into_iter().map(|(t, _)| t).collect(), colors)
            }
            _ => self.real_xattr(node, bytes, |path, n| ::xattr::set(path, n, value)),
        }
    }

    pub fn removexattr(&self, ino: u64, name: &OsStr) -> Result<()> {
        self.settled(|| self.removexattr_now(ino, name))
    }

    fn removexattr_now(&self, ino: u64, name: &OsStr) -> Result<()> {
        let _change = self.changing();
        let node = self.node(ino)?;
        self.check_writable(node)?;
        let bytes = name.as_bytes();
        let writer = self.library.writer();
        if let Node::Tag(tag) = node {
            if bytes != xattr::COLOR.as_bytes() {
                return Err(not_supported(bytes));
            }
            let (name, _) = self.with_reader(|r| r.tag(tag))?.ok_or_else(|| Error::NotFound(String::new()))?;
            return writer.set_tag_color(TagName::parse(&name)?, None);
        }
        let Some(entry) = self.entry_of(node) else { return Err(not_supported(bytes)) };
        match std::str::from_utf8(bytes).unwrap_or("") {
            xattr::XDG_TAGS | xattr::FINDER_TAGS => writer.set_tags(entry, Vec::new(), Vec::new()),
            xattr::XDG_COMMENT => writer.set_notes(entry, None),
            xattr::LABELS => writer.set_labels(entry, Vec::new()),
            xattr::FAVORITE => writer.set_flag(vec![entry], Flag::Favorite, false).map(drop),
            xattr::HIDDEN => writer.set_flag(vec![entry], Flag::Hidden, false).map(drop),
            xattr::CAS_ID | xattr::UUID => {
                Err(Error::NotPermitted(format!("{} is read-only", String::from_utf8_lossy(bytes))))
            }
            _ => self.real_xattr(node, bytes, |path, n| ::xattr::remove(path, n)),
        }
    }

    /// The membership a flat-view folder stands for.
    fn membership_of(node: Node) -> Option<Membership> {
        match node {
            Node::Tag(t) => Some(Membership::Tag(t)),
            Node::Label(l) => Some(Membership::Label(l)),
            Node::Favorites => Some(Membership::Favorite),
            _ => None,
        }
    }

    /// Resolves `name` in `parent` to a node, or ENOENT.
    fn child(&self, parent: Node, name: &[u8]) -> Result<Node> {
        self.with_reader(|reader| {
            let resolver = self.resolver(reader);
            Ok(resolver.lookup(parent, name)?.map(|(node, _)| node))
        })?
        .ok_or_else(|| Error::NotFound(String::new()))
    }

    /// Whether `node` is a real folder shown through a view. Removing what is inside one succeeds and does nothing:
    /// views never delete real files, and this is what lets `rm -rf tags/T` finish — it then untags the folder
    /// itself (rmdir of the listed folder) and deletes the tag.
    fn inside_view_folder(node: Node) -> bool {
        matches!(node, Node::ViewDir { .. })
    }

    /// The entry an item of a flat view stands for: a file, or a folder the view lists itself.
    fn member_entry(node: Node) -> Option<EntryId> {
        match node {
            Node::Entry(id) | Node::DupeCopy(id) | Node::ViewFile(id) => Some(id),
            Node::ViewDir { top, entry, .. } if top == entry => Some(entry),
            _ => None,
        }
    }

    fn tag_name(&self, tag: crate::library::TagId) -> Result<TagName> {
        let (name, _) = self.with_reader(|r| r.tag(tag))?.ok_or_else(|| Error::NotFound(String::new()))?;
        TagName::parse(&name)
    }

    fn text(name: &[u8]) -> Result<&str> {
        std::str::from_utf8(name).map_err(|_| Error::InvalidName("tag and label names must be UTF-8".into()))
    }

    /// The real folder behind a `locations/` node: its location and its path inside it.
    fn real_folder(&self, node: Node) -> Result<Option<(Arc<Location>, Vec<u8>)>> {
        let (location, path) = match node {
            Node::Location(id) => (id, Vec::new()),
            Node::Entry(id) => {
                let info = self.with_reader(|r| self.entry_info(r, id))?;
                if info.kind != EntryKind::Dir {
                    return Ok(None);
                }
                (info.location, info.own_path())
            }
            _ => return Ok(None),
        };
        let location =
            self.with_reader(|r| self.location(r, location))?.ok_or_else(|| Error::NotFound(String::new()))?;
        Ok(Some((location, path)))
    }

    /// After something was created on disk: make it the caller's, index it, and return its attributes. Its content
    /// id follows when it is closed (a file being created has no content yet). The record is queued under an id
    /// reserved for it, which is the inode number the kernel gets at once: a new file carries no user metadata, so
    /// nothing waits for the commit (see `pending`).
    fn created(
        &self,
        location: &Location,
        dir: &[u8],
        name: &[u8],
        caller: Caller,
        mode: u32,
        linked_from: Option<EntryId>,
    ) -> Result<(EntryId, Attr)> {
        let path = crate::library::real_path(&location.path, dir, name);
        longpath::with(&path, |p| give_to_caller(p, caller, mode)).map_err(|e| Error::io(&path, e))?;
        let meta = longpath::with(&path, |p| std::fs::symlink_metadata(p)).map_err(|e| Error::io(&path, e))?;
        let mut entry = longpath::with(&path, |p| Ok(crate::index::scanned(dir, name.to_vec(), p, &meta)))
            .map_err(|e| Error::io(&path, e))?;
        let id = self.pending.take_id(self.library.writer())?;
        entry.id = Some(id);
        let info = self.info_at(id, location, dir, name, entry.kind);
        let mut effects = vec![pending::Effect::Placed(info)];
        effects.extend(linked_from.map(|source| pending::Effect::Linked(source, id)));
        self.queue(location.id, vec![ScanItem::Upsert(Box::new(entry))], effects)?;
        let ino = self.ino_of(Node::Entry(id));
        let mut attr = self.real_attr(ino, &meta);
        // (A name linked through the mount shows its source's number: see `link`.)
        if meta.nlink() > 1 && linked_from.is_none() {
            attr.ino =
                self.with_reader(|r| Ok(self.shown_ino(r, ino, attr.kind, meta.nlink(), meta.dev(), meta.ino())))?;
        }
        Ok((id, attr))
    }

    /// Where entry `id` is, as a pending change puts it.
    fn info_at(&self, id: EntryId, location: &Location, dir: &[u8], name: &[u8], kind: EntryKind) -> Arc<EntryInfo> {
        Arc::new(EntryInfo {
            id,
            location: location.id,
            root: Arc::from(location.path.as_path()),
            relative_path: dir.to_vec(),
            name: name.to_vec(),
            kind,
        })
    }

    /// A file without user metadata renamed on disk through the mount: its entry's move is queued (the entry keeps
    /// its id, so its inode number, and its content id).
    fn moved_later(&self, id: EntryId, from: (&Location, &[u8], &[u8]), to: (&Location, &[u8], &[u8])) -> Result<()> {
        let (location, dir, name) = to;
        self.cache.remove(id);
        let vacated = pending::Effect::Vacated((from.0.id, from.1.to_vec(), from.2.to_vec()));
        let Some(ScanItem::Upsert(mut entry)) = crate::index::entry_on_disk(location, dir, name, false)? else {
            // Gone from its new name already: whatever removed it records that.
            return self.queue(location.id, Vec::new(), vec![vacated]);
        };
        entry.id = Some(id);
        entry.content = crate::library::write::ContentUpdate::Keep;
        let placed = pending::Effect::Placed(self.info_at(id, location, dir, name, entry.kind));
        self.queue(location.id, vec![ScanItem::Upsert(entry)], vec![vacated, placed])
    }

    /// In `locations/`: removes `name` from the real folder with `remove` (remove_file or remove_dir), then records
    /// it. `None` when `node` is not a real folder.
    fn remove_real(
        &self,
        node: Node,
        name: &OsStr,
        remove: fn(&std::path::Path) -> std::io::Result<()>,
    ) -> Result<Option<()>> {
        let Some((location, dir)) = self.real_folder(node)? else { return Ok(None) };
        let path = crate::library::real_path(&location.path, &dir, name.as_bytes());
        let linked = has_other_links(&path);
        longpath::with(&path, remove).map_err(|e| Error::io(&path, e))?;
        self.vanished(&location, &dir, name.as_bytes(), linked).map(Some)
    }

    /// Before entry `id` leaves the library (unlinked, or renamed over): if its file has other names, the kernel may
    /// know them all by this entry's inode number (see `shown_ino`), which from now on leads to one of them.
    fn keep_links(&self, id: EntryId, kind: EntryKind) -> Result<()> {
        if kind == EntryKind::Dir {
            return Ok(());
        }
        // A name linked through the mount a moment ago may not be committed yet (its file may even be gone
        // before its own record is, as for a temporary file linked then unlinked at once).
        let other = match self.with_reader(|r| r.other_link(id))? {
            Some(other) => Some(other),
            None => self.pending.linked_to(id),
        };
        if let Some(other) = other {
            self.inodes.alias_link(id, other);
        }
        Ok(())
    }

    /// Records that `name` in a real folder is gone from disk (its metadata is kept as an orphan).
    /// `linked`: the file had other names (hard links) before it went.
    fn vanished(&self, location: &Location, dir: &[u8], name: &[u8], linked: bool) -> Result<()> {
        let Some((id, kind)) = self.child_at(location.id, dir, name)? else { return Ok(()) };
        if linked {
            self.keep_links(id, kind)?;
        }
        let dir_path = (kind == EntryKind::Dir).then(|| crate::library::child_path(dir, name));
        let vacated = pending::Effect::Vacated((location.id, dir.to_vec(), name.to_vec()));
        self.queue(location.id, vec![ScanItem::Remove { id, dir_path }], vec![vacated])?;
        // Below a removed folder, cached paths are gone too.
        if kind == EntryKind::Dir {
            self.cache.clear()
        } else {
            self.cache.remove(id)
        }
        Ok(())
    }

    /// create(2) in `locations/`: a new real file, opened, owned by the caller, and indexed.
    pub fn create(&self, parent: u64, name: &OsStr, mode: u32, flags: i32, caller: Caller) -> Result<(Attr, File)> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        let Some((location, dir)) = self.real_folder(node)? else { return Err(self.refuse_write(node)) };
        let path = crate::library::real_path(&location.path, &dir, name.as_bytes());
        let access = flags & libc::O_ACCMODE;
        let mut options = File::options();
        options.read(access != libc::O_WRONLY).write(true).mode(mode & 0o7777);
        if flags & libc::O_EXCL != 0 {
            options.create_new(true)
        } else {
            options.create(true)
        };
        let passed = libc::O_APPEND | libc::O_TRUNC | libc::O_SYNC | libc::O_DSYNC | libc::O_NOATIME | libc::O_DIRECT;
        no_umask();
        let file = longpath::with(&path, |p| options.custom_flags(flags & passed | libc::O_NOFOLLOW).open(p))
            .map_err(|e| Error::io(&path, e))?;
        let (_, attr) = self.created(&location, &dir, name.as_bytes(), caller, mode, None)?;
        self.writers.fetch_add(1, Ordering::AcqRel);
        Ok((attr, file))
    }

    /// symlink(2) in `locations/`.
    fn location_symlink(
        &self,
        node: Node,
        name: &[u8],
        target: &std::path::Path,
        caller: Caller,
    ) -> Result<Option<Attr>> {
        let Some((location, dir)) = self.real_folder(node)? else { return Ok(None) };
        let path = crate::library::real_path(&location.path, &dir, name);
        longpath::with(&path, |p| std::os::unix::fs::symlink(target, p)).map_err(|e| Error::io(&path, e))?;
        self.created(&location, &dir, name, caller, 0o777, None).map(|(_, attr)| Some(attr))
    }

    /// mkdir: `tags/T` creates tag T; `labels/…/L` creates label L there; in `locations/`, a real folder.
    pub fn mkdir(&self, parent: u64, name: &OsStr, mode: u32, caller: Caller) -> Result<Attr> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        if let Some((location, dir)) = self.real_folder(node)? {
            let path = crate::library::real_path(&location.path, &dir, name.as_bytes());
            no_umask();
            longpath::with(&path, |p| std::fs::DirBuilder::new().mode(mode & 0o7777).create(p))
                .map_err(|e| Error::io(&path, e))?;
            return self
                .created(&location, &dir, name.as_bytes(), caller, libc::S_IFDIR | mode, None)
                .map(|(_, attr)| attr);
        }
        let name = name.as_bytes();
        let writer = self.library.writer();
        let created = match node {
            Node::QueryRoot => {
                let text = Self::text(name)?;
                crate::query::parse(text).map_err(|e| Error::Invalid(format!("not a valid query: {e}")))?;
                writer.save_query(text.to_owned(), text.to_owned())?;
                self.child(node, name)?
            }
            Node::Tags => Node::Tag(writer.create_tag(TagName::parse(Self::text(name)?)?)?),
            Node::Labels => Node::Label(writer.create_label(None, Self::text(name)?.to_owned())?),
            Node::Label(label) => Node::Label(writer.create_label(Some(label), Self::text(name)?.to_owned())?),
            _ => return Err(self.refuse_write(node)),
        };
        self.with_reader(|r| self.attr_of(r, created))
    }

    /// mknod(2) in `locations/`: a FIFO, socket, device node or empty regular file made in the real folder (with the
    /// real folder's rules: device nodes need root). Views hold entries, not special files: EPERM there.
    pub fn mknod(&self, parent: u64, name: &OsStr, mode: u32, rdev: u32, caller: Caller) -> Result<Attr> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        let Some((location, dir)) = self.real_folder(node)? else { return Err(self.refuse_write(node)) };
        let path = crate::library::real_path(&location.path, &dir, name.as_bytes());
        no_umask();
        longpath::with(&path, |p| {
            let c_path = std::ffi::CString::new(p.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
            // SAFETY: a valid NUL-terminated path; mknod reads nothing else.
            if unsafe { libc::mknod(c_path.as_ptr(), mode, libc::dev_t::from(rdev)) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
        .map_err(|e| Error::io(&path, e))?;
        self.created(&location, &dir, name.as_bytes(), caller, mode, None).map(|(_, attr)| attr)
    }

    /// rmdir: deletes an empty tag or label, or takes a folder out of a flat view (untag, unlabel, unfavorite);
    /// in `locations/`, removes the real (empty) folder.
    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<()> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        if let Some(done) = self.remove_real(node, name, |p| std::fs::remove_dir(p))? {
            return Ok(done);
        }
        if Self::inside_view_folder(node) {
            return Ok(());
        }
        if node == Node::QueryRoot {
            return self.library.writer().forget_query(Self::text(name.as_bytes())?.to_owned());
        }
        let child = self.child(node, name.as_bytes())?;
        let writer = self.library.writer();
        match (node, child) {
            (Node::Tags, Node::Tag(tag)) => writer.delete_tag(self.tag_name(tag)?),
            (Node::Labels | Node::Label(_), Node::Label(label)) => writer.delete_label(label),
            (view, folder) => match (Self::membership_of(view), Self::member_entry(folder)) {
                (Some(m), Some(entry)) => writer.change_membership(entry, Some(m), None),
                _ => Err(self.refuse_write(view)),
            },
        }
    }

    /// unlink in a flat view takes the entry out of it (the real file is never touched); in `locations/` it
    /// deletes the real file, keeping its tags as an orphan for a file that comes back.
    pub fn unlink(&self, parent: u64, name: &OsStr) -> Result<()> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        if let Some(done) = self.remove_real(node, name, |p| std::fs::remove_file(p))? {
            return Ok(done);
        }
        if Self::inside_view_folder(node) {
            return Ok(());
        }
        let Some(membership) = Self::membership_of(node) else { return Err(self.refuse_write(node)) };
        let child = self.child(node, name.as_bytes())?;
        match Self::member_entry(child) {
            Some(entry) => {
                self.touched(child);
                self.library.writer().change_membership(entry, Some(membership), None)
            }
            None => Err(self.refuse_write(node)),
        }
    }

    /// rename: a tag or label folder is renamed (or moved, for labels); an entry moved between flat views changes
    /// membership and keeps its own name. The real file is never touched.
    pub fn rename(&self, parent: u64, name: &OsStr, new_parent: u64, new_name: &OsStr, flags: u32) -> Result<()> {
        let _change = self.changing();
        let (from, to) = (self.node(parent)?, self.node(new_parent)?);
        self.check_writable(from)?;
        self.check_writable(to)?;
        if let (Some((loc_a, dir_a)), Some((loc_b, dir_b))) = (self.real_folder(from)?, self.real_folder(to)?) {
            if loc_a.id != loc_b.id {
                return Err(Error::Io {
                    context: "rename across locations".into(),
                    source: std::io::Error::from_raw_os_error(libc::EXDEV),
                });
            }
            let old = crate::library::real_path(&loc_a.path, &dir_a, name.as_bytes());
            let new = crate::library::real_path(&loc_b.path, &dir_b, new_name.as_bytes());
            if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0 {
                return Err(Error::Invalid("only RENAME_NOREPLACE and RENAME_EXCHANGE are supported".into()));
            }
            let (old_name, new_name) = (name.as_bytes(), new_name.as_bytes());
            let source = self.child_at(loc_a.id, &dir_a, old_name)?;
            let target = self.child_at(loc_b.id, &dir_b, new_name)?;
            let exchange = flags & libc::RENAME_EXCHANGE != 0;
            if !exchange
                && let Some((replaced, kind)) = target
                && has_other_links(&new)
            {
                self.keep_links(replaced, kind)?;
            }
            let carries = |id: EntryId| self.with_reader(|r| r.has_metadata(id));
            let queued = match source {
                Some((id, kind)) => {
                    !exchange
                        && kind != EntryKind::Dir
                        && !carries(id)?
                        && !matches!(target, Some((t, _)) if carries(t)?)
                }
                None => false,
            };
            if !queued {
                // Recorded before the call returns, on a library holding everything queued before (a folder's
                // children created a moment ago move with it).
                self.settle();
            }
            longpath::with2(&old, &new, |a, b| rename_at(a, b, flags)).map_err(|e| Error::io(&old, e))?;
            let writer = self.library.writer();
            if exchange {
                self.cache.clear();
                // A side not indexed yet is indexed where it is now.
                return match (source, target) {
                    (Some((a, _)), Some((b, _))) => writer.exchange_entries(a, b),
                    (Some((a, _)), None) => {
                        writer.rename_entry(a, dir_b.clone(), new_name.to_vec())?;
                        crate::index::refresh_entry(&self.library, &loc_a, &dir_a, old_name)
                    }
                    (None, Some((b, _))) => {
                        writer.rename_entry(b, dir_a.clone(), old_name.to_vec())?;
                        crate::index::refresh_entry(&self.library, &loc_b, &dir_b, new_name)
                    }
                    (None, None) => {
                        crate::index::refresh_entry(&self.library, &loc_a, &dir_a, old_name)?;
                        crate::index::refresh_entry(&self.library, &loc_b, &dir_b, new_name)
                    }
                };
            }
            return match source {
                // Nothing a user gave depends on this record (no metadata on either side, not a folder, whose
                // descendants may carry some): queued.
                Some((id, _)) if queued => self.moved_later(id, (&loc_a, &dir_a, old_name), (&loc_b, &dir_b, new_name)),
                // Committed before the call returns: the entry's tags go with it (or stay on the name it replaced,
                // for an editor's save), and whoever asks next must find them there.
                Some((id, kind)) => {
                    writer.rename_entry(id, dir_b.clone(), new_name.to_vec())?;
                    // A folder's descendants moved too; a file is the only entry whose path changed.
                    if kind == EntryKind::Dir {
                        self.cache.clear()
                    } else {
                        self.cache.remove(id)
                    }
                    Ok(())
                }
                // Not indexed yet: index it where it is now.
                None => crate::index::refresh_entry(&self.library, &loc_b, &dir_b, new_name),
            };
        }
        if flags != 0 {
            return Err(Error::Invalid("rename flags are not supported in the views".into()));
        }
        let child = self.child(from, name.as_bytes())?;
        let writer = self.library.writer();
        let new_text = || Self::text(new_name.as_bytes());
        match (from, child, to) {
            (Node::Tags, Node::Tag(tag), Node::Tags) => {
                writer.move_tag(self.tag_name(tag)?, TagName::parse(new_text()?)?)
            }
            (Node::Labels | Node::Label(_), Node::Label(label), Node::Labels) => {
                writer.move_label(label, None, new_text()?.to_owned())
            }
            (Node::Labels | Node::Label(_), Node::Label(label), Node::Label(target)) => {
                writer.move_label(label, Some(target), new_text()?.to_owned())
            }
            (_, item, _) => match (Self::membership_of(from), Self::member_entry(item), Self::membership_of(to)) {
                (Some(old), Some(entry), Some(new)) if old != new => {
                    self.remember_view_dentry(new_parent, new_name.as_bytes());
                    self.touched(item);
                    writer.change_membership(entry, Some(old), Some(new))
                }
                _ => Err(self.refuse_write(from)),
            },
        }
    }

    /// link (`ln FILE <mnt>/tags/T/`) puts the entry into the flat view; it shows under its own name. In
    /// `locations/` it makes a real hard link.
    pub fn link(&self, ino: u64, new_parent: u64, new_name: &OsStr) -> Result<Attr> {
        let _change = self.changing();
        let (node, to) = (self.node(ino)?, self.node(new_parent)?);
        self.check_writable(to)?;
        if let Some((location, dir)) = self.real_folder(to)? {
            let source = self.with_reader(|r| self.real_path_of(r, node))?.ok_or_else(|| self.refuse_write(node))?;
            let path = crate::library::real_path(&location.path, &dir, new_name.as_bytes());
            longpath::with2(&source, &path, |a, b| std::fs::hard_link(a, b)).map_err(|e| Error::io(&path, e))?;
            let source_entry = match node {
                Node::Entry(id) => Some(self.entry_of(node).unwrap_or(id)),
                _ => None,
            };
            let (_, mut attr) = self.created(&location, &dir, new_name.as_bytes(), Caller::KEEP, 0, source_entry)?;
            // The new name is the file the kernel knows by `ino`, as on a disk.
            if source_entry.is_some() && crate::inode::is_entry(ino) {
                attr.ino = ino;
            }
            return Ok(attr);
        }
        let (Some(entry), Some(membership)) = (Self::member_entry(node), Self::membership_of(to)) else {
            return Err(self.refuse_write(to));
        };
        self.library.writer().change_membership(entry, None, Some(membership))?;
        self.remember_view_dentry(new_parent, new_name.as_bytes());
        // The new name is the view's file, with the view's inode and link count (see `shown_nlink`), as a lookup
        // of it would answer: not the inode of `locations/`, whose link count is the disk's.
        let shown = if node == Node::Entry(entry) { Node::ViewFile(entry) } else { node };
        self.with_reader(|r| self.attr_of(r, shown))
    }

    /// symlink (`ln -s REALPATH <mnt>/tags/T/`) puts the entry at REALPATH (inside a location) into the view.
    /// The kernel wants a link back, so the answer is a short-lived stand-in that the next invalidation replaces
    /// with the entry itself, under its own name.
    pub fn symlink(&self, parent: u64, name: &OsStr, target: &std::path::Path, caller: Caller) -> Result<Attr> {
        let _change = self.changing();
        let to = self.node(parent)?;
        self.check_writable(to)?;
        if let Some(attr) = self.location_symlink(to, name.as_bytes(), target, caller)? {
            return Ok(attr);
        }
        let Some(membership) = Self::membership_of(to) else { return Err(self.refuse_write(to)) };
        if self.mountpoint.as_deref().is_some_and(|m| target.starts_with(m)) {
            return Err(Error::OutsideLocations(format!(
                "link to the real file ({}), or use ln without -s for paths inside the mount",
                crate::error::shown(target)
            )));
        }
        let entry = self.with_reader(|r| crate::app::resolve_entries(r, &[target.to_path_buf()]))?[0];
        self.library.writer().change_membership(entry, None, Some(membership))?;
        self.remember_view_dentry(parent, name.as_bytes());
        let mut attr = self.virtual_dir_attr(crate::inode::stand_in(entry), to);
        attr.kind = NodeKind::Symlink;
        attr.perm = 0o777;
        attr.nlink = 1;
        attr.size = target.as_os_str().len() as u64;
        Ok(attr)
    }

    /// Notes an inode whose cached attributes (its link count) the kernel changed by itself during a view
    /// operation; the invalidator refreshes them.
    fn touched(&self, node: Node) {
        let ino = self.inodes.ino_of(node);
        self.touched_inodes.lock().unwrap_or_else(|p| p.into_inner()).insert(ino);
    }

    /// The inodes to refresh after the library changed.
    pub fn take_touched_inodes(&self) -> Vec<u64> {
        self.touched_inodes.lock().unwrap_or_else(|p| p.into_inner()).drain().collect()
    }

    /// Records a view dentry handed to the kernel; false when the record is full (the kernel must then cache it
    /// only briefly).
    fn remember_view_dentry(&self, parent: u64, name: &[u8]) -> bool {
        self.view_dentries.lock().unwrap_or_else(|p| p.into_inner()).insert(parent, name)
    }

    /// Other `user.*` attributes of a real file pass through to it; folders seen through views have none.
    fn real_xattr<T>(
        &self,
        node: Node,
        name: &[u8],
        op: impl FnOnce(&std::path::Path, &OsStr) -> std::io::Result<T>,
    ) -> Result<T> {
        if !name.starts_with(b"user.") || !matches!(node, Node::Entry(_)) {
            return Err(not_supported(name));
        }
        let path = self.with_reader(|r| self.real_path_of(r, node))?.ok_or_else(|| Error::NotFound(String::new()))?;
        longpath::with(&path, |p| op(p, OsStr::from_bytes(name))).map_err(|e| match e.raw_os_error() {
            Some(libc::ENODATA) => Error::NoAttribute,
            _ => Error::io(&path, e),
        })
    }

    /// Forgets cached knowledge after the library changed, and returns the (parent inode, name) dentries the
    /// kernel must drop.
    pub fn library_changed(&self) -> Vec<(u64, Vec<u8>)> {
        self.note_change();
        self.cache.clear();
        self.roots.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.locations.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.own_changes()
    }

    /// After this mount's own writer committed: the view entries the kernel cached may show other tags now. Paths
    /// cached here are current (each change made through the mount updated them).
    pub fn own_changes(&self) -> Vec<(u64, Vec<u8>)> {
        self.view_dentries.lock().unwrap_or_else(|p| p.into_inner()).drain()
    }

    /// The folders whose listings depend on the library (the view folders the kernel knows).
    pub fn view_folders(&self) -> Vec<u64> {
        [crate::view::Node::Tags, Node::Labels, Node::Favorites, Node::Duplicates, Node::Locations]
            .into_iter()
            .map(|n| self.inodes.ino_of(n))
            .collect()
    }
}

use std::os::unix::ffi::OsStringExt;

/// At most this many view dentries are recorded (about 40 bytes each); past it, view entries get a short TTL.
const DENTRY_RECORD_LIMIT: usize = 300_000;

/// The view dentries (parent inode, name) the kernel caches with a long TTL, to drop when the library changes.
/// Compact, because a listing of a large tag folder hands the kernel one per file: a 64-bit hash per dentry to
/// skip repeats, and the names packed in one buffer. Bounded by `DENTRY_RECORD_LIMIT`.
#[derive(Default)]
struct DentryRecord {
    seen: HashSet<u64>,
    /// Per dentry: the parent inode (8 bytes, little-endian), the name's length (2 bytes), the name.
    packed: Vec<u8>,
}

impl DentryRecord {
    /// Whether the dentry is recorded (now or before); false when the record is full.
    fn insert(&mut self, parent: u64, name: &[u8]) -> bool {
        use std::hash::{BuildHasher, RandomState};
        static KEYS: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
        let key = KEYS.get_or_init(RandomState::new).hash_one((parent, name));
        if self.seen.contains(&key) {
            return true;
        }
        if self.seen.len() >= DENTRY_RECORD_LIMIT || name.len() > usize::from(u16::MAX) {
            return false;
        }
        self.seen.insert(key);
        self.packed.extend_from_slice(&parent.to_le_bytes());
        self.packed.extend_from_slice(&(name.len() as u16).to_le_bytes());
        self.packed.extend_from_slice(name);
        true
    }

    /// Everything recorded, emptying the record and giving its memory back.
    fn drain(&mut self) -> Vec<(u64, Vec<u8>)> {
        let packed = std::mem::take(&mut self.packed);
        self.seen = HashSet::new();
        let mut out = Vec::new();
        let mut rest = packed.as_slice();
        while rest.len() >= 10 {
            let parent = u64::from_le_bytes(rest[..8].try_into().unwrap_or_default());
            let len = usize::from(u16::from_le_bytes([rest[8], rest[9]]));
            let Some(name) = rest.get(10..10 + len) else { break };
            out.push((parent, name.to_vec()));
            rest = &rest[10 + len..];
        }
        out
    }
}

/// A file's link count as the mount shows it. In `locations/`, the disk's. A file seen through a view counts one
/// more link, for its place in the library: the kernel takes one off for every `rm` in a view and would consider a
/// file with none left gone (a later `ln` of it would fail with ENOENT), though on disk it is untouched.
fn shown_nlink(ino: u64, kind: NodeKind, on_disk: u64) -> u32 {
    let extra = u64::from(kind == NodeKind::File && !crate::inode::is_entry(ino));
    (on_disk + extra).min(u64::from(u32::MAX)) as u32
}

/// Who asked for an operation, so that what they create through the mount is theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
}

impl Caller {
    /// Leave ownership as the file system made it (hard links share their file's owner).
    pub const KEEP: Caller = Caller { uid: u32::MAX, gid: u32::MAX };
}

/// The daemon usually runs as root: what it creates for a caller is given to the caller (the group stays the
/// folder's when the folder is setgid, as the kernel would do).
/// `mode` is the one it was made with: chown clears the set-user-ID and set-group-ID bits of a file, which the
/// caller asked for (the kernel has already taken off what the caller may not have), so they are put back.
fn give_to_caller(path: &std::path::Path, caller: Caller, mode: u32) -> std::io::Result<()> {
    // SAFETY: geteuid cannot fail.
    if caller == Caller::KEEP || unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let file_type = mode & libc::S_IFMT;
    let set_id =
        mode & (libc::S_ISUID | libc::S_ISGID) != 0 && file_type != libc::S_IFDIR && file_type != libc::S_IFLNK;
    // Made by root for root: it is the caller's already (a set-gid folder's group included).
    // SAFETY: getegid cannot fail.
    if caller.uid == 0 && caller.gid == unsafe { libc::getegid() } && !set_id {
        return Ok(());
    }
    let parent = path.parent().map(|p| if p.as_os_str().is_empty() { std::path::Path::new(".") } else { p });
    let setgid_parent = parent.and_then(|p| std::fs::metadata(p).ok()).is_some_and(|m| m.mode() & libc::S_ISGID != 0);
    let gid = if setgid_parent { None } else { Some(caller.gid) };
    std::os::unix::fs::lchown(path, Some(caller.uid), gid)?;
    if set_id {
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode & 0o7777))?;
    }
    Ok(())
}

/// Whether `path` is a file (not a folder) with other names: its removal must leave the kernel a way to them.
fn has_other_links(path: &std::path::Path) -> bool {
    longpath::with(path, |p| std::fs::symlink_metadata(p)).is_ok_and(|m| !m.is_dir() && m.nlink() > 1)
}

/// Makes the calling thread's umask 0, once per thread: the kernel has applied the caller's umask to the modes it
/// sends, and the daemon's own must not be applied a second time. The thread first gets file system attributes of
/// its own (`unshare(CLONE_FS)`), so the rest of the daemon keeps its umask for the files it makes for itself.
fn no_umask() {
    thread_local! {
        static DONE: () = if longpath::own_fs_attributes() {
            // SAFETY: umask changes only this thread's file system attributes (unshared).
            unsafe { libc::umask(0) };
        };
    }
    DONE.with(|_| ());
}

fn rename_at(old: &std::path::Path, new: &std::path::Path, flags: u32) -> std::io::Result<()> {
    let c = |p: &std::path::Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
    };
    let (old, new) = (c(old)?, c(new)?);
    // SAFETY: two valid NUL-terminated paths.
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, old.as_ptr(), libc::AT_FDCWD, new.as_ptr(), flags) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// What a setattr asks to change.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttrChange {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
}

#[derive(Debug, Clone, Copy)]
pub enum SetTime {
    Now,
    At(SystemTime),
}

/// setattr on an open descriptor: ftruncate (through a writable descriptor of the same file when this one is
/// read-only), fchmod, fchown, futimens.
fn set_attr_of_open(file: &File, change: &AttrChange) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
    if let Some(size) = change.size {
        // SAFETY: fcntl(F_GETFL) on a descriptor we own.
        let access = unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_ACCMODE;
        if access == libc::O_RDONLY {
            File::options().write(true).open(format!("/proc/self/fd/{fd}"))?.set_len(size)?;
        } else {
            file.set_len(size)?;
        }
    }
    if let Some(mode) = change.mode {
        // SAFETY: fchmod on a descriptor we own.
        check(unsafe { libc::fchmod(fd, (mode & 0o7777) as libc::mode_t) })?;
    }
    if change.uid.is_some() || change.gid.is_some() {
        let (uid, gid) = (change.uid.unwrap_or(u32::MAX), change.gid.unwrap_or(u32::MAX));
        // SAFETY: fchown on a descriptor we own; -1 leaves an id as it is.
        check(unsafe { libc::fchown(fd, uid, gid) })?;
    }
    if change.atime.is_some() || change.mtime.is_some() {
        let times = [timespec(change.atime), timespec(change.mtime)];
        // SAFETY: futimens on a descriptor we own, with two timespecs.
        check(unsafe { libc::futimens(fd, times.as_ptr()) })?;
    }
    Ok(())
}

fn timespec(t: Option<SetTime>) -> libc::timespec {
    match t {
        None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        Some(SetTime::Now) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Some(SetTime::At(at)) => {
            let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
            libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long }
        }
    }
}

fn set_times(path: &std::path::Path, atime: Option<SetTime>, mtime: Option<SetTime>) -> std::io::Result<()> {
    let times = [timespec(atime), timespec(mtime)];
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a valid NUL-terminated path and two timespecs, as utimensat expects.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

fn system_time(secs: i64, nsecs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs as u32)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

fn not_supported(name: &[u8]) -> Error {
    Error::NotSupported(format!("{} is not supported here", String::from_utf8_lossy(name)))
}

fn non_empty(text: String) -> Option<Vec<u8>> {
    (!text.is_empty()).then(|| text.into_bytes())
}

/// Names spacefs answers itself, which a real file's own attributes of the same name do not show through.
fn is_owned(name: &[u8]) -> bool {
    [xattr::XDG_TAGS, xattr::XDG_COMMENT, xattr::LABELS, xattr::FAVORITE, xattr::HIDDEN, xattr::CAS_ID, xattr::UUID]
        .iter()
        .any(|n| n.as_bytes() == name)
}

/// Folders whose contents come from the library's metadata rather than a real folder.
fn is_view_folder(node: Node) -> bool {
    matches!(
        node,
        Node::Locations
            | Node::Tags
            | Node::Labels
            | Node::Favorites
            | Node::Duplicates
            | Node::Tag(_)
            | Node::Label(_)
            | Node::DupeSet(_)
            | Node::QueryRoot
            | Node::Query(_)
            | Node::Untagged
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dentry_record_gives_back_each_dentry_once_and_stops_at_its_limit() {
        let mut record = DentryRecord::default();
        assert!(record.insert(7, b"a"));
        assert!(record.insert(7, b"a"));
        assert!(record.insert(8, b"a"));
        assert!(record.insert(7, &[0xff; 300]));
        let mut drained = record.drain();
        drained.sort();
        assert_eq!(drained, vec![(7, b"a".to_vec()), (7, vec![0xff; 300]), (8, b"a".to_vec())]);
        assert!(record.drain().is_empty());
        for i in 0..DENTRY_RECORD_LIMIT as u64 {
            assert!(record.insert(i, b"x"));
        }
        assert!(!record.insert(u64::MAX, b"x"), "a full record refuses new dentries");
        assert!(record.insert(0, b"x"), "one it holds is still recorded");
        assert_eq!(record.drain().len(), DENTRY_RECORD_LIMIT);
        assert!(record.insert(u64::MAX, b"x"), "drained, it has room again");
    }
}
