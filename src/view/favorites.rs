//! `favorites/`: the favorited entries (a flat view: see `flat`). An entry linked, moved or symlinked in is
//! favorited; removed, it is not any more.

use super::{Ctx, Listed, Node, NodeKind, View, flat};
use crate::error::Result;
use crate::library::FlatView;
use crate::library::write::Membership;

pub struct Favorites;

impl View for Favorites {
    fn lookup(&self, cx: &Ctx<'_>, _dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        flat::lookup(cx, FlatView::Favorites, name)
    }

    fn list(&self, cx: &Ctx<'_>, _dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        flat::list(cx, FlatView::Favorites, cookie)
    }

    fn membership(&self, _dir: Node) -> Option<Membership> {
        Some(Membership::Favorite)
    }
}
