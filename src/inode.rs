//! Inode numbers: stable across remounts, derived from database rows, never reused for something else.
//!
//! The top byte is the node's class, the rest its row id: an entry is `1<<56 | entry id` wherever it is shown (a
//! file may appear in several views with one inode, like a hard link). A real folder shown through a flat view
//! gets a number hashed from (view, top folder, folder) with the top bit set, so a folder never has two parents
//! with the same inode; those are remembered here to be resolved back, while the kernel holds them (`keep`, and
//! `forget` when the kernel forgets them: see `fs::nodes`).

use crate::library::{ContentId, EntryId, FlatView, LabelId, LocationId, TagId};
use crate::view::Node;
use std::collections::HashMap;
use std::sync::Mutex;

pub const ROOT: u64 = 1;
const CLASS_SHIFT: u32 = 56;
const ID_MASK: u64 = (1 << CLASS_SHIFT) - 1;
const HASHED: u64 = 1 << 63;

const ENTRY: u64 = 1;
const LOCATION: u64 = 2;
const TAG: u64 = 3;
const LABEL: u64 = 4;
const DUPE_SET: u64 = 5;
/// Numbers of the stand-ins answered to `ln -s` into a view; they resolve to nothing.
const STAND_IN: u64 = 6;
const DUPE_COPY: u64 = 7;
const VIEW_FILE: u64 = 8;
const QUERY: u64 = 9;

/// The inode number of the stand-in for an entry linked into a view with `ln -s`.
pub fn stand_in(entry: EntryId) -> u64 {
    (STAND_IN << CLASS_SHIFT) | (entry.0 as u64 & ID_MASK)
}

/// Whether `ino` is an entry as `locations/` shows it (not through a view).
pub fn is_entry(ino: u64) -> bool {
    ino & HASHED == 0 && ino >> CLASS_SHIFT == ENTRY
}

/// Whether `ino` stands for state the mount keeps only while the kernel holds it (a folder seen through a view,
/// whose number is hashed; a query folder, whose expression is remembered).
pub fn is_kept(ino: u64) -> bool {
    ino & HASHED != 0 || ino >> CLASS_SHIFT == QUERY
}

pub fn is_stand_in(ino: u64) -> bool {
    ino & HASHED == 0 && ino >> CLASS_SHIFT == STAND_IN
}

#[derive(Default)]
pub struct Inodes {
    view_dirs: Mutex<HashMap<u64, Node>>,
    /// For an entry removed while other names of its file remain (hard links): one of them. The kernel may still
    /// know the file by the removed entry's number, which all its names shared.
    link_aliases: Mutex<HashMap<EntryId, EntryId>>,
}

impl Inodes {
    /// Remembers the node behind a hashed number handed to the kernel.
    pub fn keep(&self, ino: u64, node: Node) {
        if ino & HASHED != 0 {
            self.view_dirs.lock().unwrap_or_else(|p| p.into_inner()).insert(ino, node);
        }
    }

    /// Forgets what was kept for a number the kernel no longer holds.
    pub fn forget(&self, ino: u64) {
        if ino & HASHED != 0 {
            self.view_dirs.lock().unwrap_or_else(|p| p.into_inner()).remove(&ino);
        } else if let Some(Node::Entry(gone)) = self.node_of(ino) {
            // A removed hard link's number, which nothing in the kernel leads to any more.
            let mut aliases = self.link_aliases.lock().unwrap_or_else(|p| p.into_inner());
            aliases.remove(&gone);
        }
    }

    /// How many numbers are remembered (hashed folders, removed links): bounded by what the kernel holds.
    pub fn kept(&self) -> usize {
        self.view_dirs.lock().unwrap_or_else(|p| p.into_inner()).len()
            + self.link_aliases.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Records that `gone`'s file lives on as entry `other`.
    pub fn alias_link(&self, gone: EntryId, other: EntryId) {
        let mut aliases = self.link_aliases.lock().unwrap_or_else(|p| p.into_inner());
        // Names that led to `gone` lead on to `other`.
        for target in aliases.values_mut() {
            if *target == gone {
                *target = other;
            }
        }
        aliases.insert(gone, other);
    }

    /// The removed entry whose number the kernel knows entry `live`'s file by, if any (the lowest such id).
    pub fn aliased_as(&self, live: EntryId) -> Option<EntryId> {
        let aliases = self.link_aliases.lock().unwrap_or_else(|p| p.into_inner());
        aliases.iter().filter(|(_, to)| **to == live).map(|(gone, _)| *gone).min()
    }

    /// Where a removed entry's file lives on, if it had other names.
    pub fn link_alias(&self, gone: EntryId) -> Option<EntryId> {
        self.link_aliases.lock().unwrap_or_else(|p| p.into_inner()).get(&gone).copied()
    }

    pub fn ino_of(&self, node: Node) -> u64 {
        let class = |c: u64, id: i64| (c << CLASS_SHIFT) | (id as u64 & ID_MASK);
        match node {
            Node::Root => ROOT,
            Node::Locations => 2,
            Node::Tags => 3,
            Node::Labels => 4,
            Node::Favorites => 5,
            Node::Duplicates => 6,
            Node::QueryRoot => 7,
            Node::Untagged => 8,
            Node::Query(key) => class(QUERY, key as i64),
            Node::Entry(EntryId(id)) => class(ENTRY, id),
            Node::Location(LocationId(id)) => class(LOCATION, id),
            Node::Tag(TagId(id)) => class(TAG, id),
            Node::Label(LabelId(id)) => class(LABEL, id),
            Node::DupeSet(ContentId(id)) => class(DUPE_SET, id),
            Node::DupeCopy(EntryId(id)) => class(DUPE_COPY, id),
            Node::ViewFile(EntryId(id)) => class(VIEW_FILE, id),
            Node::ViewDir { view, top, entry } => view_dir_ino(view, top, entry),
        }
    }

    /// The node behind an inode the kernel names; `None` for numbers this mount never handed out.
    pub fn node_of(&self, ino: u64) -> Option<Node> {
        if ino & HASHED != 0 {
            return self.view_dirs.lock().unwrap_or_else(|p| p.into_inner()).get(&ino).copied();
        }
        let id = (ino & ID_MASK) as i64;
        Some(match (ino >> CLASS_SHIFT, ino) {
            (0, 1) => Node::Root,
            (0, 2) => Node::Locations,
            (0, 3) => Node::Tags,
            (0, 4) => Node::Labels,
            (0, 5) => Node::Favorites,
            (0, 6) => Node::Duplicates,
            (0, 7) => Node::QueryRoot,
            (0, 8) => Node::Untagged,
            (QUERY, _) => Node::Query(ino & ID_MASK),
            (ENTRY, _) => Node::Entry(EntryId(id)),
            (LOCATION, _) => Node::Location(LocationId(id)),
            (TAG, _) => Node::Tag(TagId(id)),
            (LABEL, _) => Node::Label(LabelId(id)),
            (DUPE_SET, _) => Node::DupeSet(ContentId(id)),
            (DUPE_COPY, _) => Node::DupeCopy(EntryId(id)),
            (VIEW_FILE, _) => Node::ViewFile(EntryId(id)),
            _ => return None,
        })
    }
}

fn view_dir_ino(view: FlatView, top: EntryId, entry: EntryId) -> u64 {
    let (kind, id) = match view {
        FlatView::Tag(t) => (1u8, t.0),
        FlatView::Label(l) => (2, l.0),
        FlatView::Favorites => (3, 0),
        FlatView::Untagged => (4, 0),
        FlatView::Query(key) => (5, key as i64),
    };
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"spacefs view dir");
    hasher.update(&[kind]);
    for n in [id, top.0, entry.0] {
        hasher.update(&n.to_le_bytes());
    }
    let bytes = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(first) | HASHED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_round_trips_and_numbers_are_distinct() {
        let inodes = Inodes::default();
        let view = FlatView::Tag(TagId(3));
        let nodes = [
            Node::Root,
            Node::Locations,
            Node::Tags,
            Node::Labels,
            Node::Favorites,
            Node::Duplicates,
            Node::Entry(EntryId(7)),
            Node::Location(LocationId(7)),
            Node::Tag(TagId(7)),
            Node::Label(LabelId(7)),
            Node::DupeSet(ContentId(7)),
            Node::DupeCopy(EntryId(7)),
            Node::ViewFile(EntryId(7)),
            Node::QueryRoot,
            Node::Untagged,
            Node::Query(12345),
            Node::ViewDir { view, top: EntryId(7), entry: EntryId(7) },
            Node::ViewDir { view, top: EntryId(7), entry: EntryId(8) },
            Node::ViewDir { view, top: EntryId(8), entry: EntryId(8) },
            Node::ViewDir { view: FlatView::Favorites, top: EntryId(8), entry: EntryId(8) },
        ];
        let inos: Vec<u64> = nodes.iter().map(|n| inodes.ino_of(*n)).collect();
        nodes.iter().zip(&inos).for_each(|(n, i)| inodes.keep(*i, *n));
        let mut distinct = inos.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), nodes.len());
        for (node, ino) in nodes.iter().zip(&inos) {
            assert_eq!(inodes.node_of(*ino), Some(*node));
        }
        // Stable: a fresh table (a remount) gives the same numbers.
        assert_eq!(Inodes::default().ino_of(nodes[12]), inos[12]);
        assert_eq!(inodes.node_of(HASHED | 12345), None);
        // Forgotten, a hashed number resolves no more.
        let hashed = inos[16];
        inodes.forget(hashed);
        assert_eq!(inodes.node_of(hashed), None);
    }
}
