//! `favorites/`: the favorited entries (a flat view: see `flat`). An entry linked, moved or symlinked in is
//! favorited; removed, it is not any more.

use super::{Ctx, FlatView, Listed, Node, NodeKind, View, ViewId, flat};
use crate::error::Result;
use crate::library::{FlatSql, ForeignView};
use crate::library::write::Membership;

pub const ID: ViewId = ViewId(3);
const FOLDER: FlatView = FlatView { view: ID, id: 0 };

static SQL: FlatSql = FlatSql {
    membership: "CROSS JOIN user_metadata {m} ON {m}.id = {e}.metadata_id WHERE {m}.favorite = 1 AND ?1 = ?1 \
                 AND (?2 OR {m}.hidden = 0)",
    cookie: "m.id",
    by_view: "user_metadata m CROSS JOIN entries e ON e.metadata_id = m.id \
              WHERE m.favorite = 1 AND ?1 = ?1 AND (?2 OR m.hidden = 0)",
    foreign: ForeignView::Favorites,
};

pub struct Favorites;

impl View for Favorites {
    fn id(&self) -> ViewId {
        ID
    }

    fn name(&self) -> &'static str {
        "favorites"
    }

    fn flat_sql(&self) -> Option<&'static FlatSql> {
        Some(&SQL)
    }

    fn lookup(&self, cx: &Ctx<'_>, _dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        flat::lookup(cx, FOLDER, name)
    }

    fn list(&self, cx: &Ctx<'_>, _dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        flat::list(cx, FOLDER, cookie)
    }

    fn membership(&self, _dir: Node) -> Option<Membership> {
        Some(Membership::Favorite)
    }
}
