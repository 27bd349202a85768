//! Inode numbers: stable across remounts, derived from database rows, never reused for something else.
//!
//! The top byte is the node's class, the rest its row id: an entry is `1<<56 | entry id` wherever it is shown (a
//! file may appear in several views with one inode, like a hard link). A view's top folder is 2 + its id, its own
//! folders are in class `FOLDER + id`, the files it shows as its own in class `SHOWN + id`: a new view gets its
//! numbers without a line here. A real folder shown through a flat view
//! gets a number hashed from (view, top folder, folder) with the top bit set, so a folder never has two parents
//! with the same inode; those are remembered here to be resolved back, while the kernel holds them (`keep`, and
//! `forget` when the kernel forgets them: see `fs::nodes`).

use crate::library::{EntryId, LocationId};
use crate::view::{FlatView, Node, ViewId};
use std::collections::HashMap;
use std::sync::Mutex;

pub const ROOT: u64 = 1;
const CLASS_SHIFT: u32 = 56;
const ID_MASK: u64 = (1 << CLASS_SHIFT) - 1;
const HASHED: u64 = 1 << 63;

const ENTRY: u64 = 1;
const LOCATION: u64 = 2;
/// Numbers of the stand-ins answered to `ln -s` into a view; they resolve to nothing.
const STAND_IN: u64 = 6;
const VIEW_FILE: u64 = 8;
/// A view's own folders: class `FOLDER + view id`.
const FOLDER: u64 = 16;
/// Files a view shows as its own: class `SHOWN + view id`.
const SHOWN: u64 = 64;
/// Other devices' files a view shows: class `FOREIGN + view id`.
const FOREIGN: u64 = 96;
/// Top folders: number `TOP + view id`.
const TOP: u64 = 2;

/// The inode number of the stand-in for an entry linked into a view with `ln -s`.
pub fn stand_in(entry: EntryId) -> u64 {
    (STAND_IN << CLASS_SHIFT) | (entry.0 as u64 & ID_MASK)
}

/// Whether `ino` is an entry as `locations/` shows it (not through a view).
pub fn is_entry(ino: u64) -> bool {
    ino & HASHED == 0 && ino >> CLASS_SHIFT == ENTRY
}

/// Whether `ino` stands for state the mount keeps only while the kernel holds it (a folder seen through a view,
/// whose number is hashed; a folder of a view that keeps state for its folders, such as a query's expression).
pub fn is_kept(ino: u64) -> bool {
    let class = ino >> CLASS_SHIFT;
    ino & HASHED != 0
        || ((FOLDER..SHOWN).contains(&class)
            && crate::view::VIEWS.get((class - FOLDER) as usize).is_some_and(|v| v.keeps_folders()))
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
            Node::Top(ViewId(v)) => TOP + v as u64,
            Node::Folder(ViewId(v), id) => class(FOLDER + v as u64, id),
            Node::Shown(ViewId(v), EntryId(id)) => class(SHOWN + v as u64, id),
            Node::Foreign(ViewId(v), id) => class(FOREIGN + v as u64, id),
            Node::Entry(EntryId(id)) => class(ENTRY, id),
            Node::Location(LocationId(id)) => class(LOCATION, id),
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
        let views = crate::view::VIEWS.len() as u64;
        let view = |first: u64, at: u64| (at >= first && at < first + views).then(|| ViewId((at - first) as u8));
        let class = ino >> CLASS_SHIFT;
        Some(match class {
            0 if ino == ROOT => Node::Root,
            0 => Node::Top(view(TOP, ino)?),
            ENTRY => Node::Entry(EntryId(id)),
            LOCATION => Node::Location(LocationId(id)),
            VIEW_FILE => Node::ViewFile(EntryId(id)),
            _ => match (view(FOLDER, class), view(SHOWN, class), view(FOREIGN, class)) {
                (Some(v), _, _) => Node::Folder(v, id),
                (_, Some(v), _) => Node::Shown(v, EntryId(id)),
                (_, _, Some(v)) => Node::Foreign(v, id),
                _ => return None,
            },
        })
    }
}

fn view_dir_ino(view: FlatView, top: EntryId, entry: EntryId) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"spacefs view dir");
    hasher.update(&[view.view.0]);
    for n in [view.id, top.0, entry.0] {
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
        let view = FlatView { view: ViewId(1), id: 3 };
        let mut nodes = vec![
            Node::Root,
            Node::Entry(EntryId(7)),
            Node::Location(LocationId(7)),
            Node::ViewFile(EntryId(7)),
            Node::ViewDir { view, top: EntryId(7), entry: EntryId(7) },
            Node::ViewDir { view, top: EntryId(7), entry: EntryId(8) },
            Node::ViewDir { view, top: EntryId(8), entry: EntryId(8) },
            Node::ViewDir { view: FlatView { view: ViewId(3), id: 0 }, top: EntryId(8), entry: EntryId(8) },
        ];
        for v in crate::view::VIEWS.iter().map(|v| v.id()) {
            nodes.extend([
                Node::Top(v),
                Node::Folder(v, 7),
                Node::Folder(v, 1 << 40),
                Node::Shown(v, EntryId(7)),
                Node::Foreign(v, 7),
            ]);
        }
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
        assert_eq!(Inodes::default().ino_of(nodes[3]), inos[3]);
        assert_eq!(inodes.node_of(HASHED | 12345), None);
        // The top folders keep the numbers they always had: locations/ is 2, tags/ 3.
        assert_eq!(inodes.ino_of(Node::Top(crate::view::LOCATIONS)), 2);
        assert_eq!(inodes.node_of(3), Some(Node::Top(ViewId(1))));
        // Forgotten, a hashed number resolves no more.
        let hashed = inos[4];
        inodes.forget(hashed);
        assert_eq!(inodes.node_of(hashed), None);
    }
}
