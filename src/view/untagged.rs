//! `untagged/`: files with no tag and no label, what is left to organise (a flat view: see `flat`). It is what the
//! other views leave: nothing is added to or removed from it directly (EPERM); tagging a file takes it out.

use super::{Ctx, FlatView, Listed, Node, NodeKind, View, ViewId, flat};
use crate::error::Result;
use crate::library::{FlatSql, ForeignView};

pub const ID: ViewId = ViewId(6);
const FOLDER: FlatView = FlatView { view: ID, id: 0 };

static SQL: FlatSql = FlatSql {
    membership: "LEFT JOIN user_metadata {m} ON {m}.id = {e}.metadata_id WHERE {e}.kind = 0 AND ?1 = ?1 \
                 AND (?2 OR coalesce({m}.hidden, 0) = 0) \
                 AND NOT EXISTS (SELECT 1 FROM metadata_tag WHERE metadata_id = {e}.metadata_id) \
                 AND NOT EXISTS (SELECT 1 FROM metadata_label WHERE metadata_id = {e}.metadata_id)",
    cookie: "e.id",
    by_view: "entries e LEFT JOIN user_metadata m ON m.id = e.metadata_id WHERE e.kind = 0 AND ?1 = ?1 \
              AND (?2 OR coalesce(m.hidden, 0) = 0) \
              AND NOT EXISTS (SELECT 1 FROM metadata_tag WHERE metadata_id = e.metadata_id) \
              AND NOT EXISTS (SELECT 1 FROM metadata_label WHERE metadata_id = e.metadata_id)",
    foreign: ForeignView::None,
};

pub struct Untagged;

impl View for Untagged {
    fn id(&self) -> ViewId {
        ID
    }

    fn name(&self) -> &'static str {
        "untagged"
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
}
