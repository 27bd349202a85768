//! What the flat views (a tag's folder, a label's folder, favorites) share.
//!
//! Entries are shown under their plain file name; when two different entries in one view have the same name,
//! each is shown as `stem~ID.ext` (ID = its entry id, stable across remounts, never a position). The suffixed form
//! is always accepted by lookup. A folder in a flat view is its real folder, with its real contents below.

use super::locations::listed_entry;
use super::{Listed, Node, NodeKind, PAGE, Resolver};
use crate::error::Result;
use crate::library::{Child, EntryId, EntryKind, FlatView, Reader};

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

pub fn lookup(r: &Resolver<'_>, view: FlatView, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    let named = r.reader.view_named(view, r.show_hidden, name)?;
    if let [only] = named.as_slice() {
        return Ok(Some((node_in_view(view, only), NodeKind::of_entry(only.kind))));
    }
    if let Some(id) = suffix_id(name)
        && let Some(c) = r.reader.view_member(view, r.show_hidden, id)?
        && suffixed_name(&c.name, c.id) == name
    {
        return Ok(Some((node_in_view(view, &c), NodeKind::of_entry(c.kind))));
    }
    Ok(None)
}

pub fn list(r: &Resolver<'_>, view: FlatView, cookie: u64) -> Result<Vec<Listed>> {
    Ok(r.reader
        .view_page(view, r.show_hidden, cookie as i64, PAGE)?
        .into_iter()
        .map(|c| {
            let (name, node) = (shown_name(&c), node_in_view(view, &c));
            listed_entry(c, name, node)
        })
        .collect())
}

/// The real contents of a folder shown in a flat view.
pub fn lookup_below(
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

pub fn list_below(reader: &Reader, view: FlatView, top: EntryId, entry: EntryId, cookie: u64) -> Result<Vec<Listed>> {
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
    }
}
