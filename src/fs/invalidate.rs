//! What the kernel caches and how it is told to drop it: the view dentries handed out (recorded compactly, bounded),
//! inodes whose link count the kernel changed by itself, and the change counter that keeps children stated ahead of
//! a request from being handed out after a change.
//!
//! The policy: after a commit by this mount's writer, the view entries the kernel cached may show other tags now
//! (paths cached here stay current: each change through the mount updated them); after a commit by anyone else
//! (the CLI, another mount), anything may have moved, so every cache is dropped. After a change on disk outside the
//! mount (the watcher), what was cached of the changed entries goes. `Kernel` is how the glue passes the kernel's
//! notifications in, so the policy stays here and testable.

use super::SpaceFs;
use crate::library::EntryId;
use crate::view::Node;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// The kernel's caches, as the glue reaches them (`fuser::Notifier`).
pub trait Kernel: Send + 'static {
    /// Drop the dentry `name` in folder `parent`.
    fn forget_entry(&self, parent: u64, name: &[u8]);
    /// Drop the attributes (and, for a folder, the listing) cached of `ino`.
    fn forget_inode(&self, ino: u64);
}

/// How often the library's `data_version` is read for commits.
const POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Starts the thread that watches the library for commits by any connection (this mount's writer, the CLI, another
/// mount) and tells the kernel what to drop, so listings and lookups show a change at once. It ends with `stop`, or
/// when the core is gone.
pub fn watch_library(
    core: Weak<SpaceFs>,
    kernel: impl Kernel,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("spacefs-invalidate".into()).spawn(move || {
        let reader = match core.upgrade().map(|c| c.library().reader()) {
            Some(Ok(reader)) => reader,
            _ => return,
        };
        let mut seen = reader.data_version().unwrap_or(0);
        let external_version = || core.upgrade().and_then(|c| c.library().writer().external_version().ok());
        let mut external = external_version();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(POLL);
            let Ok(version) = reader.data_version() else { continue };
            if version == seen {
                continue;
            }
            seen = version;
            // The writer's own `data_version` moves only when another connection commits.
            let now_external = external_version();
            let elsewhere = now_external.is_none() || now_external != external;
            external = now_external;
            let Some(core) = core.upgrade() else { return };
            core.committed(elsewhere, &kernel);
        }
    })
}

impl SpaceFs {
    /// After a commit: by this mount's writer (`elsewhere` false) or by another connection.
    pub fn committed(&self, elsewhere: bool, kernel: &dyn Kernel) {
        let elsewhere = elsewhere || self.exchanging.load(Ordering::Acquire);
        // Listings made before this point are not kept by the kernel past it (see `commits_seen`).
        self.commits_seen.fetch_add(1, Ordering::AcqRel);
        let dentries = if elsewhere { self.library_changed() } else { self.own_changes() };
        for (parent, name) in dentries {
            kernel.forget_entry(parent, &name);
        }
        for folder in self.view_folders().into_iter().chain(self.take_touched_inodes()) {
            kernel.forget_inode(folder);
        }
    }

    /// After the watcher recorded changes made on disk outside the mount.
    pub fn disk_changed(&self, changes: Vec<crate::watch::Changed>, kernel: &dyn Kernel) {
        use crate::watch::Changed;
        self.note_change();
        for change in changes {
            match change {
                Changed::Gone { location, dir, name } => {
                    // Moved or removed outside the mount: the paths cached of it (or below it) are gone.
                    self.forget_paths();
                    if let Ok(Some(parent)) = self.folder_ino(location, &dir) {
                        kernel.forget_entry(parent, &name);
                    }
                }
                Changed::Modified(id) => {
                    self.forget_entry(id);
                    for node in [Node::Entry(id), Node::ViewFile(id)] {
                        kernel.forget_inode(self.ino_of(node));
                    }
                }
                Changed::Everything => {
                    for (parent, name) in self.library_changed() {
                        kernel.forget_entry(parent, &name);
                    }
                }
            }
        }
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

    /// Notes a change to real files made outside the mount, so children stated before it are stated again.
    pub fn note_change(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Marks a change made through the mount once the method holding the mark is done making it (not before:
    /// a child stated meanwhile must still count as stated before the change).
    pub(super) fn changing(&self) -> ChangeMark<'_> {
        ChangeMark(&self.changes)
    }

    /// Notes an inode whose cached attributes (its link count) the kernel changed by itself during a view
    /// operation; the invalidator refreshes them.
    pub(super) fn touched(&self, node: Node) {
        let ino = self.inodes.ino_of(node);
        self.touched_inodes.lock().unwrap_or_else(|p| p.into_inner()).insert(ino);
    }

    /// The inodes to refresh after the library changed.
    pub fn take_touched_inodes(&self) -> Vec<u64> {
        self.touched_inodes.lock().unwrap_or_else(|p| p.into_inner()).drain().collect()
    }

    /// Records a view dentry handed to the kernel; false when the record is full (the kernel must then cache it
    /// only briefly).
    pub(super) fn remember_view_dentry(&self, parent: u64, name: &[u8]) -> bool {
        self.view_dentries.lock().unwrap_or_else(|p| p.into_inner()).insert(parent, name)
    }

    /// Forgets cached knowledge after the library changed, and returns the (parent inode, name) dentries the
    /// kernel must drop.
    pub fn library_changed(&self) -> Vec<(u64, Vec<u8>)> {
        self.note_change();
        self.cache.clear();
        self.roots.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.locations.lock().unwrap_or_else(|p| p.into_inner()).clear();
        crate::view::snapshots_may_have_changed();
        self.own_changes()
    }

    /// After this mount's own writer committed: the view entries the kernel cached may show other tags now. Paths
    /// cached here are current (each change made through the mount updated them).
    pub fn own_changes(&self) -> Vec<(u64, Vec<u8>)> {
        self.view_dentries.lock().unwrap_or_else(|p| p.into_inner()).drain()
    }

    /// The folders whose listings depend on the library (the view folders the kernel knows).
    pub fn view_folders(&self) -> Vec<u64> {
        crate::view::VIEWS.iter().map(|v| self.inodes.ino_of(Node::Top(v.id()))).collect()
    }
}

/// Counts one change in `SpaceFs::changes` when dropped.
pub(super) struct ChangeMark<'a>(&'a AtomicU64);

impl Drop for ChangeMark<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// At most this many view dentries are recorded (about 40 bytes each); past it, view entries get a short TTL.
pub(super) const DENTRY_RECORD_LIMIT: usize = 300_000;

/// The view dentries (parent inode, name) the kernel caches with a long TTL, to drop when the library changes.
/// Compact, because a listing of a large tag folder hands the kernel one per file: a 64-bit hash per dentry to
/// skip repeats, and the names packed in one buffer. Bounded by `DENTRY_RECORD_LIMIT`.
#[derive(Default)]
pub(super) struct DentryRecord {
    seen: HashSet<u64>,
    /// Per dentry: the parent inode (8 bytes, little-endian), the name's length (2 bytes), the name.
    packed: Vec<u8>,
}

impl DentryRecord {
    /// Whether the dentry is recorded (now or before); false when the record is full.
    pub(super) fn insert(&mut self, parent: u64, name: &[u8]) -> bool {
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
    pub(super) fn drain(&mut self) -> Vec<(u64, Vec<u8>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn the_dentry_record_gives_back_each_dentry_once_and_stops_at_its_limit() {
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
