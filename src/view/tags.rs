//! `tags/`: one folder per tag, holding every entry that carries it (see `flat` for the entries).

use super::{Listed, Node, NodeKind, PAGE};
use crate::error::Result;
use crate::library::Reader;

pub fn lookup_tag(reader: &Reader, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    let Ok(name) = std::str::from_utf8(name) else { return Ok(None) };
    Ok(reader.tag_by_name(name)?.map(|id| (Node::Tag(id), NodeKind::Dir)))
}

pub fn list_tags(reader: &Reader, cookie: u64) -> Result<Vec<Listed>> {
    Ok(reader
        .tag_page(cookie as i64, PAGE)?
        .into_iter()
        .map(|(id, name)| Listed::folder(name.into_bytes(), Node::Tag(id), id.0 as u64))
        .collect())
}
