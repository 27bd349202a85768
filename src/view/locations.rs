//! `locations/`: each location by name, then its indexed tree exactly as on disk.

use super::{Listed, Node, NodeKind, PAGE, Place};
use crate::error::Result;
use crate::library::{Child, LocationId, Reader};

pub fn lookup_location(reader: &Reader, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    let Ok(name) = std::str::from_utf8(name) else { return Ok(None) };
    Ok(reader.location_by_name(name)?.map(|l| (Node::Location(l.id), NodeKind::Dir)))
}

pub fn list_locations(reader: &Reader, cookie: u64) -> Result<Vec<Listed>> {
    let mut locations = reader.locations()?;
    locations.sort_by_key(|l| l.id);
    Ok(locations
        .into_iter()
        .filter(|l| l.id.0 as u64 > cookie)
        .map(|l| Listed::folder(l.name.into_bytes(), Node::Location(l.id), l.id.0 as u64))
        .collect())
}

/// The location and folder path whose children `dir` shows; `None` when `dir` is not a folder that still exists.
pub fn folder_of(reader: &Reader, dir: Node) -> Result<Option<(LocationId, Vec<u8>)>> {
    Ok(match dir {
        Node::Location(id) => Some((id, Vec::new())),
        Node::Entry(id) | Node::ViewDir { entry: id, .. } => reader
            .entry_info(id)?
            .filter(|e| e.kind == crate::library::EntryKind::Dir)
            .map(|e| (e.location, e.own_path())),
        _ => None,
    })
}

pub fn lookup(reader: &Reader, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
    let Some((location, path)) = folder_of(reader, dir)? else { return Ok(None) };
    Ok(reader.folder_child(location, &path, name)?.map(|c| (Node::Entry(c.id), NodeKind::of_entry(c.kind))))
}

pub fn list(reader: &Reader, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
    let Some((location, path)) = folder_of(reader, dir)? else { return Ok(Vec::new()) };
    let children = reader.folder_children(location, &path, cookie as i64, PAGE)?;
    Ok(children
        .into_iter()
        .map(|c| {
            let (name, node) = (c.name.clone(), Node::Entry(c.id));
            listed_entry(c, name, node)
        })
        .collect())
}

/// A real child as listed under `name` (its own, or a suffixed one), with `node` deciding how it is represented.
pub fn listed_entry(c: Child, name: Vec<u8>, node: Node) -> Listed {
    Listed {
        node,
        kind: NodeKind::of_entry(c.kind),
        cookie: c.cookie as u64,
        place: Some(Place { location: c.location, relative_path: c.relative_path, name: c.name, kind: c.kind }),
        name,
    }
}
