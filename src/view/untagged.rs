//! `untagged/`: files with no tag and no label, what is left to organise (a flat view: see `flat`). It is what the
//! other views leave: nothing is added to or removed from it directly (EPERM); tagging a file takes it out.

use super::{Ctx, Listed, Node, NodeKind, View, flat};
use crate::error::Result;
use crate::library::FlatView;

pub struct Untagged;

impl View for Untagged {
    fn lookup(&self, cx: &Ctx<'_>, _dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        flat::lookup(cx, FlatView::Untagged, name)
    }

    fn list(&self, cx: &Ctx<'_>, _dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        flat::list(cx, FlatView::Untagged, cookie)
    }
}
