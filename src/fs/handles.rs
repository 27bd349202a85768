//! Files open through the mount: one handle per open, the real file behind it, and the kernel passthrough backing
//! its reads and writes go through.
//!
//! The kernel accepts one backing file per inode among its open files (a second one fails the open with EIO), so
//! every passthrough handle of an inode shares one, kept while any handle holds it. An inode that has a backing file
//! must pass every open through it, and it can: the kernel opens the backing file anew for each handle with that
//! handle's own flags, so a backing registered by a reader serves a writer too. The table's lock is held while a
//! backing is registered, so two concurrent opens of one inode cannot register two. The backing's type is the
//! glue's (`fuser::BackingId`); the core only keeps it alive.
//!
//! Handles open for writing are counted: while any is, listings state children when asked, not ahead.

use super::SpaceFs;
use crate::error::{Error, Result};
use std::any::Any;
use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

type Backing = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
pub(super) struct Handles {
    next: u64,
    backing: HashMap<u64, Weak<dyn Any + Send + Sync>>,
    open: HashMap<u64, Open>,
}

struct Open {
    ino: u64,
    file: File,
    writable: bool,
    _backing: Option<Backing>,
}

impl SpaceFs {
    fn handles(&self) -> std::sync::MutexGuard<'_, Handles> {
        self.handles.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the kernel takes passthrough backings (said at init; a refusal turns it off for good).
    pub fn set_passthrough(&self, on: bool) {
        self.passthrough.store(on, Ordering::Relaxed);
    }

    /// Keeps `file`, opened for `ino`, as a new handle. The inode's backing is shared; without one,
    /// `open_backing` registers it when the kernel does passthrough. Answers the handle and its backing (`None`:
    /// reads and writes come to spacefs).
    pub(super) fn keep_open<B: Any + Send + Sync>(
        &self,
        ino: u64,
        file: File,
        writable: bool,
        open_backing: impl FnOnce(&File) -> std::io::Result<B>,
    ) -> (u64, Option<Arc<B>>) {
        let mut handles = self.handles();
        let mut backing = handles.backing.get(&ino).and_then(Weak::upgrade);
        if backing.is_none() && self.passthrough.load(Ordering::Relaxed) {
            match open_backing(&file) {
                Ok(id) => {
                    let id: Backing = Arc::new(id);
                    handles.backing.insert(ino, Arc::downgrade(&id));
                    backing = Some(id);
                }
                Err(err) => {
                    log::warn!("kernel refused passthrough ({err}): reads go through spacefs from now on");
                    self.set_passthrough(false);
                }
            }
        }
        if writable {
            self.writers.fetch_add(1, Ordering::AcqRel);
        }
        handles.next += 1;
        let fh = handles.next;
        let shown = backing.clone().and_then(|b| b.downcast::<B>().ok());
        handles.open.insert(fh, Open { ino, file, writable, _backing: backing });
        (fh, shown)
    }

    /// A descriptor of an open handle's real file; EBADF for an unknown handle, or one not open for writing when
    /// `for_writing`.
    pub fn handle_file(&self, fh: u64, for_writing: bool) -> Result<File> {
        let bad = || Error::io_ctx("an open file", std::io::Error::from_raw_os_error(libc::EBADF));
        let handles = self.handles();
        let open = handles.open.get(&fh).filter(|o| o.writable || !for_writing).ok_or_else(bad)?;
        open.file.try_clone().map_err(|e| Error::io_ctx("an open file", e))
    }

    /// A descriptor of any handle open on `ino`: what a file deleted while open is reached through.
    pub(super) fn any_open_file(&self, ino: u64) -> Option<File> {
        self.handles().open.values().find(|o| o.ino == ino).and_then(|o| o.file.try_clone().ok())
    }

    /// Whether a handle open for writing holds `ino`'s file, under this inode or another name of the same entry
    /// (a file written through tags/ is asked about through locations/).
    pub(super) fn open_for_writing(&self, ino: u64) -> bool {
        let entry = |ino: u64| self.inodes.node_of(ino).and_then(|n| self.entry_of(n));
        let wanted = entry(ino);
        let writing: Vec<u64> = self.handles().open.values().filter(|o| o.writable).map(|o| o.ino).collect();
        writing.into_iter().any(|open| open == ino || (wanted.is_some() && entry(open) == wanted))
    }

    /// Runs `by_name`; when the name is gone but the file is still open through the mount (deleted while open),
    /// runs `on_open` on one of its descriptors instead, as a disk acts on the open file.
    pub(super) fn or_open<T>(
        &self,
        ino: u64,
        by_name: impl FnOnce() -> Result<T>,
        on_open: impl FnOnce(&File) -> Result<T>,
    ) -> Result<T> {
        match by_name() {
            Err(err) if err.errno() == libc::ENOENT => match self.any_open_file(ino) {
                Some(file) => on_open(&file),
                None => Err(err),
            },
            done => done,
        }
    }

    /// A handle closed for good (its last reference dropped): what a file open for writing became is recorded, and
    /// the handle lets go of its hold on the inode's backing (the last one forgets it). The record is queued before
    /// the handle is dropped: until then a getxattr of the content id (sent once close(2) returned, possibly before
    /// this release) still sees the file open for writing and records it itself, rather than answer the old id.
    pub fn release(&self, ino: u64, fh: u64) -> Result<()> {
        let writable = self.handles().open.get(&fh).is_some_and(|open| open.writable);
        let recorded = if writable { self.record_change(ino) } else { Ok(()) };
        {
            let mut handles = self.handles();
            handles.open.remove(&fh);
            if handles.backing.get(&ino).is_some_and(|w| w.strong_count() == 0) {
                handles.backing.remove(&ino);
            }
        }
        if writable {
            let _change = self.changing();
            self.writers.fetch_sub(1, Ordering::AcqRel);
        }
        recorded
    }
}
