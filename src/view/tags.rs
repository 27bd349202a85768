//! `tags/`: one folder per tag, holding every entry that carries it (a flat view: see `flat`).
//!
//! Changes: `mkdir tags/T` creates tag T, `rmdir tags/T` deletes it (only when nothing carries it),
//! `mv tags/T tags/U` renames it; an entry linked, moved or symlinked into `tags/T` is tagged T, and removed from it
//! (rm, rmdir of a folder it lists, mv to another view) is untagged. A tag folder's `user.spacefs.color` is the
//! tag's colour.

use super::{Ctx, Listed, Node, NodeKind, PAGE, View, flat, not_supported, text};
use crate::error::{Error, Result};
use crate::library::write::Membership;
use crate::library::{FlatView, TagId};
use crate::names::TagName;
use crate::xattr;

pub struct Tags;

impl View for Tags {
    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        match dir {
            Node::Tag(tag) => flat::lookup(cx, FlatView::Tag(tag), name),
            _ => {
                let Ok(name) = std::str::from_utf8(name) else { return Ok(None) };
                Ok(cx.reader.tag_by_name(name)?.map(|id| (Node::Tag(id), NodeKind::Dir)))
            }
        }
    }

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        match dir {
            Node::Tag(tag) => flat::list(cx, FlatView::Tag(tag), cookie),
            _ => Ok(cx
                .reader
                .tag_page(cookie as i64, PAGE)?
                .into_iter()
                .map(|(id, name)| Listed::folder(name.into_bytes(), Node::Tag(id), id.0 as u64))
                .collect()),
        }
    }

    fn exists(&self, cx: &Ctx<'_>, node: Node) -> Result<bool> {
        match node {
            Node::Tag(id) => cx.reader.tag_exists(id),
            _ => Ok(true),
        }
    }

    fn membership(&self, dir: Node) -> Option<Membership> {
        match dir {
            Node::Tag(tag) => Some(Membership::Tag(tag)),
            _ => None,
        }
    }

    fn mkdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Node> {
        match dir {
            Node::Tags => Ok(Node::Tag(cx.writer.create_tag(TagName::parse(text(name)?)?)?)),
            _ => Err(self.refusal()),
        }
    }

    fn rmdir(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<()> {
        match (dir, cx.child(dir, name)?) {
            (Node::Tags, Node::Tag(tag)) => cx.writer.delete_tag(tag_name(cx, tag)?),
            _ => flat::leave(self, cx, dir, name).map(drop),
        }
    }

    fn rename(&self, cx: &Ctx<'_>, dir: Node, child: Node, to: Node, new_name: &[u8]) -> Result<Option<()>> {
        match (dir, child, to) {
            (Node::Tags, Node::Tag(tag), Node::Tags) => {
                cx.writer.move_tag(tag_name(cx, tag)?, TagName::parse(text(new_name)?)?).map(Some)
            }
            _ => Ok(None),
        }
    }

    fn get_xattr(&self, cx: &Ctx<'_>, node: Node, name: &[u8]) -> Result<Vec<u8>> {
        let Node::Tag(tag) = node else { return Err(not_supported(name)) };
        if name != xattr::COLOR.as_bytes() {
            return Err(not_supported(name));
        }
        let color = cx.reader.tag(tag)?.and_then(|(_, color)| color);
        color.map(String::into_bytes).ok_or(Error::NoAttribute)
    }

    fn list_xattr(&self, cx: &Ctx<'_>, node: Node) -> Result<Vec<&'static str>> {
        let Node::Tag(tag) = node else { return Ok(Vec::new()) };
        let colored = cx.reader.tag(tag)?.is_some_and(|(_, color)| color.is_some());
        Ok(if colored { vec![xattr::COLOR] } else { Vec::new() })
    }

    fn set_xattr(&self, cx: &Ctx<'_>, node: Node, name: &[u8], value: Option<&[u8]>) -> Result<()> {
        let Node::Tag(tag) = node else { return Err(not_supported(name)) };
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
