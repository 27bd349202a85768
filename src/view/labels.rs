//! `labels/`: labels as nested folders. A label's folder holds its child labels first, then the entries carrying
//! that label (exactly that one; sub-labels' entries are in the sub-folders).

use super::{Listed, Node, NodeKind, Resolver, flat};
use crate::error::Result;
use crate::library::{FlatView, LabelId};

/// Cookies of a label folder's entries start here; below it they are child label ids.
const ENTRY_COOKIES: u64 = 1 << 40;

pub fn lookup(r: &Resolver<'_>, parent: Option<LabelId>, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
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

pub fn list(r: &Resolver<'_>, parent: Option<LabelId>, cookie: u64) -> Result<Vec<Listed>> {
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
