//! `labels/`: labels as nested folders. A label's folder holds its child labels first, then the entries carrying
//! that label (exactly that one; sub-labels' entries are in the sub-folders).
//!
//! Changes: mkdir makes a label (below the folder's label), rmdir deletes one, mv renames or moves a label under
//! another (or to the top); entries join and leave a label as in any flat view.

use super::{Ctx, FlatView, Listed, Node, NodeKind, PAGE, View, ViewId, flat, text};
use crate::error::Result;
use crate::library::write::Membership;
use crate::library::{FlatSql, ForeignView, LabelId};

pub const ID: ViewId = ViewId(2);

static SQL: FlatSql = FlatSql {
    membership: "CROSS JOIN metadata_label {v} ON {v}.metadata_id = {e}.metadata_id AND {v}.label_id = ?1 \
                 JOIN user_metadata {m} ON {m}.id = {e}.metadata_id WHERE (?2 OR {m}.hidden = 0)",
    cookie: "v.metadata_id",
    by_view: "metadata_label v CROSS JOIN entries e ON e.metadata_id = v.metadata_id \
              JOIN user_metadata m ON m.id = v.metadata_id WHERE v.label_id = ?1 AND (?2 OR m.hidden = 0)",
    foreign: ForeignView::Labels,
};

pub struct Labels;

/// The folder of a label.
fn folder(label: LabelId) -> Node {
    Node::Folder(ID, label.0)
}

/// The label a folder of this view stands for (`None` for `labels/` itself).
fn label_of(dir: Node) -> Option<LabelId> {
    match dir {
        Node::Folder(ID, label) => Some(LabelId(label)),
        _ => None,
    }
}

fn flat_of(label: LabelId) -> FlatView {
    FlatView { view: ID, id: label.0 }
}

impl View for Labels {
    fn id(&self) -> ViewId {
        ID
    }

    fn name(&self) -> &'static str {
        "labels"
    }

    fn flat_sql(&self) -> Option<&'static FlatSql> {
        Some(&SQL)
    }

    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        lookup(cx, label_of(dir), name)
    }

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        list(cx, label_of(dir), cookie)
    }

    fn exists(&self, cx: &Ctx<'_>, node: Node) -> Result<bool> {
        match label_of(node) {
            Some(id) => cx.reader.label_exists(id),
            None => Ok(true),
        }
    }

    fn membership(&self, dir: Node) -> Option<Membership> {
        label_of(dir).map(Membership::Label)
    }

    fn mkdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Node> {
        Ok(folder(cx.writer.create_label(label_of(dir), text(name)?.to_owned())?))
    }

    fn rmdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<()> {
        match label_of(cx.child(dir, name)?) {
            Some(label) => cx.writer.delete_label(label),
            None => flat::leave(self, cx, dir, name).map(drop),
        }
    }

    fn rename(&self, cx: &Ctx<'_>, _dir: Node, child: Node, to: Node, new_name: &[u8]) -> Result<Option<()>> {
        match (label_of(child), to) {
            (Some(label), Node::Top(ID) | Node::Folder(ID, _)) => {
                cx.writer.move_label(label, label_of(to), text(new_name)?.to_owned()).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// Cookies of a label folder's entries start here; below it they are child label ids.
const ENTRY_COOKIES: u64 = 1 << 40;

fn lookup(r: &Ctx<'_>, parent: Option<LabelId>, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    if let Ok(text) = std::str::from_utf8(name)
        && let Some(id) = r.reader.child_label(parent, text)?
    {
        return Ok(Some((folder(id), NodeKind::Dir)));
    }
    match parent {
        Some(label) => flat::lookup(r, flat_of(label), name),
        None => Ok(None),
    }
}

/// Up to `PAGE` children in cookie order: child labels (by id), then entries.
fn list(r: &Ctx<'_>, parent: Option<LabelId>, cookie: u64) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    if cookie < ENTRY_COOKIES {
        out.extend(
            r.reader
                .child_labels(parent)?
                .into_iter()
                .filter(|(id, _)| id.0 as u64 > cookie)
                .take(PAGE)
                .map(|(id, name)| Listed::folder(name.into_bytes(), folder(id), id.0 as u64)),
        );
    }
    if let Some(label) = parent
        && out.len() < PAGE
    {
        let after = cookie.saturating_sub(ENTRY_COOKIES);
        out.extend(flat::list(r, flat_of(label), after)?.into_iter().map(|mut l| {
            l.cookie += ENTRY_COOKIES;
            l
        }));
    }
    out.truncate(PAGE);
    Ok(out)
}
