//! Folder listings (opendir, readdir, readdirplus): a cursor per folder handle, and children prepared ahead.
//!
//! A listing's children come from the library in pages; each is stated (relative to its real folder, one path walk
//! per call) into a queue of children ready for the kernel. Right after a reply the next children are prepared, so
//! the daemon works while the kernel takes a page in, and once a folder is prepared to its end, the listings a walk
//! opens next are begun (its first subfolder; the folder after it in its parent).
//!
//! Invariant: nothing read before a change is handed out after it. `SpaceFs::changes` counts changes made through
//! the mount and reported from outside (the watcher, the library); a cursor holding rows or attributes older than
//! the count starts again from the kernel's offset. While a file is open for writing through the mount the kernel
//! changes its size without asking, so attributes are stated again when their request comes.
//!
//! A cursor's lock is held while it is prepared (SQL and stats): the only one waiting on it is the next request of
//! the same listing, which needs exactly what is being prepared.

use super::{Attr, DirSink, FIRST_CHILD_OFFSET, SpaceFs};
use crate::error::{Error, Result};
use crate::library::Reader;
use crate::view::is_view_folder;
use crate::view::{Listed, Node, NodeKind, Place};
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::File;
use std::num::NonZeroUsize;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Where a listing through one folder handle stands: the offset the kernel will ask for next, rows read from the
/// library and not yet prepared, and children prepared (stated) and not yet handed out.
pub(super) struct DirCursor {
    ino: u64,
    plus: bool,
    next_offset: u64,
    /// The offset of the last row taken from `rows`; the next page of rows starts after it.
    listed_to: u64,
    rows: VecDeque<Listed>,
    rows_done: bool,
    ready: VecDeque<Ready>,
    /// `SpaceFs::changes` when the oldest of `rows` and `ready` were read.
    stamp: u64,
    /// The first and the latest folder among the children prepared so far.
    first_folder: Option<u64>,
    last_folder: Option<u64>,
    /// Whether the listings a walk opens next were begun.
    warmed_next: bool,
}

/// A child prepared for the kernel.
struct Ready {
    ino: u64,
    offset: u64,
    kind: NodeKind,
    node: Node,
    name: Vec<u8>,
    attr: Option<Attr>,
}

/// Whether a listing's cursor may hand out what it holds (see `SpaceFs::freshness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    Fresh,
    /// The rows are current, the attributes must be stated again.
    Restat,
    /// Everything must be read again.
    Stale,
}

/// How many children a listing prepares at a time: a little more than a 32 KiB readdirplus reply holds.
const BATCH: usize = 256;

/// How many listings begun ahead of their opendir are kept (each up to `BATCH` children).
pub(super) const WARM_LISTINGS: NonZeroUsize = NonZeroUsize::new(8).unwrap();

/// How many folders' successors are remembered for walks.
pub(super) const FOLDER_ORDER: NonZeroUsize = NonZeroUsize::new(16_384).unwrap();

impl DirCursor {
    fn new(ino: u64) -> DirCursor {
        DirCursor::at(ino, true, FIRST_CHILD_OFFSET)
    }

    fn at(ino: u64, plus: bool, next_offset: u64) -> DirCursor {
        DirCursor {
            ino,
            plus,
            next_offset,
            listed_to: next_offset,
            rows: VecDeque::new(),
            rows_done: false,
            ready: VecDeque::new(),
            stamp: 0,
            first_folder: None,
            last_folder: None,
            warmed_next: false,
        }
    }
}

impl SpaceFs {
    /// Opens a folder for listing; returns the handle and whether the kernel may keep the listing it cached
    /// at an earlier open. It may only if the library has not changed since then: every listing comes from the
    /// library, so an unchanged library means an unchanged listing, and a changed one is listed afresh.
    pub fn opendir(&self, ino: u64) -> Result<(u64, bool)> {
        self.node(ino)?;
        // Listings come from the library: changes queued without waiting are committed first.
        self.settle();
        let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
        let warm = self.warm.lock().unwrap_or_else(|p| p.into_inner()).pop(&ino);
        let cursor = warm.unwrap_or_else(|| Arc::new(Mutex::new(DirCursor::new(ino))));
        self.cursors.lock().unwrap_or_else(|p| p.into_inner()).insert(fh, cursor);
        let version = {
            let mut watch = self.version_reader.lock().unwrap_or_else(|p| p.into_inner());
            if watch.is_none() {
                *watch = Some(self.library.reader()?);
            }
            match watch.as_ref() {
                Some(reader) => reader.data_version()?,
                None => return Ok((fh, false)),
            }
        };
        let stamp = (version, self.commits_seen.load(Ordering::Acquire));
        let previous = self.listed_at.lock().unwrap_or_else(|p| p.into_inner()).insert(ino, stamp);
        Ok((fh, previous == Some(stamp)))
    }

    pub fn releasedir(&self, fh: u64) {
        self.cursors.lock().unwrap_or_else(|p| p.into_inner()).remove(&fh);
    }

    /// Lists `ino` from `offset` (0 = the start) into `sink`; with `plus`, each child comes with its attributes.
    /// Children prepared for one call and not all taken stay with the handle `fh` for the next call, so a large
    /// folder costs one pass over its rows. Children whose real file vanished are skipped.
    pub fn readdir(&self, ino: u64, fh: u64, offset: u64, plus: bool, sink: &mut dyn DirSink) -> Result<()> {
        self.settle();
        let node = self.node(ino)?;
        let parent_ino = match node {
            Node::Root => ino,
            _ => crate::inode::ROOT,
        };
        if offset < 1 {
            let attr = if plus { Some(self.getattr(ino, None)?) } else { None };
            if sink.add(ino, 1, NodeKind::Dir, OsStr::new("."), attr.as_ref()) {
                return Ok(());
            }
        }
        if offset < 2 {
            let attr = if plus { Some(self.getattr(parent_ino, None)?) } else { None };
            if sink.add(parent_ino, 2, NodeKind::Dir, OsStr::new(".."), attr.as_ref()) {
                return Ok(());
            }
        }
        let cursor = self.cursor(fh, ino);
        let mut cursor = cursor.lock().unwrap_or_else(|p| p.into_inner());
        let offset = offset.max(FIRST_CHILD_OFFSET);
        let freshness = self.freshness(&cursor);
        if cursor.ino != ino || cursor.plus != plus || cursor.next_offset != offset || freshness == Freshness::Stale {
            *cursor = DirCursor::at(ino, plus, offset);
        } else if freshness == Freshness::Restat {
            self.with_reader(|reader| self.restat(reader, node, &mut cursor))?;
        }
        let view_folder = is_view_folder(node);
        loop {
            if cursor.ready.is_empty() {
                self.with_reader(|reader| self.prepare(reader, node, &mut cursor, BATCH))?;
            }
            let Some(mut child) = cursor.ready.pop_front() else { return Ok(()) };
            if let Some(attr) = child.attr.as_mut()
                && view_folder
                && child.kind != NodeKind::Dir
            {
                // Recorded before the kernel has it (one the kernel then had no room for costs only a
                // needless invalidation later).
                attr.short_ttl = !self.remember_view_dentry(ino, &child.name);
            }
            if sink.add(child.ino, child.offset, child.kind, OsStr::from_bytes(&child.name), child.attr.as_ref()) {
                cursor.ready.push_front(child);
                return Ok(());
            }
            if child.attr.is_some() {
                // A readdirplus entry: the kernel holds it as if looked up.
                self.handed_out(child.ino, child.node);
            }
            cursor.next_offset = child.offset;
        }
    }

    /// Prepares the next children of the listing through `fh` while the kernel takes in the page just sent, so
    /// the next request finds them ready. Called after a reply; a request that comes meanwhile waits for it.
    /// Once the whole folder is prepared, begins the listings a walk opens next: the folder's first subfolder and
    /// the folder after it in its parent.
    pub fn prefetch(&self, fh: u64) {
        if self.writers.load(Ordering::Acquire) > 0 {
            return;
        }
        let Some(cursor) = self.cursors.lock().unwrap_or_else(|p| p.into_inner()).get(&fh).cloned() else { return };
        let next = {
            let mut cursor = cursor.lock().unwrap_or_else(|p| p.into_inner());
            if !cursor.plus || self.freshness(&cursor) != Freshness::Fresh {
                return;
            }
            if cursor.ready.len() < BATCH && !(cursor.rows.is_empty() && cursor.rows_done) {
                let Ok(node) = self.node(cursor.ino) else { return };
                if let Err(err) = self.with_reader(|reader| self.prepare(reader, node, &mut cursor, BATCH)) {
                    // The request that needs these children prepares them again and reports what fails.
                    log::debug!("preparing a listing of inode {}: {err}", cursor.ino);
                    return;
                }
            }
            if !(cursor.rows.is_empty() && cursor.rows_done) || cursor.warmed_next {
                return;
            }
            cursor.warmed_next = true;
            let after = self.next_folder.lock().unwrap_or_else(|p| p.into_inner()).get(&cursor.ino).copied();
            [cursor.first_folder, after]
        };
        for ino in next.into_iter().flatten() {
            self.warm_up(ino);
        }
    }

    /// Begins the listing of folder `ino` before it is opened. The listing is registered before it is prepared,
    /// so an opendir that comes meanwhile takes it and its first request waits for it instead of listing twice.
    fn warm_up(&self, ino: u64) {
        let Ok(node) = self.node(ino) else { return };
        let cursor = Arc::new(Mutex::new(DirCursor::new(ino)));
        let mut guard = cursor.lock().unwrap_or_else(|p| p.into_inner());
        {
            let mut warm = self.warm.lock().unwrap_or_else(|p| p.into_inner());
            if warm.contains(&ino) {
                return;
            }
            warm.put(ino, Arc::clone(&cursor));
        }
        if let Err(err) = self.with_reader(|reader| self.prepare(reader, node, &mut guard, BATCH)) {
            log::debug!("preparing a listing of inode {ino} ahead: {err}");
            *guard = DirCursor::new(ino);
        }
    }

    /// The listing state of handle `fh`, made afresh if the handle has none.
    fn cursor(&self, fh: u64, ino: u64) -> Arc<Mutex<DirCursor>> {
        let mut cursors = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(cursors.entry(fh).or_insert_with(|| Arc::new(Mutex::new(DirCursor::new(ino)))))
    }

    /// Whether what `cursor` holds may still be handed out. Rows and attributes read before a change (through the
    /// mount, or outside it as the watcher or the library reports) are read again. While a file is open for
    /// writing through the mount, the kernel changes its size by itself, so attributes stated before the request
    /// came are stated again.
    fn freshness(&self, cursor: &DirCursor) -> Freshness {
        if cursor.rows.is_empty() && cursor.ready.is_empty() && !cursor.rows_done {
            Freshness::Fresh
        } else if cursor.stamp != self.changes.load(Ordering::Acquire) {
            Freshness::Stale
        } else if !cursor.ready.is_empty() && self.writers.load(Ordering::Acquire) > 0 {
            Freshness::Restat
        } else {
            Freshness::Fresh
        }
    }

    /// States again the children `cursor` has ready, dropping those whose real file is gone.
    fn restat(&self, reader: &Reader, node: Node, cursor: &mut DirCursor) -> Result<()> {
        let mut real_dir = None;
        let mut kept = VecDeque::with_capacity(cursor.ready.len());
        while let Some(mut child) = cursor.ready.pop_front() {
            match self.child_attr(reader, node, &mut real_dir, child.ino, &child.name, child.node, None) {
                Ok(Some(attr)) => {
                    child.attr = Some(attr);
                    kept.push_back(child);
                }
                Ok(None) => {}
                Err(err) => {
                    cursor.ready.push_front(child);
                    kept.append(&mut cursor.ready);
                    cursor.ready = kept;
                    return Err(err);
                }
            }
        }
        cursor.ready = kept;
        Ok(())
    }

    /// The attributes a listing of folder `node` shows for its child `child` (inode `ino`, named `name`); `None`
    /// when the real file is gone. Children of a real folder are stated relative to it (`real_dir`, opened at the
    /// first child): one path walk per call, not one per child.
    #[allow(clippy::too_many_arguments)]
    fn child_attr(
        &self,
        reader: &Reader,
        node: Node,
        real_dir: &mut Option<Option<RealDir>>,
        ino: u64,
        name: &[u8],
        child: Node,
        place: Option<&Place>,
    ) -> Result<Option<Attr>> {
        if real_dir.is_none() && matches!(node, Node::Location(_) | Node::Entry(_) | Node::ViewDir { .. }) {
            *real_dir = Some(self.real_path_of(reader, node)?.and_then(|p| RealDir::open(&p).ok()));
        }
        if let Some(Some(dir)) = real_dir {
            return match dir.stat(name) {
                Ok(stat) => {
                    let mut attr = self.stat_attr(ino, &stat);
                    attr.ino = self.shown_ino(reader, ino, attr.kind, stat.st_nlink, stat.st_dev, stat.st_ino);
                    Ok(Some(attr))
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(Error::io(&dir.path.join(OsStr::from_bytes(name)), err)),
            };
        }
        if let Some(place) = place
            && let Node::Entry(id) | Node::ViewDir { entry: id, .. } | Node::Shown(_, id) | Node::ViewFile(id) = child
        {
            self.prime(reader, id, place)?;
        }
        match self.attr_of(reader, child) {
            Ok(attr) => Ok(Some(attr)),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(Error::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Moves children from the library's rows into `cursor.ready` until it holds `want` of them or the listing
    /// ends, stating each real child (relative to its folder: one path walk per call, not one per child).
    fn prepare(&self, reader: &Reader, node: Node, cursor: &mut DirCursor, want: usize) -> Result<()> {
        let resolver = self.ctx(reader);
        let mut real_dir = None;
        if cursor.ready.is_empty() && cursor.rows.is_empty() {
            // Holding nothing yet: what is read from here on is as new as this.
            cursor.stamp = self.changes.load(Ordering::Acquire);
        }
        while cursor.ready.len() < want {
            let Some(child) = cursor.rows.pop_front() else {
                if cursor.rows_done {
                    return Ok(());
                }
                let page = resolver.list(node, cursor.listed_to - FIRST_CHILD_OFFSET)?;
                cursor.rows_done = page.len() < crate::view::PAGE;
                cursor.rows.extend(page);
                continue;
            };
            let child_ino = self.inodes.ino_of(child.node);
            let child_offset = child.cookie + FIRST_CHILD_OFFSET;
            let attr = if cursor.plus {
                let place = child.place.as_ref();
                match self.child_attr(reader, node, &mut real_dir, child_ino, &child.name, child.node, place) {
                    Ok(Some(attr)) => Some(attr),
                    Ok(None) => {
                        cursor.listed_to = child_offset;
                        continue;
                    }
                    Err(err) => {
                        cursor.rows.push_front(child);
                        return Err(err);
                    }
                }
            } else {
                None
            };
            cursor.listed_to = child_offset;
            if child.kind == NodeKind::Dir {
                match cursor.last_folder {
                    Some(previous) => {
                        self.next_folder.lock().unwrap_or_else(|p| p.into_inner()).put(previous, child_ino);
                    }
                    None => cursor.first_folder = Some(child_ino),
                }
                cursor.last_folder = Some(child_ino);
            }
            cursor.ready.push_back(Ready {
                ino: child_ino,
                offset: child_offset,
                kind: child.kind,
                node: child.node,
                name: child.name,
                attr,
            });
        }
        Ok(())
    }
}

/// A real folder held open (O_PATH) to stat its children by name.
struct RealDir {
    path: PathBuf,
    fd: File,
}

impl RealDir {
    fn open(path: &std::path::Path) -> std::io::Result<RealDir> {
        let fd = crate::longpath::with(path, |p| {
            File::options().read(true).custom_flags(libc::O_PATH | libc::O_DIRECTORY).open(p)
        })?;
        Ok(RealDir { path: path.to_path_buf(), fd })
    }

    fn stat(&self, name: &[u8]) -> std::io::Result<libc::stat> {
        let name = std::ffi::CString::new(name).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: an all-zero stat is a valid value to be overwritten; the fd and name outlive the call.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::fstatat(std::os::fd::AsRawFd::as_raw_fd(&self.fd), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW)
        };
        if rc == 0 { Ok(st) } else { Err(std::io::Error::last_os_error()) }
    }
}
