//! The views: a pure resolver from (folder, name) to node and from folder to its children, reading the library
//! and writing nothing. It knows nothing of FUSE; `crate::fs` turns nodes into inodes and attributes.
//!
//! One file per view: `locations` (the real trees), `tags`, `labels`, `favorites`, `duplicates`, and `flat` for
//! what the flat views share (naming with collision suffixes, real folders seen through a view).

mod duplicates;
mod flat;
mod labels;
mod locations;
mod queries;
mod tags;

pub use queries::{QueryTable, query_key};

pub use flat::suffixed_name;
pub use locations::listed_entry;

use crate::error::Result;
use crate::library::{ContentId, EntryId, EntryKind, FlatView, LabelId, LocationId, Reader, TagId};

/// Everything the mount can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    Root,
    Locations,
    Tags,
    Labels,
    Favorites,
    Duplicates,
    /// `locations/<name>`.
    Location(LocationId),
    /// A real file or folder below `locations/`.
    Entry(EntryId),
    /// A real file (or link) shown in a flat view or below a folder shown there: the same file as its `Entry`,
    /// under an inode of its own, so what comes through a view can be told from what comes through `locations/`.
    ViewFile(EntryId),
    /// `tags/<tag>`.
    Tag(TagId),
    /// `labels/…/<label>`.
    Label(LabelId),
    /// `duplicates/<group>`.
    DupeSet(ContentId),
    /// `query/`.
    QueryRoot,
    /// `query/<expression or saved name>`: the key of its expression in the mount's `QueryTable`.
    Query(u64),
    /// `untagged/`: files with no tag and no label.
    Untagged,
    /// A file shown in a duplicates group: the real file, read-only there (its own inode, so writes can be refused).
    DupeCopy(EntryId),
    /// A real folder seen through a flat view: `entry`, found at or below `top`, the folder the view lists.
    /// A folder gets one of these per place it is shown, so no folder has two parents with one inode.
    ViewDir {
        view: FlatView,
        top: EntryId,
        entry: EntryId,
    },
}

/// What kind of thing a node is, as `stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    File,
    Symlink,
    Other,
}

impl NodeKind {
    pub fn of_entry(kind: EntryKind) -> NodeKind {
        match kind {
            EntryKind::File => NodeKind::File,
            EntryKind::Dir => NodeKind::Dir,
            EntryKind::Symlink => NodeKind::Symlink,
            EntryKind::Other => NodeKind::Other,
        }
    }
}

/// One child in a listing. `cookie` orders the listing: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: Vec<u8>,
    pub node: Node,
    pub kind: NodeKind,
    pub cookie: u64,
    /// For real entries: where the real file is, so a listing needs no query per entry to stat it.
    pub place: Option<Place>,
}

/// Where a real entry lives: its location, its parent's path and its own name on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub location: LocationId,
    pub relative_path: Vec<u8>,
    pub name: Vec<u8>,
    pub kind: EntryKind,
}

impl Listed {
    /// A virtual folder (no real file behind it).
    pub fn folder(name: impl Into<Vec<u8>>, node: Node, cookie: u64) -> Listed {
        Listed { name: name.into(), node, kind: NodeKind::Dir, cookie, place: None }
    }
}

/// The names of the top-level folders, in listing order.
pub const TOP_LEVEL: [(&str, Node); 7] = [
    ("locations", Node::Locations),
    ("tags", Node::Tags),
    ("labels", Node::Labels),
    ("favorites", Node::Favorites),
    ("duplicates", Node::Duplicates),
    ("query", Node::QueryRoot),
    ("untagged", Node::Untagged),
];

/// How many children one call lists at most; callers ask again after the last cookie.
pub const PAGE: usize = 512;

pub struct Resolver<'a> {
    pub reader: &'a Reader,
    pub show_hidden: bool,
    pub queries: &'a QueryTable,
}

impl Resolver<'_> {
    /// The child `name` of the folder `parent`, if there is one.
    pub fn lookup(&self, parent: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        match parent {
            Node::Root => {
                Ok(TOP_LEVEL.iter().find(|(n, _)| n.as_bytes() == name).map(|(_, node)| (*node, NodeKind::Dir)))
            }
            Node::Locations => locations::lookup_location(self.reader, name),
            Node::Location(_) | Node::Entry(_) => locations::lookup(self.reader, parent, name),
            Node::Tags => tags::lookup_tag(self.reader, name),
            Node::Tag(tag) => flat::lookup(self, FlatView::Tag(tag), name),
            Node::Labels => labels::lookup(self, None, name),
            Node::Label(label) => labels::lookup(self, Some(label), name),
            Node::Favorites => flat::lookup(self, FlatView::Favorites, name),
            Node::Duplicates => duplicates::lookup_set(self.reader, name),
            Node::DupeSet(content) => duplicates::lookup_member(self, content, name),
            Node::DupeCopy(_) | Node::ViewFile(_) => Ok(None),
            Node::QueryRoot => queries::lookup_query(self, name),
            Node::Query(key) => queries::lookup(self, key, name),
            Node::Untagged => flat::lookup(self, FlatView::Untagged, name),
            Node::ViewDir { view, top, entry } => flat::lookup_below(self.reader, view, top, entry, name),
        }
    }

    /// Up to `PAGE` children of `dir` after `cookie` (0 = from the start), in cookie order.
    pub fn list(&self, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        match dir {
            Node::Root => Ok(TOP_LEVEL
                .iter()
                .enumerate()
                .skip(cookie as usize)
                .map(|(i, (n, node))| Listed::folder(n.as_bytes().to_vec(), *node, i as u64 + 1))
                .collect()),
            Node::Locations => locations::list_locations(self.reader, cookie),
            Node::Location(_) | Node::Entry(_) => locations::list(self.reader, dir, cookie),
            Node::Tags => tags::list_tags(self.reader, cookie),
            Node::Tag(tag) => flat::list(self, FlatView::Tag(tag), cookie),
            Node::Labels => labels::list(self, None, cookie),
            Node::Label(label) => labels::list(self, Some(label), cookie),
            Node::Favorites => flat::list(self, FlatView::Favorites, cookie),
            Node::Duplicates => duplicates::list_sets(self.reader, cookie),
            Node::DupeSet(content) => duplicates::list_members(self, content, cookie),
            Node::DupeCopy(_) | Node::ViewFile(_) => Ok(Vec::new()),
            Node::QueryRoot => queries::list_saved(self, cookie),
            Node::Query(key) => queries::list(self, key, cookie),
            Node::Untagged => flat::list(self, FlatView::Untagged, cookie),
            Node::ViewDir { view, top, entry } => flat::list_below(self.reader, view, top, entry, cookie),
        }
    }

    /// Whether a node still exists (a tag or label may have been deleted since the kernel learned of it).
    pub fn exists(&self, node: Node) -> Result<bool> {
        Ok(match node {
            Node::Root
            | Node::Locations
            | Node::Tags
            | Node::Labels
            | Node::Favorites
            | Node::Duplicates
            | Node::QueryRoot
            | Node::Untagged => true,
            Node::Query(key) => self.queries.get(key).is_some(),
            Node::Location(id) => self.reader.location_by_id(id)?.is_some(),
            Node::Entry(id) | Node::ViewDir { entry: id, .. } | Node::DupeCopy(id) | Node::ViewFile(id) => {
                self.reader.entry_info(id)?.is_some()
            }
            Node::Tag(id) => self.reader.tag_exists(id)?,
            Node::Label(id) => self.reader.label_exists(id)?,
            Node::DupeSet(id) => self.reader.dupe_set(id)?.is_some(),
        })
    }
}
