//! What the flat views (a tag's folder, a label's folder, favorites) share.
//!
//! Entries are shown under their plain file name; when two different entries in one view have the same name,
//! each is shown as `stem~ID.ext` (ID = its entry id, stable across remounts, never a position). The suffixed form
//! is always accepted by lookup. A folder in a flat view is its real folder, with its real contents below
//! (`Below`, the view of those).
//!
//! Changes are membership: an entry linked, moved or symlinked into a view's folder joins what the folder stands
//! for (a tag, a label, favorites), and one removed or moved out leaves it. The real file is never touched.
//!
//! Other devices' files (`crate::sync`) in a tag, a label or favorites are listed after this device's, under their
//! own name, or as `stem~D<device>-<entry>.ext` when another file of the folder has that name. They are `devices/`'s
//! files (`Node::Foreign`): their content read-only, stated from their device's snapshot. Their memberships change
//! as this device's do (rm, ln, mv): shown at once (`foreign_members`), and recorded in the shared document at the
//! next exchange (`foreign_edits`). A folder of another device is a symlink to it under `devices/`
//! (`devices::folder_link_node`): its contents live only in that device's snapshot, and a folder with two parents
//! would confuse the kernel's cache of names.

use super::locations::listed_entry;
use super::{Ctx, FlatView, Listed, Node, NodeKind, PAGE, View, ViewId, devices, member_entry};
use crate::error::{Error, Result};
use crate::library::write::Membership;
use crate::library::{Child, EntryId, EntryKind, Flat, ForeignMember, ForeignView, Reader};
use std::path::Path;

/// Real folders seen through a flat view, and the files in them: their real contents. Removing anything inside
/// succeeds and does nothing: views never delete real files, and this is what lets `rm -rf tags/T` finish (it then
/// takes the folder itself out of the view, and rmdir deletes the tag).
pub struct Below;

impl View for Below {
    /// Not one of `VIEWS`: its nodes say which view they are seen through.
    fn id(&self) -> ViewId {
        ViewId(u8::MAX)
    }

    fn name(&self) -> &'static str {
        ""
    }

    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        match dir {
            Node::ViewDir { view, top, entry } => lookup_below(cx.reader, view, top, entry, name),
            _ => Ok(None),
        }
    }

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        match dir {
            Node::ViewDir { view, top, entry } => list_below(cx.reader, view, top, entry, cookie),
            _ => Ok(Vec::new()),
        }
    }

    fn exists(&self, cx: &Ctx<'_>, node: Node) -> Result<bool> {
        match node {
            Node::ViewDir { entry: id, .. } | Node::ViewFile(id) => Ok(cx.reader.entry_info(id)?.is_some()),
            _ => Ok(true),
        }
    }

    fn rmdir(&self, _cx: &Ctx<'_>, dir: Node, _name: &[u8]) -> Result<()> {
        if matches!(dir, Node::ViewDir { .. }) { Ok(()) } else { Err(self.refusal()) }
    }

    fn unlink(&self, _cx: &Ctx<'_>, dir: Node, _name: &[u8]) -> Result<Option<Node>> {
        if matches!(dir, Node::ViewDir { .. }) { Ok(None) } else { Err(self.refusal()) }
    }
}

/// `name` in folder `dir` of `view` leaves the membership the folder stands for; answers what left.
pub fn leave<V: View + ?Sized>(view: &V, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Node> {
    let Some(membership) = view.membership(dir) else { return Err(view.refusal()) };
    let child = cx.child(dir, name)?;
    if let Some(file) = devices::foreign_file(cx, child)? {
        cx.writer.change_foreign_membership(file, Some(membership), None)?;
        return Ok(child);
    }
    let entry = member_entry(child).ok_or_else(|| view.refusal())?;
    cx.writer.change_membership(entry, Some(membership), None)?;
    Ok(child)
}

/// An item (`child`, in folder `from`) moved to folder `to` of another view: it leaves the one and joins the
/// other. EPERM when either folder stands for no membership or the item is not an entry.
pub fn move_member(cx: &Ctx<'_>, from: Node, child: Node, to: Node) -> Result<()> {
    let refused = || super::of(from).refusal();
    if let Some(file) = devices::foreign_file(cx, child)? {
        return match (super::of(from).membership(from), super::of(to).membership(to)) {
            (Some(old), Some(new)) if old != new => cx.writer.change_foreign_membership(file, Some(old), Some(new)),
            _ => Err(refused()),
        };
    }
    match (super::of(from).membership(from), member_entry(child), super::of(to).membership(to)) {
        (Some(old), Some(entry), Some(new)) if old != new => cx.writer.change_membership(entry, Some(old), Some(new)),
        _ => Err(refused()),
    }
}

/// Entry `entry` joins the membership folder `to` stands for (`ln FILE <mnt>/tags/T/`).
pub fn join(cx: &Ctx<'_>, entry: EntryId, to: Node) -> Result<()> {
    let membership: Membership = super::of(to).membership(to).ok_or_else(|| super::of(to).refusal())?;
    cx.writer.change_membership(entry, None, Some(membership))
}

/// Another device's file (`node`, as `devices/` or a flat view shows it) joins folder `to` (`ln` of it into
/// `<mnt>/tags/T/`). `false` when `node` is not another device's file.
pub fn join_foreign(cx: &Ctx<'_>, node: Node, to: Node) -> Result<bool> {
    let Some(file) = devices::foreign_file(cx, node)? else { return Ok(false) };
    let membership: Membership = super::of(to).membership(to).ok_or_else(|| super::of(to).refusal())?;
    cx.writer.change_foreign_membership(file, None, Some(membership))?;
    Ok(true)
}

/// The entry at a real path joins folder `to` (`ln -s REALPATH <mnt>/tags/T/`); a path inside the mount is refused
/// with what to do instead. Answers the entry.
pub fn join_path(cx: &Ctx<'_>, target: &Path, to: Node) -> Result<EntryId> {
    if super::of(to).membership(to).is_none() {
        return Err(super::of(to).refusal());
    }
    if cx.mountpoint.is_some_and(|m| target.starts_with(m)) {
        return Err(Error::OutsideLocations(format!(
            "link to the real file ({}), or use ln without -s for paths inside the mount",
            crate::error::shown(target)
        )));
    }
    let entry = crate::library::resolve::resolve_entries(cx.reader, &[target.to_path_buf()])?[0];
    join(cx, entry, to)?;
    Ok(entry)
}

/// `report.pdf` with id 42 is `report~42.pdf`; a name without extension gets the suffix at the end.
pub fn suffixed_name(name: &[u8], id: EntryId) -> Vec<u8> {
    let suffix = format!("~{}", id.0);
    let dot = name.iter().rposition(|&b| b == b'.').filter(|&at| at > 0);
    let (stem, ext) = match dot {
        Some(at) => name.split_at(at),
        None => (name, &b""[..]),
    };
    [stem, suffix.as_bytes(), ext].concat()
}

/// The entry id in a suffixed name, if it has the form `stem~ID[.ext]`.
pub(super) fn suffix_id(name: &[u8]) -> Option<EntryId> {
    let tilde = name.iter().rposition(|&b| b == b'~')?;
    let rest = &name[tilde + 1..];
    let digits_end = rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
    if digits_end == 0 || (digits_end < rest.len() && rest[digits_end] != b'.') {
        return None;
    }
    std::str::from_utf8(&rest[..digits_end]).ok()?.parse().ok().map(EntryId)
}

pub(super) fn shown_name(c: &Child) -> Vec<u8> {
    if c.collides { suffixed_name(&c.name, c.id) } else { c.name.clone() }
}

/// How an entry of a flat view is represented: folders get a node of their own per place they are shown.
pub(super) fn node_in_view(view: FlatView, c: &Child) -> Node {
    if c.kind == EntryKind::Dir { Node::ViewDir { view, top: c.id, entry: c.id } } else { Node::ViewFile(c.id) }
}

/// The SQL and id of a flat folder; EPERM for a view without its own flat SQL (a query folder's rows are its
/// expression's: `queries`).
fn flat(view: FlatView) -> Result<Flat> {
    let sql = view.view.view().flat_sql().ok_or_else(|| Error::NotPermitted("not a flat view".into()))?;
    Ok(Flat { sql, id: view.id })
}

pub fn lookup(r: &Ctx<'_>, view: FlatView, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    let named = r.reader.view_named(flat(view)?, r.show_hidden, name)?;
    if let [only] = named.as_slice() {
        return Ok(Some((node_in_view(view, only), NodeKind::of_entry(only.kind))));
    }
    if let Some(id) = suffix_id(name)
        && let Some(c) = r.reader.view_member(flat(view)?, r.show_hidden, id)?
        && suffixed_name(&c.name, c.id) == name
    {
        return Ok(Some((node_in_view(view, &c), NodeKind::of_entry(c.kind))));
    }
    lookup_foreign(r, flat(view)?, name)
}

/// Up to `PAGE` members after `cookie`: this device's entries, then other devices' files.
pub fn list(r: &Ctx<'_>, view: FlatView, cookie: u64) -> Result<Vec<Listed>> {
    let flat = flat(view)?;
    let mut listed: Vec<Listed> = Vec::new();
    if cookie < FOREIGN {
        listed.extend(r.reader.view_page(flat, r.show_hidden, cookie as i64, PAGE)?.into_iter().map(|c| {
            let (name, node) = (shown_name(&c), node_in_view(view, &c));
            listed_entry(c, name, node)
        }));
    }
    if listed.len() < PAGE && flat.sql.foreign != ForeignView::None {
        let after = match cookie.checked_sub(FOREIGN) {
            Some(v) => ((v >> FOREIGN_DEVICE_SHIFT) as i64, (v & ((1 << FOREIGN_DEVICE_SHIFT) - 1)) as i64),
            None => (-1, -1),
        };
        for m in r.reader.foreign_page(flat, r.show_hidden, after, PAGE - listed.len())? {
            let Some((node, kind)) = foreign_node(&m) else { continue };
            let cookie = FOREIGN | ((m.device as u64) << FOREIGN_DEVICE_SHIFT) | m.entry as u64;
            let name = foreign_name(&m);
            listed.push(Listed { name, node, kind, cookie, place: None });
        }
    }
    Ok(listed)
}

/// Another device's file, or its folder as a link to it under `devices/`.
fn foreign_node(m: &ForeignMember) -> Option<(Node, NodeKind)> {
    if m.is_dir {
        devices::folder_link_node(m.device, m.entry).map(|n| (n, NodeKind::Symlink))
    } else {
        devices::file_node(m.device, m.entry).map(|n| (n, NodeKind::File))
    }
}

/// Cookies of other devices' files, after every cookie of this device's (metadata ids): (device, entry) packed.
const FOREIGN: u64 = 1 << 62;
const FOREIGN_DEVICE_SHIFT: u32 = 40;

/// Another device's file is listed under its own name, or as `stem~D<device>-<entry>.ext` when another file of the
/// folder (here or of another device) has that name.
fn foreign_name(m: &ForeignMember) -> Vec<u8> {
    if m.collides { foreign_suffixed(&m.name, m.device, m.entry) } else { m.name.clone() }
}

/// `report.pdf` of device 3, entry 42, is `report~D3-42.pdf`.
fn foreign_suffixed(name: &[u8], device: i64, entry: i64) -> Vec<u8> {
    let suffix = format!("~D{device}-{entry}");
    let dot = name.iter().rposition(|&b| b == b'.').filter(|&at| at > 0);
    let (stem, ext) = match dot {
        Some(at) => name.split_at(at),
        None => (name, &b""[..]),
    };
    [stem, suffix.as_bytes(), ext].concat()
}

/// (device, entry) of a name `stem~D<device>-<entry>[.ext]`.
fn foreign_suffix(name: &[u8]) -> Option<(i64, i64)> {
    let at = name.windows(2).rposition(|w| w == b"~D")?;
    let rest = std::str::from_utf8(&name[at + 2..]).ok()?;
    let (device, rest) = rest.split_once('-')?;
    let entry = rest.split('.').next()?;
    Some((device.parse().ok()?, entry.parse().ok()?))
}

fn lookup_foreign(r: &Ctx<'_>, flat: Flat, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    if flat.sql.foreign == ForeignView::None {
        return Ok(None);
    }
    let named = r.reader.foreign_named(flat, r.show_hidden, name)?;
    if let [only] = named.as_slice()
        && !only.collides
    {
        return Ok(foreign_node(only));
    }
    if let Some((device, entry)) = foreign_suffix(name)
        && let Some(m) = r.reader.foreign_member(flat, r.show_hidden, device, entry)?
        && foreign_suffixed(&m.name, device, entry) == name
    {
        return Ok(foreign_node(&m));
    }
    Ok(None)
}

/// The real contents of a folder shown in a flat view.
fn lookup_below(
    reader: &Reader,
    view: FlatView,
    top: EntryId,
    entry: EntryId,
    name: &[u8],
) -> Result<Option<(Node, NodeKind)>> {
    let Some(info) = reader.entry_info(entry)? else { return Ok(None) };
    Ok(reader.folder_child(info.location, &info.own_path(), name)?.map(|c| {
        let node =
            if c.kind == EntryKind::Dir { Node::ViewDir { view, top, entry: c.id } } else { Node::ViewFile(c.id) };
        (node, NodeKind::of_entry(c.kind))
    }))
}

fn list_below(reader: &Reader, view: FlatView, top: EntryId, entry: EntryId, cookie: u64) -> Result<Vec<Listed>> {
    let Some(info) = reader.entry_info(entry)? else { return Ok(Vec::new()) };
    let children = reader.folder_children(info.location, &info.own_path(), cookie as i64, PAGE)?;
    Ok(children
        .into_iter()
        .map(|c| {
            let node =
                if c.kind == EntryKind::Dir { Node::ViewDir { view, top, entry: c.id } } else { Node::ViewFile(c.id) };
            let name = c.name.clone();
            listed_entry(c, name, node)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_go_before_the_extension_and_parse_back() {
        assert_eq!(suffixed_name(b"report.pdf", EntryId(42)), b"report~42.pdf");
        assert_eq!(suffixed_name(b"README", EntryId(7)), b"README~7");
        assert_eq!(suffixed_name(b".bashrc", EntryId(7)), b".bashrc~7");
        assert_eq!(suffixed_name(b"a.tar.gz", EntryId(3)), b"a.tar~3.gz");
        assert_eq!(suffix_id(b"report~42.pdf"), Some(EntryId(42)));
        assert_eq!(suffix_id(b"README~7"), Some(EntryId(7)));
        assert_eq!(suffix_id(b"report.pdf"), None);
        assert_eq!(suffix_id(b"a~b.pdf"), None);
        assert_eq!(suffix_id(b"a~12x"), None);
        assert_eq!(foreign_suffixed(b"report.pdf", 3, 42), b"report~D3-42.pdf");
        assert_eq!(foreign_suffix(b"report~D3-42.pdf"), Some((3, 42)));
        assert_eq!(foreign_suffix(b"README~D3-7"), Some((3, 7)));
        assert_eq!(foreign_suffix(b"report~42.pdf"), None);
    }

    /// Every flat view, with its SQL (a new view is checked here too).
    fn flat_views() -> Vec<(&'static str, &'static crate::library::FlatSql)> {
        let all: Vec<_> = super::super::VIEWS.iter().filter_map(|v| Some((v.name(), v.flat_sql()?))).collect();
        assert!(all.len() >= 4, "tags, labels, favorites, untagged");
        all
    }

    #[test]
    fn a_name_or_an_id_is_looked_up_in_every_flat_view_through_an_index_not_by_reading_the_view() {
        use crate::library::testing::{plan, raw_library};
        let library = raw_library();
        let conn = &library.conn;
        for (view, sql) in flat_views() {
            // A page: the view's own order, and each row's name collisions found by name.
            let page = plan(conn, &format!("{} AND {} > ?3 ORDER BY 4 LIMIT ?4", sql.select(), sql.cookie));
            assert!(page.contains("SEARCH e2 USING INDEX entries_name (name=?)"), "{view}:\n{page}");
            // (untagged/ is every file but the tagged ones: its pages walk the entries in id order.)
            let scans = |l: &str| l.starts_with("SCAN") && !(view == "untagged" && l == "SCAN e");
            assert!(!page.lines().any(scans), "{view}:\n{page}");
            assert!(!page.contains("TEMP B-TREE"), "{view}:\n{page}");
            for (sql, first) in [
                (format!("{} AND e.name = ?3", sql.select_by_entry()), "SEARCH e USING INDEX entries_name (name=?)"),
                (format!("{} AND e.id = ?3", sql.select_by_entry()), "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)"),
            ] {
                let plan = plan(conn, &sql);
                assert_eq!(plan.lines().next(), Some(first), "{view}:\n{plan}");
                assert!(!plan.lines().any(|l| l.starts_with("SCAN")), "{view}:\n{plan}");
            }
        }
    }

    #[test]
    fn other_devices_files_of_a_flat_folder_are_paged_and_found_by_name_through_indexes() {
        use crate::library::ForeignView;
        use crate::library::testing::{plan, raw_library};
        let library = raw_library();
        let shown: Vec<_> = flat_views().into_iter().filter(|(_, sql)| sql.foreign != ForeignView::None).collect();
        assert_eq!(shown.len(), 3, "tags, labels, favorites");
        for (view, sql) in shown {
            let foreign = sql.foreign();
            for sql in [
                format!("{foreign} AND (f.device, f.entry) > (?3, ?4) ORDER BY f.device, f.entry LIMIT ?5"),
                format!("{foreign} AND f.name = ?3"),
                format!("{foreign} AND f.device = ?3 AND f.entry = ?4"),
            ] {
                let plan = plan(&library.conn, &sql);
                assert!(
                    !plan.lines().any(|l| l.starts_with("SCAN") || l.contains("TEMP B-TREE")),
                    "{view}: {sql}\n{plan}"
                );
                assert!(plan.contains("entries_name (name=?)"), "{view}: a local name clash is found by name:\n{plan}");
                // The hidden flag is not in the name index: left to itself, SQLite read every member of the folder
                // per row to find a clash (a listing of 20,000 other devices' files took 30 s).
                assert!(
                    plan.contains("SEARCH f2 USING INDEX foreign_members_name (view=? AND folder=? AND name=?)"),
                    "{view}: another device's name clash is found by name:\n{plan}"
                );
            }
        }
    }

    #[test]
    fn a_lookup_statement_is_compiled_once_not_on_every_use() {
        let dir = tempfile::tempdir().unwrap();
        let lib = crate::library::Library::open(&dir.path().join("library.db")).unwrap();
        let reader = lib.reader().unwrap();
        for (view, sql) in flat_views() {
            for i in 0..5 {
                reader.view_named(Flat { sql, id: 1 }, false, format!("f{i}.txt").as_bytes()).unwrap();
            }
            let text = format!("{} AND e.name = ?3", sql.select_by_entry());
            let stmt = reader.conn().prepare_cached(&text).unwrap();
            assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "{view}");
        }
    }
}
