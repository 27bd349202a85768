//! `duplicates/`: one folder per group of at least two distinct files whose full BLAKE3 agrees, named by size and
//! short hash; inside, one entry per real file, named after where it lives (`location∕dir∕name`, with the division
//! slash U+2215 standing for '/'). Read-only: it shows what the library found, so every change is EROFS.

use super::{Ctx, Listed, Node, NodeKind, PAGE, Place, View, ViewId, suffixed_name};
use crate::error::Result;
use crate::library::{ContentId, DupeMember, DupeSet, Reader};

pub const ID: ViewId = ViewId(4);

/// The character shown for '/' in member names.
const SLASH: &str = "\u{2215}";
/// Hex characters of the hash shown in a group's name.
const SHORT_HASH: usize = 16;

pub struct Duplicates;

impl View for Duplicates {
    fn id(&self) -> ViewId {
        ID
    }

    fn name(&self) -> &'static str {
        "duplicates"
    }

    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        match dir {
            Node::Top(_) => lookup_set(cx.reader, name),
            Node::Folder(_, content) => lookup_member(cx, ContentId(content), name),
            _ => Ok(None),
        }
    }

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        match dir {
            Node::Top(_) => list_sets(cx.reader, cookie),
            Node::Folder(_, content) => list_members(cx, ContentId(content), cookie),
            _ => Ok(Vec::new()),
        }
    }

    fn exists(&self, cx: &Ctx<'_>, node: Node) -> Result<bool> {
        Ok(match node {
            Node::Folder(_, id) => cx.reader.dupe_set(ContentId(id))?.is_some(),
            Node::Shown(_, id) => cx.reader.entry_info(id)?.is_some(),
            _ => true,
        })
    }

    fn read_only(&self) -> bool {
        true
    }

}

pub fn set_name(set: &DupeSet) -> Vec<u8> {
    let size = indicatif::HumanBytes(set.size.max(0) as u64).to_string().replace(' ', "");
    format!("{size}-{}", &set.full_hash[..SHORT_HASH.min(set.full_hash.len())]).into_bytes()
}

pub fn member_name(m: &DupeMember) -> Vec<u8> {
    let mut name = m.location_name.replace('/', SLASH).into_bytes();
    for part in m.relative_path.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
        name.extend_from_slice(SLASH.as_bytes());
        name.extend_from_slice(part);
    }
    name.extend_from_slice(SLASH.as_bytes());
    name.extend_from_slice(&m.name);
    if name.len() > crate::names::MAX_NAME_BYTES { suffixed_name(&m.name, m.id) } else { name }
}

fn lookup_set(reader: &Reader, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    let Ok(text) = std::str::from_utf8(name) else { return Ok(None) };
    let Some((_, hash)) = text.rsplit_once('-') else { return Ok(None) };
    if hash.len() != SHORT_HASH || !hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Ok(None);
    }
    Ok(reader
        .dupe_sets_with_prefix(hash)?
        .into_iter()
        .find(|s| set_name(s) == name)
        .map(|s| (Node::Folder(ID, s.content.0), NodeKind::Dir)))
}

fn list_sets(reader: &Reader, cookie: u64) -> Result<Vec<Listed>> {
    Ok(reader
        .dupe_set_page(cookie as i64, PAGE)?
        .into_iter()
        .map(|s| Listed::folder(set_name(&s), Node::Folder(ID, s.content.0), s.content.0 as u64))
        .collect())
}

fn lookup_member(r: &Ctx<'_>, content: ContentId, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    Ok(r.reader
        .dupe_members(content, r.show_hidden)?
        .into_iter()
        .find(|m| member_name(m) == name)
        .map(|m| (Node::Shown(ID, m.id), NodeKind::File)))
}

fn list_members(r: &Ctx<'_>, content: ContentId, cookie: u64) -> Result<Vec<Listed>> {
    Ok(r.reader
        .dupe_members(content, r.show_hidden)?
        .into_iter()
        .filter(|m| m.id.0 as u64 > cookie)
        .map(|m| Listed {
            name: member_name(&m),
            node: Node::Shown(ID, m.id),
            kind: NodeKind::File,
            cookie: m.id.0 as u64,
            place: Some(Place {
                location: m.location,
                relative_path: m.relative_path,
                name: m.name,
                kind: crate::library::EntryKind::File,
            }),
        })
        .collect())
}
