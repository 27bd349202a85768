//! `labels/`: labels as nested folders. A label's folder holds its child labels first, then the entries carrying
//! that label (exactly that one; sub-labels' entries are in the sub-folders).
//!
//! Changes: mkdir makes a label (below the folder's label), rmdir deletes one, mv renames or moves a label under
//! another (or to the top); entries join and leave a label as in any flat view.

use super::{Ctx, Listed, Node, NodeKind, View, flat, text};
use crate::error::Result;
use crate::library::write::Membership;
use crate::library::{FlatView, LabelId};

pub struct Labels;

/// The label a folder of this view stands for (`None` for `labels/` itself).
fn label_of(dir: Node) -> Option<LabelId> {
    match dir {
        Node::Label(label) => Some(label),
        _ => None,
    }
}

impl View for Labels {
    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        lookup(cx, label_of(dir), name)
    }

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        list(cx, label_of(dir), cookie)
    }

    fn exists(&self, cx: &Ctx<'_>, node: Node) -> Result<bool> {
        match node {
            Node::Label(id) => cx.reader.label_exists(id),
            _ => Ok(true),
        }
    }

    fn membership(&self, dir: Node) -> Option<Membership> {
        label_of(dir).map(Membership::Label)
    }

    fn mkdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Node> {
        Ok(Node::Label(cx.writer.create_label(label_of(dir), text(name)?.to_owned())?))
    }

    fn rmdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<()> {
        match cx.child(dir, name)? {
            Node::Label(label) => cx.writer.delete_label(label),
            _ => flat::leave(self, cx, dir, name).map(drop),
        }
    }

    fn rename(&self, cx: &Ctx<'_>, _dir: Node, child: Node, to: Node, new_name: &[u8]) -> Result<Option<()>> {
        match (child, to) {
            (Node::Label(label), Node::Labels | Node::Label(_)) => {
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
        return Ok(Some((Node::Label(id), NodeKind::Dir)));
    }
    match parent {
        Some(label) => flat::lookup(r, FlatView::Label(label), name),
        None => Ok(None),
    }
}

fn list(r: &Ctx<'_>, parent: Option<LabelId>, cookie: u64) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    if cookie < ENTRY_COOKIES {
        out.extend(
            r.reader
                .child_labels(parent)?
                .into_iter()
                .filter(|(id, _)| id.0 as u64 > cookie)
                .map(|(id, name)| Listed::folder(name.into_bytes(), Node::Label(id), id.0 as u64)),
        );
    }
    if let Some(label) = parent {
        let after = cookie.saturating_sub(ENTRY_COOKIES);
        out.extend(flat::list(r, FlatView::Label(label), after)?.into_iter().map(|mut l| {
            l.cookie += ENTRY_COOKIES;
            l
        }));
    }
    Ok(out)
}
