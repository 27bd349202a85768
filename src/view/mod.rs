//! The views. Each is one file and one `View`: how its folders resolve (`(folder, name) -> node`,
//! `folder -> children`, reading the library, with its own SQL) and what it does with the changes a program asks of
//! it (mkdir, rmdir, unlink, rename, link, symlink, attributes of its folders), as commands to the writer. A view
//! knows nothing of FUSE or of inode numbers: `crate::fs` dispatches to it (`of`) and turns nodes into inodes and
//! attributes, and `crate::inode` numbers any view's folders from the view's id.
//!
//! Files: `root` (the top level), `locations` (the real trees: their changes are made on the disk by `crate::fs`),
//! `tags`, `labels`, `favorites`, `untagged`, `duplicates` (read-only), `queries`, `devices` (other devices, read-only),
//! and `flat` for what the flat
//! views share (names with collision suffixes, membership, the real folders seen through a view).
//!
//! Adding a view: a file here with its `View` (its `ID` the next free number), and its line in `views!` below.

pub mod flat;
mod root;

pub use queries::{QueryTable, query_key};

pub use devices::snapshots_may_have_changed;
pub use flat::suffixed_name;
pub use locations::listed_entry;

use crate::error::{Error, Result};
use crate::library::write::Membership;
use crate::library::writer::Writer;
use crate::library::{EntryId, EntryKind, FlatSql, LocationId, Reader};
use std::path::Path;

/// Declares each view's file and lists its `View` in `VIEWS`.
macro_rules! views {
    ($($file:ident :: $view:ident,)*) => {
        $(mod $file;)*
        /// Every view, in the order the top level lists them; a view's `id` is its position here.
        pub static VIEWS: &[&dyn View] = &[$(&$file::$view),*];
    };
}

// The registry: one line per view.
views! {
    locations::Locations,
    tags::Tags,
    labels::Labels,
    favorites::Favorites,
    duplicates::Duplicates,
    queries::Queries,
    untagged::Untagged,
    devices::Devices,
}

/// A view's position in `VIEWS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewId(pub u8);

impl ViewId {
    pub fn view(self) -> &'static dyn View {
        VIEWS[self.0 as usize]
    }
}

/// The view of `locations/`, which `crate::fs` knows: the real trees.
pub const LOCATIONS: ViewId = locations::ID;

/// Everything the mount can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    Root,
    /// A view's top folder (`tags/`, `favorites/`, …).
    Top(ViewId),
    /// One of a view's own folders below its top: what the id stands for is the view's (a tag, a label, a
    /// duplicates group, a query folder's key).
    Folder(ViewId, i64),
    /// `locations/<name>`.
    Location(LocationId),
    /// A real file or folder below `locations/`.
    Entry(EntryId),
    /// A real file (or link) shown in a flat view or below a folder shown there: the same file as its `Entry`,
    /// under an inode of its own, so what comes through a view can be told from what comes through `locations/`.
    ViewFile(EntryId),
    /// A real file a view shows as its own (a copy in a duplicates group): its own inode, so the view's rules
    /// apply to it (writes refused there).
    Shown(ViewId, EntryId),
    /// A file of another device, shown from that device's snapshot: what the id stands for is the view's.
    Foreign(ViewId, i64),
    /// A real folder seen through a flat view: `entry`, found at or below `top`, the folder the view lists.
    /// A folder gets one of these per place it is shown, so no folder has two parents with one inode.
    ViewDir {
        view: FlatView,
        top: EntryId,
        entry: EntryId,
    },
}

/// A flat folder: which view, and which of its folders (a tag's id; 0 for a view of one folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlatView {
    pub view: ViewId,
    pub id: i64,
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

/// A file of another device (`Node::Foreign`): what `stat` shows, and where it can be read on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    pub size: u64,
    pub mode: u32,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    /// Another device's folder in a flat view is a symlink to it under `devices/`: its target.
    pub link: Option<Vec<u8>>,
}

/// How many children one call lists at most; callers ask again after the last cookie.
pub const PAGE: usize = 512;

/// What a view acts with: a reader of the library, the writer to change it, and the mount's settings.
pub struct Ctx<'a> {
    pub reader: &'a Reader,
    pub writer: &'a Writer,
    pub show_hidden: bool,
    pub queries: &'a QueryTable,
    /// Where the file system is mounted, so links into the mount itself are recognised.
    pub mountpoint: Option<&'a Path>,
}

impl Ctx<'_> {
    /// The child `name` of the folder `dir`, if there is one.
    pub fn lookup(&self, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        of(dir).lookup(self, dir, name)
    }

    /// Up to `PAGE` children of `dir` after `cookie` (0 = from the start), in cookie order.
    pub fn list(&self, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        of(dir).list(self, dir, cookie)
    }

    /// Whether a node still exists (a tag or label may have been deleted since the kernel learned of it).
    pub fn exists(&self, node: Node) -> Result<bool> {
        of(node).exists(self, node)
    }

    /// The child `name` of `dir`, or ENOENT.
    pub fn child(&self, dir: Node, name: &[u8]) -> Result<Node> {
        Ok(self.lookup(dir, name)?.ok_or_else(|| Error::NotFound(String::new()))?.0)
    }
}

/// A view: its folders' contents and its rules for changes. What a view does not do is refused with EPERM
/// (EROFS for a read-only view); the defaults are the rules of a flat view (an entry put in or taken out of the
/// view's membership), so a view with `membership` needs to say nothing more.
pub trait View: Sync {
    /// Its position in `VIEWS`.
    fn id(&self) -> ViewId;

    /// Its folder at the top level.
    fn name(&self) -> &'static str;

    /// A flat view's SQL (`flat`): what its folders list, and how a name is looked up in them.
    fn flat_sql(&self) -> Option<&'static FlatSql> {
        None
    }

    /// Whether its folders carry state the mount keeps while the kernel holds them (`Ctx::queries`): their lookups
    /// are counted, and the state goes when the kernel forgets them.
    fn keeps_folders(&self) -> bool {
        false
    }

    /// Whether `name` in `dir` is shown only until a mkdir makes it for real (a query folder whose name parses
    /// but is not saved): it must look missing to a process inside mkdir(2), or the kernel answers EEXIST itself.
    fn shown_until_made(&self, _cx: &Ctx<'_>, _dir: Node, _name: &[u8]) -> Result<bool> {
        Ok(false)
    }

    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>>;

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>>;

    /// Whether `node`, one of this view's, still exists.
    fn exists(&self, _cx: &Ctx<'_>, _node: Node) -> Result<bool> {
        Ok(true)
    }

    /// A read-only view refuses every change with EROFS.
    fn read_only(&self) -> bool {
        false
    }

    /// The membership folder `dir` stands for: what is linked or moved into it joins, what is removed leaves.
    fn membership(&self, _dir: Node) -> Option<Membership> {
        None
    }

    /// The error for a change this view does not make.
    fn refusal(&self) -> Error {
        if self.read_only() {
            Error::ReadOnly("read-only".into())
        } else {
            Error::NotPermitted("not supported through the mount yet".into())
        }
    }

    /// mkdir `name` in `dir`: the node made.
    fn mkdir(&self, _cx: &Ctx<'_>, _dir: Node, _name: &[u8]) -> Result<Node> {
        Err(self.refusal())
    }

    /// rmdir `name` in `dir`: a folder listed in a flat view leaves it.
    fn rmdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<()> {
        flat::leave(self, cx, dir, name).map(drop)
    }

    /// unlink `name` in `dir`: an entry leaves the flat view (its file is never touched). Answers the node that
    /// left, whose link count the kernel changed by itself.
    fn unlink(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<Node>> {
        flat::leave(self, cx, dir, name).map(Some)
    }

    /// rename of one of this view's own folders (`child`, named in `dir`) to `new_name` in `to`; `None` when
    /// `child` is not one, and the rename is an entry changing views (see `flat::move_member`).
    fn rename(&self, _cx: &Ctx<'_>, _dir: Node, _child: Node, _to: Node, _new_name: &[u8]) -> Result<Option<()>> {
        Ok(None)
    }

    /// One of this view's `Node::Foreign` files.
    fn foreign(&self, _cx: &Ctx<'_>, _node: Node) -> Result<Foreign> {
        Err(Error::NotFound(String::new()))
    }

    /// Where one of this view's `Node::Foreign` files can be read on this machine (`None`: nowhere). Asked only to
    /// open it, so stating and listing touch no disk.
    fn foreign_path(&self, _cx: &Ctx<'_>, _node: Node) -> Result<Option<std::path::PathBuf>> {
        Ok(None)
    }

    /// An attribute of one of this view's folders (entries' attributes are the same in every view: `crate::fs`).
    fn get_xattr(&self, _cx: &Ctx<'_>, _node: Node, name: &[u8]) -> Result<Vec<u8>> {
        Err(not_supported(name))
    }

    fn list_xattr(&self, _cx: &Ctx<'_>, _node: Node) -> Result<Vec<&'static str>> {
        Ok(Vec::new())
    }

    /// Sets (`Some`) or removes (`None`) an attribute of one of this view's folders.
    fn set_xattr(&self, _cx: &Ctx<'_>, _node: Node, name: &[u8], _value: Option<&[u8]>) -> Result<()> {
        Err(not_supported(name))
    }
}

/// The view a node belongs to.
pub fn of(node: Node) -> &'static dyn View {
    match node {
        Node::Root => &root::Root,
        Node::Top(view) | Node::Folder(view, _) | Node::Shown(view, _) | Node::Foreign(view, _) => view.view(),
        Node::Location(_) | Node::Entry(_) => LOCATIONS.view(),
        Node::ViewDir { .. } | Node::ViewFile(_) => &flat::Below,
    }
}

/// Folders whose contents come from the library's metadata rather than a real folder.
pub fn is_view_folder(node: Node) -> bool {
    matches!(node, Node::Top(_) | Node::Folder(..))
}

/// The entry an item of a flat view stands for: a file, or a folder the view lists itself.
pub fn member_entry(node: Node) -> Option<EntryId> {
    match node {
        Node::Entry(id) | Node::Shown(_, id) | Node::ViewFile(id) => Some(id),
        Node::ViewDir { top, entry, .. } if top == entry => Some(entry),
        _ => None,
    }
}

pub fn not_supported(name: &[u8]) -> Error {
    Error::NotSupported(format!("{} is not supported here", String::from_utf8_lossy(name)))
}

/// A name given to a tag or label folder, which must be text.
fn text(name: &[u8]) -> Result<&str> {
    std::str::from_utf8(name).map_err(|_| Error::InvalidName("tag and label names must be UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_view_sits_at_its_own_id_under_its_own_name() {
        let mut names = std::collections::HashSet::new();
        for (at, view) in VIEWS.iter().enumerate() {
            assert_eq!(view.id(), ViewId(at as u8), "{}", view.name());
            assert!(names.insert(view.name()), "{} twice", view.name());
            assert!(!view.name().is_empty() && !view.name().contains('/'), "{}", view.name());
        }
    }
}
