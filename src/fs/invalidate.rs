//! What the kernel caches and how it is told to drop it: the view dentries handed out (recorded compactly, bounded),
//! inodes whose link count the kernel changed by itself, and the change counter that keeps children stated ahead of
//! a request from being handed out after a change.

use super::SpaceFs;
use crate::library::EntryId;
use crate::view::Node;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

impl SpaceFs {
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

/// Folders whose contents come from the library's metadata rather than a real folder.
pub(super) fn is_view_folder(node: Node) -> bool {
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
