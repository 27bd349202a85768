//! `tags/`: one folder per tag, holding every entry that carries it (a flat view: see `flat`).
//!
//! Changes: `mkdir tags/T` creates tag T, `rmdir tags/T` deletes it (only when nothing carries it),
//! `mv tags/T tags/U` renames it; an entry linked, moved or symlinked into `tags/T` is tagged T, and removed from it
//! (rm, rmdir of a folder it lists, mv to another view) is untagged. A tag folder's `user.spacefs.color` is the
//! tag's colour.
//!
//! Other devices' files carrying a tag (`crate::sync`) are listed too (see `flat`).

use super::{Ctx, FlatView, Listed, Node, NodeKind, PAGE, View, ViewId, flat, not_supported, text};
use crate::error::{Error, Result};
use crate::library::write::Membership;
use crate::library::{FlatSql, ForeignView, TagId};
use crate::names::TagName;
use crate::xattr;

pub const ID: ViewId = ViewId(1);
const TOP: Node = Node::Top(ID);

static SQL: FlatSql = FlatSql {
    membership: "CROSS JOIN metadata_tag {v} ON {v}.metadata_id = {e}.metadata_id AND {v}.tag_id = ?1 \
                 JOIN user_metadata {m} ON {m}.id = {e}.metadata_id WHERE (?2 OR {m}.hidden = 0)",
    cookie: "v.metadata_id",
    by_view: "metadata_tag v CROSS JOIN entries e ON e.metadata_id = v.metadata_id \
              JOIN user_metadata m ON m.id = v.metadata_id WHERE v.tag_id = ?1 AND (?2 OR m.hidden = 0)",
    foreign: ForeignView::Tags,
};

/// The folder of a tag.
fn folder(tag: TagId) -> Node {
    Node::Folder(ID, tag.0)
}

/// The tag a folder of this view stands for (`None` for `tags/` itself).
fn tag_of(dir: Node) -> Option<TagId> {
    match dir {
        Node::Folder(ID, id) => Some(TagId(id)),
        _ => None,
    }
}

pub struct Tags;

impl View for Tags {
    fn id(&self) -> ViewId {
        ID
    }

    fn name(&self) -> &'static str {
        "tags"
    }

    fn flat_sql(&self) -> Option<&'static FlatSql> {
        Some(&SQL)
    }

    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        match tag_of(dir) {
            Some(tag) => flat::lookup(cx, FlatView { view: ID, id: tag.0 }, name),
            None => {
                let Ok(name) = std::str::from_utf8(name) else { return Ok(None) };
                Ok(cx.reader.tag_by_name(name)?.map(|id| (folder(id), NodeKind::Dir)))
            }
        }
    }

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        match tag_of(dir) {
            Some(tag) => flat::list(cx, FlatView { view: ID, id: tag.0 }, cookie),
            None => Ok(cx
                .reader
                .tag_page(cookie as i64, PAGE)?
                .into_iter()
                .map(|(id, name)| Listed::folder(name.into_bytes(), folder(id), id.0 as u64))
                .collect()),
        }
    }

    fn exists(&self, cx: &Ctx<'_>, node: Node) -> Result<bool> {
        match tag_of(node) {
            Some(id) => cx.reader.tag_exists(id),
            None => Ok(true),
        }
    }

    fn membership(&self, dir: Node) -> Option<Membership> {
        tag_of(dir).map(Membership::Tag)
    }

    fn mkdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Node> {
        match dir {
            TOP => Ok(folder(cx.writer.create_tag(TagName::parse(text(name)?)?)?)),
            _ => Err(self.refusal()),
        }
    }

    fn rmdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<()> {
        match (dir, tag_of(cx.child(dir, name)?)) {
            (TOP, Some(tag)) => cx.writer.delete_tag(tag_name(cx, tag)?),
            _ => flat::leave(self, cx, dir, name).map(drop),
        }
    }

    fn rename(&self, cx: &Ctx<'_>, dir: Node, child: Node, to: Node, new_name: &[u8]) -> Result<Option<()>> {
        match (dir, tag_of(child), to) {
            (TOP, Some(tag), TOP) => cx.writer.move_tag(tag_name(cx, tag)?, TagName::parse(text(new_name)?)?).map(Some),
            _ => Ok(None),
        }
    }

    fn get_xattr(&self, cx: &Ctx<'_>, node: Node, name: &[u8]) -> Result<Vec<u8>> {
        let Some(tag) = tag_of(node) else { return Err(not_supported(name)) };
        if name != xattr::COLOR.as_bytes() {
            return Err(not_supported(name));
        }
        let color = cx.reader.tag(tag)?.and_then(|(_, color)| color);
        color.map(String::into_bytes).ok_or(Error::NoAttribute)
    }

    fn list_xattr(&self, cx: &Ctx<'_>, node: Node) -> Result<Vec<&'static str>> {
        let Some(tag) = tag_of(node) else { return Ok(Vec::new()) };
        let colored = cx.reader.tag(tag)?.is_some_and(|(_, color)| color.is_some());
        Ok(if colored { vec![xattr::COLOR] } else { Vec::new() })
    }

    fn set_xattr(&self, cx: &Ctx<'_>, node: Node, name: &[u8], value: Option<&[u8]>) -> Result<()> {
        let Some(tag) = tag_of(node) else { return Err(not_supported(name)) };
        if name != xattr::COLOR.as_bytes() {
            return Err(not_supported(name));
        }
        let color = match value {
            Some(value) => {
                xattr::parse_color(std::str::from_utf8(value).map_err(|_| Error::Invalid("not UTF-8".into()))?)?
            }
            None => None,
        };
        cx.writer.set_tag_color(tag_name(cx, tag)?, color)
    }
}

fn tag_name(cx: &Ctx<'_>, tag: TagId) -> Result<TagName> {
    let (name, _) = cx.reader.tag(tag)?.ok_or_else(|| Error::NotFound(String::new()))?;
    TagName::parse(&name)
}
